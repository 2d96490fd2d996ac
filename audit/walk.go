package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/internal/jsonstr"
)

// Attr returns a with its key escaped and its value passed through
// [Redactor.Value].
func (r *Redactor) Attr(a slog.Attr) slog.Attr {
	return slog.Attr{Key: sanitize(a.Key, 128), Value: r.value(a.Key, a.Value, 0)}
}

// Value returns v as it may be logged under the attribute key: the whole
// value redacted when key is sensitive, and otherwise walked. Groups,
// [http.Header], [url.Values], *[url.URL], maps, slices, JSON text and
// []byte, errors, and any other value through its JSON encoding are walked
// field by field, so a secret nested at any depth (up to 8 levels, 64
// members each) is redacted. Every string is escaped and capped. The result
// holds only strings, numbers, booleans, times, durations and groups.
func (r *Redactor) Value(key string, v slog.Value) slog.Value { return r.value(key, v, 0) }

func (r *Redactor) value(key string, v slog.Value, depth int) slog.Value {
	v = v.Resolve()
	if key != "" && r.sensitive(key) {
		if v.Kind() == slog.KindString {
			return slog.StringValue(r.hide(v.String()))
		}
		return slog.StringValue(Redacted)
	}
	if depth >= maxDepth {
		return slog.StringValue("[too deep]")
	}
	switch v.Kind() {
	case slog.KindString:
		return r.text(v.String(), depth)
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, 0, min(len(g), maxItems+1))
		for i, a := range g {
			if i == maxItems {
				out = append(out, slog.Int("truncated_members", len(g)-i))
				break
			}
			out = append(out, slog.Attr{Key: sanitize(a.Key, 128), Value: r.value(a.Key, a.Value, depth+1)})
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		return r.anyValue(v.Any(), depth)
	default:
		return v
	}
}

// text is a string value: walked as JSON when it is a JSON object or
// array, else scrubbed and escaped.
func (r *Redactor) text(s string, depth int) slog.Value {
	if t := strings.TrimSpace(s); len(t) > 1 && (t[0] == '{' || t[0] == '[') && len(t) <= 1<<20 && json.Valid([]byte(t)) {
		return r.jsonText([]byte(t), depth)
	}
	return slog.StringValue(r.Text(s))
}

func (r *Redactor) jsonText(b []byte, depth int) slog.Value {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return slog.StringValue(r.Text(string(b)))
	}
	return r.jsonValue(x, depth)
}

func (r *Redactor) jsonValue(x any, depth int) slog.Value {
	if depth >= maxDepth {
		return slog.StringValue("[too deep]")
	}
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case bool:
		return slog.BoolValue(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return slog.Int64Value(i)
		}
		if f, err := x.Float64(); err == nil {
			return slog.Float64Value(f)
		}
		return slog.StringValue(r.String(x.String()))
	case string:
		return slog.StringValue(r.Text(x))
	case []any:
		out := make(list, 0, min(len(x), maxItems))
		for i, e := range x {
			if i == maxItems {
				out = append(out, slog.StringValue("[truncated]"))
				break
			}
			out = append(out, r.jsonValue(e, depth+1))
		}
		return slog.AnyValue(out)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return r.members(keys, func(k string, depth int) slog.Value { return r.jsonValue(x[k], depth) }, depth)
	}
	return slog.StringValue(r.Text(fmt.Sprint(x)))
}

// members builds a group from sorted keys, redacting sensitive ones.
func (r *Redactor) members(keys []string, val func(k string, depth int) slog.Value, depth int) slog.Value {
	out := make([]slog.Attr, 0, min(len(keys), maxItems+1))
	for i, k := range keys {
		if i == maxItems {
			out = append(out, slog.Int("truncated_members", len(keys)-i))
			break
		}
		var v slog.Value
		if r.sensitive(k) {
			v = r.value(k, val(k, depth+1), depth+1)
		} else {
			v = val(k, depth+1)
		}
		out = append(out, slog.Attr{Key: sanitize(k, 128), Value: v})
	}
	return slog.GroupValue(out...)
}

func (r *Redactor) multi(m map[string][]string, depth int) slog.Value {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return r.members(keys, func(k string, _ int) slog.Value {
		return slog.StringValue(strings.Join(m[k], ", "))
	}, depth)
}

func (r *Redactor) anyValue(x any, depth int) slog.Value {
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case list:
		return slog.AnyValue(x)
	case http.Header:
		return r.multi(x, depth)
	case url.Values:
		return r.multi(x, depth)
	case *url.URL:
		if x == nil {
			return slog.AnyValue(nil)
		}
		return slog.StringValue(r.URL(x))
	case url.URL:
		return slog.StringValue(r.URL(&x))
	case error:
		return slog.StringValue(r.Text(x.Error()))
	case json.RawMessage:
		return r.jsonText(x, depth)
	case []byte:
		if json.Valid(x) {
			return r.jsonText(x, depth)
		}
		return slog.StringValue(r.Text(string(x)))
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return r.members(keys, func(k string, depth int) slog.Value { return r.text(x[k], depth) }, depth)
	case map[string][]string:
		return r.multi(x, depth)
	case *http.Cookie:
		if x == nil {
			return slog.AnyValue(nil)
		}
		return r.cookie(x)
	case []*http.Cookie:
		out := make(list, 0, min(len(x), maxItems))
		for i, c := range x {
			if i == maxItems || c == nil {
				break
			}
			out = append(out, r.cookie(c))
		}
		return slog.AnyValue(out)
	case time.Time, time.Duration:
		return slog.AnyValue(x)
	case fmt.Stringer:
		// Fall through to JSON below when the type also marshals.
		if _, ok := x.(json.Marshaler); !ok {
			return slog.StringValue(r.Text(x.String()))
		}
	}
	b, err := json.Marshal(x)
	if err != nil {
		return slog.StringValue(r.Text(fmt.Sprint(x)))
	}
	return r.jsonText(b, depth)
}

// cookie is a cookie's name with its value hidden: every cookie value is
// treated as a credential, whatever its name.
func (r *Redactor) cookie(c *http.Cookie) slog.Value {
	return slog.GroupValue(slog.String("name", r.String(c.Name)), slog.String("value", r.hide(c.Value)))
}

// URL returns u as text with its userinfo and sensitive query parameters
// redacted, escaped and capped.
func (r *Redactor) URL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(r.hide(c.User.String()))
	}
	c.RawQuery = r.Query(c.RawQuery)
	c.ForceQuery = false
	return r.String(c.String())
}

// list is a walked slice. It marshals as a JSON array.
type list []slog.Value

// MarshalJSON encodes l as a JSON array.
func (l list) MarshalJSON() ([]byte, error) {
	return appendList(make([]byte, 0, 64), l), nil
}

func (l list) String() string { return string(appendList(nil, l)) }

func appendList(b []byte, l []slog.Value) []byte {
	b = append(b, '[')
	for i, v := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendValue(b, v)
	}
	return append(b, ']')
}

// appendValue encodes a walked value as JSON.
func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return jsonstr.Append(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if f != f || f > 1e308 || f < -1e308 {
			return jsonstr.Append(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		return jsonstr.Append(b, v.Time().UTC().Format(time.RFC3339Nano))
	case slog.KindGroup:
		b = append(b, '{')
		for i, a := range v.Group() {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, a.Key)
			b = append(b, ':')
			b = appendValue(b, a.Value)
		}
		return append(b, '}')
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
			return append(b, "null"...)
		case list:
			return appendList(b, x)
		case eventList:
			return x.appendJSON(b)
		}
	}
	return jsonstr.Append(b, v.String())
}
