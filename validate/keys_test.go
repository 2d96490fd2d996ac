package validate_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/validate"
)

// lowerName is a map key type that folds case when decoded, as a
// TextUnmarshaler may.
type lowerName string

func (n *lowerName) UnmarshalText(b []byte) error {
	*n = lowerName(strings.ToLower(string(b)))
	return nil
}

type grantsDoc struct {
	Grants  map[int]string         `json:"grants"`
	Levels  map[uint8]string       `json:"levels"`
	Allow   map[netip.Addr]bool    `json:"allow"`
	Owners  map[lowerName]string   `json:"owners"`
	Nested  []map[int64]string     `json:"nested"`
	Labels  map[string]string      `json:"labels"`
	ByPorts map[netip.AddrPort]int `json:"by_ports"`
}

// TestDuplicateMapKeysAsTheTargetDecodesThem: two spellings of one Go map
// key are a duplicate key, however different their JSON text: "1", "01"
// and "+1" are all 1 in a map[int]string, "2001:db8::1" and
// "2001:DB8:0::1" one netip.Addr, and the last one silently won
// ({"1":"read","01":"admin"} granted admin).
func TestDuplicateMapKeysAsTheTargetDecodesThem(t *testing.T) {
	d := newDecoder[grantsDoc](t, validate.Config{})
	for _, tc := range []struct {
		body string
		want error
	}{
		{`{"grants":{"1":"read","01":"admin"}}`, validate.ErrDuplicateKey},
		{`{"grants":{"1":"read","+1":"admin"}}`, validate.ErrDuplicateKey},
		{`{"grants":{"0":"read","-0":"admin"}}`, validate.ErrDuplicateKey},
		{`{"grants":{"1":"read","\u0031":"admin"}}`, validate.ErrDuplicateKey},
		{`{"levels":{"7":"read","007":"admin"}}`, validate.ErrDuplicateKey},
		{`{"allow":{"2001:db8::1":false,"2001:DB8:0::1":true}}`, validate.ErrDuplicateKey},
		{`{"allow":{"::ffff:192.0.2.1":false,"::FFFF:192.0.2.1":true}}`, validate.ErrDuplicateKey},
		{`{"owners":{"Admin":"eve","admin":"bob"}}`, validate.ErrDuplicateKey},
		{`{"nested":[{"5":"a"},{"5":"b","05":"admin"}]}`, validate.ErrDuplicateKey},
		{`{"by_ports":{"[2001:db8::1]:443":1,"[2001:db8:0::1]:443":2}}`, validate.ErrDuplicateKey},
		// Distinct keys, and keys that only look alike, are fine.
		{`{"grants":{"1":"read","10":"write","-1":"none"}}`, nil},
		{`{"allow":{"2001:db8::1":true,"2001:db8::2":false,"192.0.2.1":true,"::ffff:192.0.2.1":true}}`, nil},
		{`{"owners":{"admin":"bob","root":"eve"}}`, nil},
		{`{"labels":{"a":"1","A":"2"}}`, nil},
		{`{"nested":[{"5":"a"},{"5":"b"}]}`, nil},
	} {
		t.Run(tc.body, func(t *testing.T) {
			got, err := d.DecodeBytes([]byte(tc.body))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("DecodeBytes(%s) = %v, want it accepted", tc.body, err)
				}
				return
			}
			if !errorsIs(err, tc.want) {
				t.Fatalf("DecodeBytes(%s) = %+v, %v; want %v", tc.body, got, err, tc.want)
			}
			var ie *validate.InputError
			if errorsAs(err, &ie) {
				for _, f := range ie.Fields {
					if strings.Contains(f.Pointer, "admin") || strings.Contains(f.Pointer, "db8") {
						t.Errorf("pointer %q echoes a submitted key", f.Pointer)
					}
				}
			}
		})
	}
}

// roleClaim decodes itself, the usual way: into a type without the method.
// Strictness that stopped at its door was an open door: {"ROLE":"admin"}
// filled Role and unknown keys vanished.
type roleClaim struct {
	Role string `json:"role" validate:"omitempty,oneof=user viewer"`
	Name string `json:"name"`
}

func (c *roleClaim) UnmarshalJSON(b []byte) error {
	type plain roleClaim
	return json.Unmarshal(b, (*plain)(c))
}

type claimsDoc struct {
	User   roleClaim   `json:"user"`
	Admins []roleClaim `json:"admins"`
	Owner  *roleClaim  `json:"owner"`
}

