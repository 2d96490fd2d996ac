// Package openapi checks every request against an OpenAPI 3.0 or 3.1
// document before a handler sees it: the operation, its path, query,
// header and cookie parameters, the content type and the JSON body.
// Anything the document does not describe is refused (positive
// validation, as the OWASP REST Security Cheat Sheet and ASVS V4 ask).
//
// # What it protects against
//
// Built once with [New] from the document (YAML or JSON, local $refs
// only), a [Spec] refuses, with one RFC 9457 problem listing every
// violation:
//
//   - A path that matches no operation (404) or a method the path does not
//     declare (405, with Allow). Concrete paths win over templated ones, as
//     the specification says; HEAD is served by the GET operation. Paths
//     are matched as the request names them, segment by segment after
//     percent-decoding, so "%2F" in a path parameter stays inside it; a
//     "." or ".." segment matches nothing.
//   - Path, query, header and cookie parameters that are missing, of the
//     wrong type ("abc" for an integer: type confusion) or that break
//     their schema, read with the style and explode the document gives
//     (form, spaceDelimited, pipeDelimited and deepObject in the query;
//     simple, label and matrix in the path; simple in headers; form in
//     cookies). A query parameter the operation does not declare is
//     refused unless [Config.DangerouslyAllowUnknownQuery] is set, and a
//     parameter that is not an array given twice (?id=1&id=2, parameter
//     pollution: two parsers pick different ones) is refused, as is a
//     header or cookie given twice.
//   - A body for an operation that declares none, a missing body the
//     operation requires, and a Content-Type the operation's
//     requestBody.content does not list (415). Media types are matched
//     exactly, then by range ("application/*"), and must be one field line.
//   - A body that breaks validate's strict JSON rules — size
//     ([validate.Config.MaxBodyBytes], refused with 413 from the declared
//     Content-Length before a byte is read, and cut off when a chunked body
//     grows past it), duplicate keys, invalid UTF-8, depth, values, trailing
//     data — checked first by a [validate.Decoder], never replaced by the
//     schema. Then the body's schema: a key that equals a declared property
//     only in case ("ROLE" for "role", which a Go or .NET upstream would
//     take for it), and every schema violation, each named by its JSON
//     Pointer into the body. A property marked readOnly is refused in a
//     request (mass assignment of "id" or "role"), and additionalProperties
//     is enforced as written.
//
// Violations name a JSON Pointer or a parameter and a rule; they never
// echo the submitted value, and a pointer stops before a key the client
// made up. Each refusal emits a [secevent] input_validation_fail event.
//
// # Which library, and why
//
// The document is parsed, its $refs resolved (recursive ones included)
// and the document itself checked with github.com/getkin/kin-openapi's
// openapi3 package, which reads 3.0 and 3.1, records where each element
// was written, and refuses external $refs unless told otherwise. Schemas
// are compiled once, in [New], with github.com/santhosh-tekuri/jsonschema/v6
// (JSON Schema 2020-12, the dialect of OpenAPI 3.1), 3.0 schemas first
// translated to it (nullable, boolean exclusiveMinimum/Maximum, no
// siblings beside $ref). Parameters and bodies are read here.
//
// A request body is then checked by a validator of this package's own,
// built in [New] from the schema jsonschema/v6 compiled (so $refs,
// formats, patterns and the 3.0 translation are the ones it resolved):
// it implements type, const, enum, format, properties, required,
// additionalProperties, items, prefixItems, the length, count and range
// keywords, multipleOf, uniqueItems, allOf, anyOf, oneOf, not and local
// $refs, recursive ones included, comparing numbers exactly on their
// decimal text, and reports the same violations as jsonschema/v6 would.
// A body schema that uses any other keyword (if/then/else,
// patternProperties, unevaluatedProperties, dependentRequired, $dynamicRef,
// …) is checked by jsonschema/v6 itself, as is a number whose exponent is
// out of math/big's range; responses use the same two, and parameters
// jsonschema/v6 alone. jsonschema/v6 allocates a validator state per
// subschema and a big.Rat per number compared, which made it most of a
// request's cost; FuzzCompiledMatchesJSONSchema holds the two to the same
// answers.
//
// kin-openapi's own request filter (openapi3filter) was not used: it reads
// the whole body with io.ReadAll (its issues #846 and #1106), accepts
// duplicate and case-variant keys, takes the last of a repeated parameter,
// and, for 3.1 documents, compiles the JSON Schema again on every request.
// pb33f/libopenapi-validator (v0.16.2, on libopenapi v0.42.4) reads 3.1
// well and is maintained too, but also reads bodies whole, and brings its
// own forks of a YAML parser and of the same JSON Schema library, an XML
// converter and a second regexp engine: more weight for less control.
// Both were released in the last months; kin-openapi adds only a YAML
// parser and a JSON Pointer package to this module. kin-openapi's own 3.0
// schema validator turns every number into a float64 (integers past 2^53
// compare as rounded floats). bench/README.md has the figures: on a 1 KiB
// body this package costs about 0.8x validate's struct path and 0.6x
// openapi3filter on a 3.0 document, and is about 20x faster than
// openapi3filter on a 3.1 one.
//
// # What it does not do
//
// Bodies other than JSON are not validated: an operation whose
// requestBody.content lists only, say, multipart/form-data answers 415 to
// every body. Parameters described by content instead of schema, and
// path templates with two parameters in one segment, are refused by [New].
// Authentication and authorization are not checked here: the document's
// security requirements are exposed by [Spec.Operations] for the
// middleware that does (the gateway maps them onto auth). Response
// checking, when enabled ([Config.Responses]), buffers the response and
// is meant for tests and staging.
//
// # Where it sits
//
// Build one [Spec] at start-up and put [Spec.Handler] innermost, around
// the application's router, after authentication and rate limiting, so
// that unauthenticated floods are refused before their bodies are read.
// The handler sees the body that was checked, and can find the operation
// with [OperationFromContext].
package openapi
