package jsonstr_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/internal/jsonstr"
)

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "<b>&</b>", "\xff\xfe", "line\nbreak\r\t", "\u2028\u2029", `"\`, "\x00\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := jsonstr.Append(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("Append(%q) = %s: not JSON: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var back string
		_ = json.Unmarshal(want, &back)
		if got != back {
			t.Fatalf("Append(%q) decodes to %q, encoding/json's to %q", s, got, back)
		}
		if strings.ContainsAny(string(b), "<>&\n\r\x7f") || strings.Contains(string(b), "\u2028") {
			t.Fatalf("Append(%q) = %s leaves a dangerous byte unescaped", s, b)
		}
	})
}
