// Package validate decodes request input strictly and checks it against
// rules before a handler sees it, answering refusals with RFC 9457
// problem+json.
//
// # What it protects against
//
// Injection, mass assignment and resource exhaustion enter through request
// bodies, and encoding/json is lenient in ways attackers use. A [Decoder]
// closes each gap before decoding:
//
//   - Content-Type must be one field line, application/json or
//     application/*+json, with no charset or charset=utf-8 (else 415): a
//     second line is refused, not ignored. A Content-Encoding other than
//     identity is refused (415) unless listed in [Config.ContentEncodings];
//     "deflate" is the zlib format of RFC 9110 section 8.4.1.2 (raw DEFLATE
//     is refused).
//   - The body is capped ([Config.MaxBodyBytes], default 1 MiB): a larger
//     Content-Length is refused with 413 before any byte is read, and
//     [http.MaxBytesReader] stops a chunked or lying body; a compressed body
//     is held to the same cap once decoded (gzip bombs). Memory follows the
//     bytes that arrive, not the length declared: the buffer starts small
//     and doubles as data comes in, so slow clients declaring 1 MiB each
//     hold a few KiB each. A read deadline is set through
//     [http.ResponseController] (slow bodies get 408).
//   - A strict pre-pass over the tokens refuses what encoding/json would
//     accept silently: duplicate keys ({"role":"user","role":"admin"} would
//     otherwise make the last one win), compared as the target decodes them
//     ("1" and "01" are one key of a map[int]T, two spellings of an address
//     one key of a map[netip.Addr]T, a TextUnmarshaler key type decides for
//     its own), keys that match a field only
//     case-insensitively ("ROLE", or "ſkip" folding to "skip"), two keys
//     of an object of no known shape (json.RawMessage, any) that differ
//     only in case (whatever decodes it later, encoding/json into a struct
//     most often, would make them one), keys that match no field (mass
//     assignment), invalid UTF-8 and unpaired surrogate
//     escapes (otherwise replaced by U+FFFD), trailing data after the
//     document, a null document, nesting deeper than [Config.MaxDepth], more
//     values than [Config.MaxValues] (a 1 MiB "[0,0,…]" decoded into any
//     costs about 44 MiB), objects wider than [Config.MaxObjectKeys] and
//     strings longer than [Config.MaxStringBytes]. All of these answer 400.
//   - Struct types with their own UnmarshalJSON are held to their fields
//     like any other when their JSON is an object, since the usual method
//     decodes into those fields with encoding/json's leniency (it would
//     take "ROLE" for "role" and drop unknown keys). A type whose object
//     keys differ from its fields, and whose method checks them itself, is
//     exempted by name in [Config.DangerouslyTrustUnmarshalers]; its objects
//     are then checked only for duplicate keys, UTF-8, depth and size. Other
//     types with their own methods (json.RawMessage, a map type) decide
//     their JSON alone, under those same checks.
//   - The document is then decoded into T with unknown fields rejected and
//     numbers bound for interface values kept exact as [encoding/json.Number].
//   - Rules from go-playground/validator struct tags run next (422 on
//     failure). One validator is built per [Validator] and reused; errors
//     name fields by their JSON Pointer ("/items/0/qty"), never by Go name;
//     tags are checked when the [Decoder] is built, so a typo is an error at
//     start-up rather than a panic on the first request. "required" means
//     present in the body: a present false, 0 or "" satisfies it and is then
//     checked against the field's other rules, where go-playground/validator
//     alone would report it missing. Rules that compare fields (eqfield,
//     gtfield, required_with, …) name the other field by its JSON Pointer
//     too ("must equal /password"). Custom rules are registered through
//     [Config.Rules].
//
// Every refusal is an [*InputError] wrapping one of the package's sentinels
// (ErrDuplicateKey, ErrTooLarge, …). The default error handler writes its
// problem details: the status, a fixed detail and an "errors" member listing
// for each field a JSON Pointer, the rule and a fixed message — never the
// submitted value, and never a key the client made up (pointers stop at the
// enclosing object). Each refusal also emits a [secevent] input_validation_fail
// event carrying the status and the pointers.
//
// [NewQueryDecoder] does the same for query and path parameters (path
// parameters through [http.Request.PathValue], the std mux's {name}
// patterns): unknown or repeated parameters, invalid UTF-8 and unparsable
// values are refused with 400, rule failures with 422.
//
// # What it does not do
//
// Strict decoding proves that input has the shape and range the handler
// expects; it does not make a string safe to splice into another language.
// Injection is stopped where data meets an interpreter:
//
//   - SQL: pass values as query arguments ("… WHERE id = $1", id), never
//     by building the statement with fmt.Sprintf or "+". A value that passed
//     every rule here can still be "x' OR '1'='1". Identifiers that must vary
//     (a sort column) come from a fixed allow-list (an "oneof" rule and a
//     switch to constant strings), never from the input itself.
//   - HTML: render with html/template, which escapes by context; never write
//     input into a page with fmt.Fprintf.
//   - Shell, LDAP, paths: use exec.Command with separate arguments (no
//     "sh -c"), the directory's escaping, [os.Root] or filepath.IsLocal.
//   - Output: write JSON with encoding/json and the right Content-Type;
//     problem responses never echo input.
//
// The example for [Decoder.Handler] with database/sql shows a handler
// that does this right.
//
// The sub-package validate/openapi applies these same strict rules, then
// an OpenAPI 3.0 or 3.1 document: operations, parameters, content types
// and body schemas, without restating them as Go types.
//
// # Where it sits
//
// Build one [Validator] with [New] at start-up and one [Decoder] (or
// [JSON] / [Query] handler) per route type. It sits innermost, around the
// handler, after authentication and rate limiting, so that unauthenticated
// floods are refused before their bodies are read. It works with any
// router: std [http.ServeMux], chi and gorilla/mux handlers are plain
// [http.Handler]s.
package validate
