package probe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/canonical"
)

// The stand-in is a small API written for these tests: secure with no
// flaws, and with each flaw deliberately vulnerable to exactly one check,
// so that every check is shown to fail where it should and pass where it
// should.

type flaws map[string]bool

// env is what the stand-in and the probe share: the identity provider's
// key, its JWKS, the valid credentials.
type env struct {
	idp    *ecdsa.PrivateKey
	pubPEM []byte
	jwks   *httptest.Server
	token  string
	apiKey string
	origin string
}

const testIssuer = "https://idp.test"

func newEnv(t testing.TB) *env {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	e := &env{idp: k, pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		apiKey: "bwk_live_" + strings.Repeat("Q7", 16), origin: "https://app.example.com"}
	xy, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	jwk := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":%q,"y":%q}]}`,
		b64.EncodeToString(xy[1:33]), b64.EncodeToString(xy[33:]))
	e.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, jwk)
	}))
	t.Cleanup(e.jwks.Close)
	sign, _ := signer(k, "ES256")
	claims := fmt.Sprintf(`{"iss":%q,"aud":"api","sub":"alice","iat":%d,"exp":%d}`, testIssuer, time.Now().Unix(), time.Now().Add(time.Hour).Unix())
	e.token = compact(`{"alg":"ES256","typ":"at+jwt","kid":"k1"}`, claims, sign)
	return e
}

// options is everything the probe can be told about the stand-in.
func (e *env) options() Options {
	return Options{Protected: []string{"/v1/"}, Public: []string{"/public/"}, Token: e.token, APIKey: e.apiKey,
		AllowedOrigin: e.origin, Issuer: testIssuer, JWKSURL: e.jwks.URL, SigningKey: e.idp, SigningKeyID: "k1",
		SigningAlg: "ES256", Audience: "api", JSONPath: "/v1/echo"}
}

type standIn struct {
	e     *env
	f     flaws
	canon *canonical.Canonicalizer

	mu      sync.Mutex
	buckets map[string]float64 // tokens left
	last    map[string]time.Time
}

func newStandIn(t testing.TB, e *env, f flaws) http.Handler {
	c, err := canonical.New(canonical.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &standIn{e: e, f: f, canon: c, buckets: map[string]float64{}, last: map[string]time.Time{}}
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, h := s.f, w.Header()
	if !f["headers.nosniff"] {
		h.Set("X-Content-Type-Options", "nosniff")
	}
	if !f["headers.framing"] {
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	}
	if f["headers.fingerprint"] {
		h.Set("Server", "nginx/1.22.1")
		h.Set("X-Powered-By", "Express")
	}
	if r.TLS != nil && !f["headers.hsts"] {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if len(r.TransferEncoding) > 0 && !f["smuggling.keep-alive"] {
		h.Set("Connection", "close")
	}
	if f["spoof.method-override"] {
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
			r.Method = m
		}
	}
	if f["spoof.url-override"] {
		if u := r.Header.Get("X-Original-URL"); u != "" {
			r.URL.Path = u
		}
	}

	// Which path: the canonical one, or (flawed) one for authorization
	// and another for routing.
	authPath, routePath := r.URL.Path, ""
	switch {
	case f["path.dot-segment-bypass"]:
		authPath = r.URL.EscapedPath()
		p, _ := url.PathUnescape(strings.ReplaceAll(r.URL.EscapedPath(), "%252e", "%2e"))
		routePath = path.Clean(strings.ReplaceAll(strings.ReplaceAll(p, "\\", "/"), ";", ""))
	case f["path.case-and-slash-bypass"]:
		routePath = strings.ToLower(path.Clean(r.URL.Path))
	default:
		r2, err := s.canon.RequestPath(r)
		if err != nil {
			s.problem(w, http.StatusBadRequest, "path not canonical")
			return
		}
		r = r2
		authPath, routePath = r.URL.Path, r.URL.Path
	}

	if o := r.Header.Get("Origin"); o != "" && s.cors(w, r, o) {
		return
	}
	if !s.limit(w, r) {
		return
	}

	subject := ""
	if f["spoof.identity-header"] {
		subject = r.Header.Get("X-Forwarded-User")
	} else {
		for _, n := range identityHeaders {
			r.Header.Del(n)
		}
		for k := range r.Header {
			if strings.Contains(k, "_") {
				delete(r.Header, k)
			}
		}
	}
	if strings.HasPrefix(authPath, "/v1/") && subject == "" && !f["authn.required"] {
		sub, status := s.authenticate(r)
		if status != 0 {
			if status == http.StatusUnauthorized && !f["authn.challenge"] {
				h.Set("WWW-Authenticate", `Bearer realm="api"`)
			}
			if f["authn.challenge"] {
				status = http.StatusForbidden
			}
			s.problem(w, status, "unauthorized")
			return
		}
		subject = sub
	}
	if strings.HasPrefix(authPath, "/v1/") && !f["headers.cache-control"] {
		h.Set("Cache-Control", "private, no-store")
	}
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost && r.Method != http.MethodOptions:
		s.problem(w, http.StatusMethodNotAllowed, "method not allowed")
	case routePath == "/v1/echo" && r.Method == http.MethodPost:
		s.echo(w, r)
	case strings.HasPrefix(routePath, "/v1/") || strings.HasPrefix(routePath, "/public/"):
		h.Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"path": routePath, "subject": subject, "upstream_saw": r.Header.Get("X-Bulwark-Subject")})
	default:
		s.notFound(w)
	}
}

