package secevent_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bulwark-go/bulwark/secevent"
)

// A feature package emits; whatever recorder the stack installed (audit/ in
// production) receives.
func Example() {
	rec := secevent.RecorderFunc(func(_ context.Context, e secevent.Event) {
		fmt.Println(e.Name, e.Reason, e.Attrs)
	})
	ctx := secevent.NewContext(context.Background(), rec)

	secevent.Emit(ctx, secevent.Event{
		Name:   secevent.ExcessRateLimitExceeded,
		Reason: "policy exhausted",
		Attrs:  []slog.Attr{slog.String("policy", "burst")},
	})
	// Without a recorder nothing happens.
	secevent.Emit(context.Background(), secevent.Event{Name: secevent.AuthzFail})
	// Output: excess_rate_limit_exceeded policy exhausted [policy=burst]
}
