package duration_test

import (
	"fmt"

	"github.com/bulwark-go/bulwark/internal/duration"
)

func ExampleParse() {
	for _, s := range []string{"30d", "1.5d", "1d12h", "90s", "-1d", "1w"} {
		d, err := duration.Parse(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s, "=", d, "=", duration.Format(d))
	}
	// Output:
	// 30d = 720h0m0s = 30d
	// 1.5d = 36h0m0s = 36h0m0s
	// 1d12h = 36h0m0s = 36h0m0s
	// 90s = 1m30s = 1m30s
	// "-1d": must not be negative
	// "1w": not a duration (use e.g. 90s, 15m, 12h, 30d or 1d12h)
}