func (s *standIn) problem(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d}`, title, status)
}

func (s *standIn) notFound(w http.ResponseWriter) {
	body := `{"title":"not found"}`
	switch {
	case s.f["leak.error-details"]:
		body = "panic: runtime error: index out of range\n\ngoroutine 7 [running]:\nmain.handler()\n\t/src/api/main.go:42"
	case s.f["leak.internal-address"]:
		body = `{"title":"not found","detail":"upstream 10.0.3.7:8080 has no such route"}`
	case s.f["leak.version-in-body"]:
		body = "<html><body><h1>404 Not Found</h1><hr><center>nginx/1.22.1</center></body></html>"
	}
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, body)
}

// cors answers the CORS part; it reports whether the request was a
// preflight, answered.
func (s *standIn) cors(w http.ResponseWriter, r *http.Request, origin string) bool {
	f, allowed := s.f, false
	u, _ := url.Parse(s.e.origin)
	switch {
	case f["cors.arbitrary-origin"] || f["cors.credentials-reflection"]:
		allowed = true
	case f["cors.null-origin"] && origin == "null":
		allowed = true
	case f["cors.suffix-match"]:
		allowed = strings.HasPrefix(origin, s.e.origin)
	case f["cors.prefix-match"]:
		allowed = strings.HasSuffix(origin, u.Host)
	case f["cors.scheme-downgrade"]:
		allowed = strings.TrimPrefix(strings.TrimPrefix(origin, "http://"), "https://") == u.Host
	default:
		allowed = origin == s.e.origin
	}
	if allowed {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
		if f["cors.credentials-reflection"] || origin == s.e.origin {
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	if allowed {
		if f["cors.preflight-header-dos"] {
			w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
		} else {
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// limit is a token bucket per client: 100, refilled at 50/s.
func (s *standIn) limit(w http.ResponseWriter, r *http.Request) bool {
	if s.f["ratelimit.signalled"] {
		return true
	}
	key := r.RemoteAddr
	if s.f["ratelimit.client-ip-spoofing"] {
		if x := r.Header.Get("X-Forwarded-For"); x != "" {
			key = x
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	left, ok := s.buckets[key]
	if !ok {
		left = 100
	}
	left = min(100, left+50*now.Sub(s.last[key]).Seconds())
	s.last[key] = now
	if left < 1 {
		w.Header().Set("Retry-After", "1")
		s.buckets[key] = left
		s.problem(w, http.StatusTooManyRequests, "too many requests")
		return false
	}
	s.buckets[key] = left - 1
	w.Header().Set("RateLimit", fmt.Sprintf(`"ip";r=%d;t=1`, int(left-1)))
	return true
}

// authenticate returns the subject, or the status of the refusal.
func (s *standIn) authenticate(r *http.Request) (string, int) {
	f := s.f
	if f["apikey.query-string"] {
		if k := r.URL.Query().Get("api_key"); k == s.e.apiKey {
			return "key", 0
		}
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		if s.keyMatches(k) {
			return "key", 0
		}
		return "", http.StatusUnauthorized
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", http.StatusUnauthorized
	}
	if len(tok) > 8<<10 {
		if f["jwt.oversize"] {
			return "", http.StatusInternalServerError
		}
		return "", http.StatusUnauthorized
	}
	sub, err := s.verify(tok)
	if err != nil {
		return "", http.StatusUnauthorized
	}
	return sub, 0
}

func (s *standIn) keyMatches(k string) bool {
	want, f := s.e.apiKey, s.f
	switch {
	case f["apikey.truncated"] && len(k) > 10 && strings.HasPrefix(want, k):
		return true
	case f["apikey.extended"] && strings.HasPrefix(k, want):
		return true
	case f["apikey.altered"] && len(k) == len(want) && k[:len(k)-1] == want[:len(want)-1]:
		return true
	case f["apikey.other-prefix"] && strings.TrimPrefix(strings.TrimPrefix(k, "bwk_test_"), "bwk_live_") == strings.TrimPrefix(want, "bwk_live_"):
		return true
	}
	return subtle.ConstantTimeCompare([]byte(k), []byte(want)) == 1
}

// verify is a JWT verifier with every rule a flaw can turn off.
func (s *standIn) verify(tok string) (string, error) {
	f := s.f
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("not a JWS")
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", fmt.Errorf("encoding")
	}
	var hdr struct {
		Alg, Typ, Kid, Jku, X5u string
		Jwk                     json.RawMessage
		X5c                     []string
		Crit                    []string
	}
	if json.Unmarshal(hb, &hdr) != nil {
		return "", fmt.Errorf("header")
	}
	in := []byte(parts[0] + "." + parts[1])
	ok := false
	switch {
	case f["jwt.alg-none"] && strings.EqualFold(hdr.Alg, "none"):
		ok = true
	case f["jwt.key-confusion"] && hdr.Alg == "HS256" && hmac.Equal(sig, hs256(s.e.pubPEM)(in)):
		ok = true
	case f["jwt.kid-injection"] && hdr.Alg == "HS256" && strings.Contains(hdr.Kid, "../") && hmac.Equal(sig, hs256(nil)(in)):
		ok = true
	case f["jwt.jku"] && hdr.Jku != "":
		if res, err := http.Get(hdr.Jku); err == nil { // #nosec G107 -- the vulnerability under test
			res.Body.Close()
		}
		ok = true
	case f["jwt.x5u"] && hdr.X5u != "":
		if res, err := http.Get(hdr.X5u); err == nil { // #nosec G107 -- the vulnerability under test
			res.Body.Close()
		}
		ok = true
	case f["jwt.embedded-jwk"] && hdr.Alg == "EdDSA" && len(hdr.Jwk) > 0:
		var k struct{ X string }
		_ = json.Unmarshal(hdr.Jwk, &k)
		x, _ := b64.DecodeString(k.X)
		ok = len(x) == ed25519.PublicKeySize && ed25519.Verify(x, in, sig)
	case f["jwt.x5c"] && len(hdr.X5c) > 0:
		der, _ := base64.StdEncoding.DecodeString(hdr.X5c[0])
		if c, err := x509.ParseCertificate(der); err == nil {
			if pub, isEC := c.PublicKey.(*ecdsa.PublicKey); isEC {
				ok = verifyES256(pub, in, sig)
			}
		}
	case hdr.Alg == "ES256":
		ok = f["jwt.tampered"] || verifyES256(&s.e.idp.PublicKey, in, sig)
	}
	if !ok {
		return "", fmt.Errorf("signature")
	}
	if len(hdr.Crit) > 0 && !f["jwt.crit"] {
		return "", fmt.Errorf("crit")
	}
	if hdr.Typ != "at+jwt" && !f["jwt.typ"] {
		return "", fmt.Errorf("typ")
	}
	if err := strictMembers(pb, !f["jwt.duplicate-claims"], !f["jwt.case-variant-claims"]); err != nil {
		return "", err
	}
	var c struct {
		Iss, Aud, Sub string
		Exp, Nbf, Iat int64
	}
	if json.Unmarshal(pb, &c) != nil {
		return "", fmt.Errorf("claims")
	}
	now := time.Now().Unix()
	switch {
	case c.Iss != testIssuer || c.Aud != "api":
		return "", fmt.Errorf("iss/aud")
	case c.Exp < now && !f["jwt.expired"]:
		return "", fmt.Errorf("expired")
	case (c.Nbf > now+60 || c.Iat > now+60) && !f["jwt.not-yet-valid"]:
		return "", fmt.Errorf("not yet valid")
	}
	return c.Sub, nil
}

func verifyES256(pub *ecdsa.PublicKey, in, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(in)
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// strictMembers refuses duplicate (and case-variant) member names at the
// top level of a JSON object.
func strictMembers(b []byte, dups, cases bool) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("not an object")
	}
	seen, folded := map[string]bool{}, map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		k, _ := t.(string)
		if dups && seen[k] {
			return fmt.Errorf("duplicate %q", k)
		}
		if cases && !seen[k] && folded[strings.ToLower(k)] {
			return fmt.Errorf("case variant %q", k)
		}
		seen[k], folded[strings.ToLower(k)] = true, true
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// echo is the JSON endpoint, with the input rules flaws turn off.
func (s *standIn) echo(w http.ResponseWriter, r *http.Request) {
	f := s.f
	if ct := r.Header.Get("Content-Type"); ct != "application/json" && !f["input.content-type"] {
		s.problem(w, http.StatusUnsupportedMediaType, "unsupported media type")
		return
	}
	limit := int64(64 << 10)
	if f["input.oversize-body"] {
		limit = 8 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		s.problem(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	bad := func() { s.problem(w, http.StatusBadRequest, "invalid body") }
	if !utf8.Valid(body) && !f["input.invalid-utf8"] {
		bad()
		return
	}
	if bytes.Count(body, []byte("[")) > 64 && !f["input.depth-bomb"] {
		bad()
		return
	}
	if bytes.Count(body, []byte(":")) > 1000 && !f["input.width-bomb"] {
		bad()
		return
	}
	if bytes.HasPrefix(body, []byte("[")) {
		w.WriteHeader(http.StatusOK) // flawed: a bomb accepted
		return
	}
	if err := strictMembers(body, !f["input.duplicate-keys"], !f["input.case-variant-keys"]); err != nil {
		bad()
		return
	}
	d := json.NewDecoder(bytes.NewReader(body))
	var v map[string]any
	if d.Decode(&v) != nil {
		if f["input.invalid-utf8"] {
			w.WriteHeader(http.StatusOK)
			return
		}
		bad()
		return
	}
	if _, err := d.Token(); err != io.EOF && !f["input.trailing-data"] {
		bad()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"received": v})
}
