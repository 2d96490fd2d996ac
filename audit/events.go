package audit

import (
	"log/slog"

	"github.com/bulwark-go/bulwark/internal/jsonstr"
	"github.com/bulwark-go/bulwark/secevent"
)

// eventEntry is a security event as the log holds it: name, reason and
// attributes escaped, capped and redacted when it was recorded.
type eventEntry struct {
	name, reason string
	attrs        []slog.Attr
}

func (a *Auditor) entry(e secevent.Event) eventEntry {
	red := a.s.red
	ev := eventEntry{name: sanitize(e.Name, 64), reason: red.Text(e.Reason)}
	if len(e.Attrs) > 0 {
		n := min(len(e.Attrs), maxItems)
		ev.attrs = make([]slog.Attr, n)
		for i := range n {
			ev.attrs[i] = red.Attr(e.Attrs[i])
		}
	}
	return ev
}

// eventList is the events attribute: a JSON array of
// {"name","reason","attrs"} objects.
type eventList []eventEntry

// MarshalJSON encodes l as a JSON array.
func (l eventList) MarshalJSON() ([]byte, error) { return l.appendJSON(make([]byte, 0, 128)), nil }

// String is the same JSON, for text handlers.
func (l eventList) String() string { return string(l.appendJSON(nil)) }

func (l eventList) appendJSON(b []byte) []byte {
	b = append(b, '[')
	for i, e := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsonstr.Append(b, e.name)
		// reason is always present, empty or not, so that consumers can
		// rely on the member (the gateway's log contract).
		b = append(b, `,"reason":`...)
		b = jsonstr.Append(b, e.reason)
		if len(e.attrs) > 0 {
			b = append(b, `,"attrs":`...)
			b = appendValue(b, slog.GroupValue(e.attrs...))
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
