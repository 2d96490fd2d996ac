package forwarded_test

import (
	"testing"

	"github.com/bulwark-go/bulwark/internal/forwarded"
)

func TestWalk(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   []forwarded.Element
	}{
		{"RFC 7239 example", []string{"for=192.0.2.60;proto=http;by=203.0.113.43"},
			[]forwarded.Element{{For: "192.0.2.60", Proto: "http", By: "203.0.113.43", Valid: true}}},
		{"two elements and a quoted IPv6", []string{`for=192.0.2.43, for="[2001:db8:cafe::17]:4711"`},
			[]forwarded.Element{{For: "192.0.2.43", Valid: true}, {For: "[2001:db8:cafe::17]:4711", Valid: true}}},
		{"host and case-insensitive names", []string{"HOST=api.example.com;Proto=https"},
			[]forwarded.Element{{Host: "api.example.com", Proto: "https", Valid: true}}},
		{"two lines", []string{"for=a", "for=b"},
			[]forwarded.Element{{For: "a", Valid: true}, {For: "b", Valid: true}}},
		{"empty elements ignored", []string{" , for=a ,, ", ""},
			[]forwarded.Element{{For: "a", Valid: true}}},
		{"repeated parameter", []string{"for=a;for=b, for=c"},
			[]forwarded.Element{{}, {For: "c", Valid: true}}},
		{"unterminated quote ends its line", []string{`for="a, for=b`, "for=c"},
			[]forwarded.Element{{}, {For: "c", Valid: true}}},
		{"quoted comma does not split", []string{`for="a,b";proto=https, for=c`},
			[]forwarded.Element{{For: "a,b", Proto: "https", Valid: true}, {For: "c", Valid: true}}},
		{"quoted-pair refused", []string{`for="a\"b", for=c`},
			[]forwarded.Element{{}, {For: "c", Valid: true}}},
		{"missing value", []string{"for=, for=c"},
			[]forwarded.Element{{}, {For: "c", Valid: true}}},
		{"garbage between pairs", []string{"for=a x;proto=http, for=c"},
			[]forwarded.Element{{}, {For: "c", Valid: true}}},
		{"unknown parameter kept valid", []string{"for=a;secret=1"},
			[]forwarded.Element{{For: "a", Valid: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []forwarded.Element
			forwarded.Walk(tc.values, func(e forwarded.Element) bool {
				got = append(got, e)
				return true
			})
			if len(got) != len(tc.want) {
				t.Fatalf("Walk(%q) = %+v, want %+v", tc.values, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Walk(%q)[%d] = %+v, want %+v", tc.values, i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestLast(t *testing.T) {
	e, ok := forwarded.Last([]string{"for=a;proto=http", "for=b;proto=https"})
	if !ok || e.Proto != "https" || e.For != "b" {
		t.Errorf("Last = %+v, %v; want for=b proto=https", e, ok)
	}
	if _, ok := forwarded.Last(nil); ok {
		t.Error("Last(nil) found an element")
	}
}

func TestWalkStops(t *testing.T) {
	n := 0
	forwarded.Walk([]string{"for=a, for=b", "for=c"}, func(forwarded.Element) bool {
		n++
		return false
	})
	if n != 1 {
		t.Errorf("Walk called fn %d times after it returned false, want 1", n)
	}
}

func FuzzWalk(f *testing.F) {
	for _, s := range []string{
		"for=192.0.2.60;proto=http;by=203.0.113.43", `for="[2001:db8:cafe::17]:4711"`, `for="a,b", for=c`,
		`for="a`, "for=a;for=b", ",,,", `x="\"`, "=;=", "for=a\t;\tproto=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		forwarded.Walk([]string{s}, func(e forwarded.Element) bool {
			n++
			if !e.Valid && e != (forwarded.Element{}) {
				t.Fatalf("invalid element carries values: %+v", e)
			}
			return true
		})
		if n > len(s) {
			t.Fatalf("Walk(%q) yielded %d elements from %d bytes", s, n, len(s))
		}
	})
}