// TestCustomUnmarshalerObjectsHeldToTheirFields: a struct type with its
// own UnmarshalJSON is held to its fields like any other when its JSON is
// an object (the case variant "ROLE", an unknown key); its method still
// decodes it.
func TestCustomUnmarshalerObjectsHeldToTheirFields(t *testing.T) {
	d := newDecoder[claimsDoc](t, validate.Config{})
	for _, tc := range []struct {
		body string
		want error
	}{
		{`{"user":{"ROLE":"admin","unknown":1}}`, validate.ErrCaseVariantKey},
		{`{"user":{"name":"x","unknown":1}}`, validate.ErrUnknownField},
		{`{"user":{"Role":"admin"}}`, validate.ErrCaseVariantKey},
		{`{"admins":[{"role":"user"},{"ROLE":"admin"}]}`, validate.ErrCaseVariantKey},
		{`{"owner":{"ſole":"admin"}}`, validate.ErrUnknownField},
		{`{"owner":{"rol\u0065":"user","role":"admin"}}`, validate.ErrDuplicateKey},
		{`{"user":{"role":"admin"}}`, validate.ErrRules},
		{`{"user":{"role":"user","name":"zqx"},"admins":[{"role":"viewer"}],"owner":{"name":"o"}}`, nil},
	} {
		t.Run(tc.body, func(t *testing.T) {
			got, err := d.DecodeBytes([]byte(tc.body))
			if tc.want == nil {
				if err != nil || got.User.Role != "user" || got.Owner == nil || got.Owner.Name != "o" {
					t.Fatalf("DecodeBytes(%s) = %+v, %v; want it decoded", tc.body, got, err)
				}
				return
			}
			if !errorsIs(err, tc.want) {
				t.Fatalf("DecodeBytes(%s) = %+v, %v; want %v", tc.body, got, err, tc.want)
			}
		})
	}
	if got := fieldRules(mustErr(d.DecodeBytes([]byte(`{"user":{"role":"admin"}}`)))); got != "/user/role=oneof" {
		t.Errorf("rule failure inside the custom type: %q, want /user/role=oneof", got)
	}
}

func mustErr[T any](_ T, err error) error { return err }

// geoPoint accepts {"lat":…,"lng":…} into fields named otherwise: its JSON
// keys are not its fields, and its method checks them itself.
type geoPoint struct {
	Latitude, Longitude float64
}

func (p *geoPoint) UnmarshalJSON(b []byte) error {
	var raw struct {
		Lat float64 `json:"lat"`
		Lng float64 `json:"lng"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	p.Latitude, p.Longitude = raw.Lat, raw.Lng
	return nil
}

type placeDoc struct {
	At geoPoint `json:"at"`
}

// TestDangerouslyTrustUnmarshalers: the named opt-out for a type whose
// JSON object has other keys than its fields. Without it, such an object
// is refused (its keys are not fields); with it, the type's own method
// decides, and the pre-pass still refuses duplicate keys. Listing a type
// that has no UnmarshalJSON of its own, or nil, is a configuration error.
func TestDangerouslyTrustUnmarshalers(t *testing.T) {
	const body = `{"at":{"lat":52.5,"lng":13.4}}`
	ds := newDecoder[placeDoc](t, validate.Config{})
	if _, err := ds.DecodeBytes([]byte(body)); !errorsIs(err, validate.ErrUnknownField) {
		t.Errorf("strict: DecodeBytes(%s) = %v, want ErrUnknownField", body, err)
	}
	dt := newDecoder[placeDoc](t, validate.Config{DangerouslyTrustUnmarshalers: []any{geoPoint{}}})
	if got, err := dt.DecodeBytes([]byte(body)); err != nil || got.At.Latitude != 52.5 {
		t.Errorf("trusted: DecodeBytes(%s) = %+v, %v; want it decoded by the type's method", body, got, err)
	}
	if _, err := dt.DecodeBytes([]byte(`{"at":{"lat":1,"lng":2,"lat":3}}`)); !errorsIs(err, validate.ErrDuplicateKey) {
		t.Errorf("trusted, duplicate key: %v, want ErrDuplicateKey", err)
	}
	if _, err := dt.DecodeBytes([]byte(`{"at":{"lat":1,"alt":2}}`)); err == nil {
		t.Error("trusted, unknown key: accepted; the type's own method refuses it")
	}

	_, err := validate.New(validate.Config{DangerouslyTrustUnmarshalers: []any{nil, account{}, 3, &geoPoint{}}})
	var fields []string
	for _, e := range unjoin(err) {
		var ce *validate.ConfigError
		if errorsAs(e, &ce) {
			fields = append(fields, ce.Field)
		}
	}
	if want := "DangerouslyTrustUnmarshalers[0] DangerouslyTrustUnmarshalers[1] DangerouslyTrustUnmarshalers[2]"; strings.Join(fields, " ") != want {
		t.Errorf("New errors for fields %v, want %s", fields, want)
	}
}
