package validate

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/bulwark-go/bulwark/problem"
)

// Defaults applied by [New] to zero-valued [Config] fields.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxDepth       = 32
	DefaultMaxValues      = 10_000
	DefaultMaxObjectKeys  = 1_000
	DefaultMaxStringBytes = 64 << 10
	DefaultReadTimeout    = 10 * time.Second
)

// Upper bounds [New] accepts; larger settings are configuration errors.
const (
	maxMaxDepth    = 1_000
	maxMaxBodySize = 1 << 30
)

// Config configures a [Validator]. The zero value is the strict default:
// 1 MiB bodies, depth 32, 10 000 values, 1 000 keys per object, 64 KiB
// strings, a 10 s body read deadline, identity content coding only.
//
// [New] copies the Config; later changes by the caller have no effect.
type Config struct {
	// MaxBodyBytes caps the request body, as sent and (when a content coding
	// is allowed) as decoded. A request declaring a larger Content-Length is
	// refused with 413 before its body is read. Memory is taken as the body
	// arrives, never ahead of it, up to this cap. Default 1 MiB; at most
	// 1 GiB.
	MaxBodyBytes int64

	// MaxDepth caps the nesting of arrays and objects. Default 32; at most 1000.
	MaxDepth int

	// MaxValues caps the number of JSON values (scalars, arrays, objects,
	// counting each element and member) in one document. It bounds the memory
	// that decoding can allocate: a 1 MiB body of "[0,0,…]" would otherwise
	// become half a million values. Default 10 000.
	MaxValues int

	// MaxObjectKeys caps the members of any one object. Default 1 000.
	MaxObjectKeys int

	// MaxStringBytes caps the length of any one string or key, measured in
	// bytes as encoded in the body (escapes included). Default 64 KiB.
	MaxStringBytes int

	// ReadTimeout is the time allowed to read the body, set as a read deadline
	// through [net/http.ResponseController] when the handler starts reading.
	// Writers that do not support deadlines (httptest.ResponseRecorder) are
	// used without one. Default 10 s.
	ReadTimeout time.Duration

	// ContentEncodings lists the content codings accepted besides identity:
	// "gzip" and "deflate" are supported, "deflate" being the zlib format
	// (RFC 9110 section 8.4.1.2; raw DEFLATE is refused with 400). Default
	// none: a request with any other Content-Encoding is refused with 415.
	// The decoded body is held to MaxBodyBytes, so a compression bomb is
	// refused with 413.
	ContentEncodings []string

	// DangerouslyTrustUnmarshalers lists struct types with their own
	// UnmarshalJSON whose JSON objects the strict pre-pass must not hold to
	// their fields, given as values (Money{}, not reflect types). By default
	// a struct type with its own UnmarshalJSON is checked like any other
	// when its JSON is an object: each key exactly one of its JSON field
	// names, no unknown or case-variant keys, since the usual method
	// decodes into those fields with encoding/json's leniency. List a type
	// here only when its method accepts other keys than its fields and is
	// strict itself: its objects are then checked only for duplicate keys,
	// UTF-8, depth and size, and its method alone decides which keys it
	// takes. Default none.
	DangerouslyTrustUnmarshalers []any

	// Rules registers custom validation rules by tag name, in addition to
	// go-playground/validator's built-in ones. A name that is empty, reserved
	// by the validator or contains ",", "|" or "=" is a configuration error.
	Rules map[string]validator.Func

	// ErrorHandler writes every refusal. Default [problem.WriteError], which
	// answers with the error's problem+json details.
	ErrorHandler problem.ErrorHandler

	// Now returns the current time, used to compute the read deadline.
	// Default [time.Now].
	Now func() time.Time
}

// ConfigError reports one invalid [Config] field or one invalid struct tag
// found by [NewDecoder] or [NewQueryDecoder].
type ConfigError struct {
	Field  string // the Config field, or the Go type whose tags are invalid
	Value  any    // the offending value
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("validate: %s = %v: %s", e.Field, e.Value, e.Reason)
}

// Problem answers a request that reached a misconfigured decoder with a
// bare 500: the details stay in the error, out of the response.
func (e *ConfigError) Problem() *problem.Details { return problem.InternalServerError("") }

