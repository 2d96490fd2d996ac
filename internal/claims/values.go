package claims

import (
	"math"
	"strings"
	"time"
)

// maxNumericDate is the last second of the year 9999: later dates, and
// negative ones, are not token times.
const maxNumericDate = 253402300799

// NumericDate reads a NumericDate (RFC 7519 §2): seconds since the epoch,
// as the decoder returns them (float64), fractions allowed. ok is false for
// any other type, a negative value or one past the year 9999.
func NumericDate(v any) (t time.Time, ok bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f > maxNumericDate || math.IsNaN(f) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// StringList reads a member that is one string or an array of strings (aud,
// scp, roles). With split, a single string is split at spaces (as some
// providers send scp). An array holding anything but strings is refused.
func StringList(v any, split bool) ([]string, bool) {
	switch v := v.(type) {
	case string:
		if split {
			return strings.Fields(v), true
		}
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