// Validator holds the checked configuration and the single
// go-playground/validator instance shared by every decoder built from it.
// It is safe for concurrent use.
type Validator struct {
	maxBody   int64
	lim       limits
	timeout   time.Duration
	encodings map[string]bool
	onError   problem.ErrorHandler
	now       func() time.Time
	rules     *validator.Validate
	trusted   map[reflect.Type]bool // DangerouslyTrustUnmarshalers
	bufs      sync.Pool             // *[]byte body buffers
	decoders  sync.Map              // reflect.Type -> *cached (for DecodeJSON / DecodeQuery)
}

// New checks cfg and returns a [Validator]. Every problem found is returned,
// joined, as [*ConfigError] values.
func New(cfg Config) (*Validator, error) {
	var errs []error
	bad := func(field string, value any, reason string) {
		errs = append(errs, &ConfigError{Field: field, Value: value, Reason: reason})
	}
	v := &Validator{
		maxBody: orDefault64(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		lim: limits{
			depth:  orDefault(cfg.MaxDepth, DefaultMaxDepth),
			values: orDefault(cfg.MaxValues, DefaultMaxValues),
			keys:   orDefault(cfg.MaxObjectKeys, DefaultMaxObjectKeys),
			str:    orDefault(cfg.MaxStringBytes, DefaultMaxStringBytes),
		},
		timeout:   cfg.ReadTimeout,
		encodings: map[string]bool{},
		onError:   problem.Or(cfg.ErrorHandler),
		now:       cfg.Now,
	}
	if cfg.MaxBodyBytes < 0 || cfg.MaxBodyBytes > maxMaxBodySize {
		bad("MaxBodyBytes", cfg.MaxBodyBytes, "must be between 0 (default 1 MiB) and 1 GiB")
	}
	if cfg.MaxDepth < 0 || cfg.MaxDepth > maxMaxDepth {
		bad("MaxDepth", cfg.MaxDepth, "must be between 0 (default 32) and 1000")
	}
	if cfg.MaxValues < 0 {
		bad("MaxValues", cfg.MaxValues, "must not be negative")
	}
	if cfg.MaxObjectKeys < 0 {
		bad("MaxObjectKeys", cfg.MaxObjectKeys, "must not be negative")
	}
	if cfg.MaxStringBytes < 0 {
		bad("MaxStringBytes", cfg.MaxStringBytes, "must not be negative")
	}
	if cfg.ReadTimeout < 0 {
		bad("ReadTimeout", cfg.ReadTimeout, "must not be negative")
	}
	if v.timeout == 0 {
		v.timeout = DefaultReadTimeout
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, enc := range cfg.ContentEncodings {
		switch e := strings.ToLower(strings.TrimSpace(enc)); e {
		case "gzip", "deflate":
			v.encodings[e] = true
		default:
			bad("ContentEncodings", enc, `unsupported content coding; want "gzip" or "deflate"`)
		}
	}
	for i, x := range cfg.DangerouslyTrustUnmarshalers {
		t := reflect.TypeOf(x)
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		field := fmt.Sprintf("DangerouslyTrustUnmarshalers[%d]", i)
		switch {
		case t == nil:
			bad(field, x, "is nil; give a value of the type, such as Money{}")
		case t.Kind() != reflect.Struct || !reflect.PointerTo(t).Implements(jsonUnmarshalerType):
			bad(field, t.String(), "is not a struct type with its own UnmarshalJSON: nothing to trust")
		default:
			if v.trusted == nil {
				v.trusted = map[reflect.Type]bool{}
			}
			v.trusted[t] = true
		}
	}

	v.rules = validator.New(validator.WithRequiredStructEnabled())
	v.rules.RegisterTagNameFunc(jsonName)
	for name, fn := range cfg.Rules {
		if err := registerRule(v.rules, name, fn); err != nil {
			bad("Rules", name, err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return v, nil
}

// registerRule adds a custom rule, turning the validator's panics on
// reserved names into errors.
func registerRule(val *validator.Validate, name string, fn validator.Func) (err error) {
	if name == "" || strings.ContainsAny(name, ",|=") {
		return errors.New(`rule name must be non-empty and contain no ",", "|" or "="`)
	}
	if fn == nil {
		return errors.New("rule function is nil")
	}
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("rule name is reserved by the validator")
		}
	}()
	return val.RegisterValidation(name, fn)
}

// jsonName names fields in validator errors by their JSON names.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

func orDefault64(v, d int64) int64 {
	if v <= 0 {
		return d
	}
	return v
}
