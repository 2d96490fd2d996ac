package probe

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

const (
	owaspAuthn = "API2:2023 Broken Authentication"
	owaspBFLA  = "API5:2023 Broken Function Level Authorization"
	owaspMisc  = "API8:2023 Security Misconfiguration"
	owaspSSRF  = "API7:2023 Server Side Request Forgery"
	owaspRes   = "API4:2023 Unrestricted Resource Consumption"
	owaspProp  = "API3:2023 Broken Object Property Level Authorization"
)

var jwtChecks = []*Check{
	{ID: "jwt.alg-none", Category: "jwt", Title: "unsigned token (alg none, in every spelling)", Severity: Critical, OWASP: owaspAuthn, CWE: 347,
		Sends: `tokens with alg "none", "None", "NONE", "nOnE" and no signature`, Expects: "401 for each",
		run: func(r *run) verdict {
			var toks []string
			for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
				toks = append(toks, compact(`{"alg":"`+alg+`","typ":"at+jwt"}`, r.claims(nil), nil))
			}
			return r.refuseTokens(toks...)
		}},
	{ID: "jwt.key-confusion", Category: "jwt", Title: "HS256 keyed with the issuer's public key", Severity: Critical, OWASP: owaspAuthn, CWE: 327,
		Sends: "HS256 tokens whose HMAC secret is the issuer's own public key from its JWKS (PEM, PEM without newline, DER)", Expects: "401 for each",
		run: func(r *run) verdict {
			if r.protected() == "" || (r.o.Issuer == "" && r.o.JWKSURL == "") {
				return na("needs a protected path and the issuer (or its JWKS URL)")
			}
			kids, secrets, err := r.publicKeyMaterial()
			if err != nil {
				return na("the issuer's keys could not be read: %v", err)
			}
			var toks []string
			for i, s := range secrets {
				toks = append(toks, compact(`{"alg":"HS256","typ":"at+jwt","kid":"`+kids[i]+`"}`, r.claims(nil), hs256(s)))
			}
			return r.refuseTokens(toks...)
		}},
	{ID: "jwt.kid-injection", Category: "jwt", Title: "kid with a path traversal or SQL", Severity: High, OWASP: owaspAuthn, CWE: 22,
		Sends: `HS256 tokens whose kid is "../../../../../../dev/null" (signed with an empty key) or SQL returning a known key`, Expects: "401 for each",
		run: func(r *run) verdict {
			return r.refuseTokens(
				compact(`{"alg":"HS256","typ":"at+jwt","kid":"../../../../../../../dev/null"}`, r.claims(nil), hs256(nil)),
				compact(`{"alg":"HS256","typ":"at+jwt","kid":"x' UNION SELECT 'probe'-- "}`, r.claims(nil), hs256([]byte("probe"))),
				compact(`{"alg":"HS256","typ":"at+jwt","kid":"/proc/sys/kernel/randomize_va_space"}`, r.claims(nil), hs256([]byte("2\n"))),
			)
		}},
	{ID: "jwt.jku", Category: "jwt", Title: "jku pointing at a key set the attacker controls", Severity: High, OWASP: owaspSSRF, CWE: 918,
		Sends: "a token signed by the probe's own key whose jku names a canary server on the probe's loopback", Expects: "401, and no request ever reaches the canary",
		run: func(r *run) verdict { return r.refuseWithCanary("jku", "/jwks.json") }},
	{ID: "jwt.x5u", Category: "jwt", Title: "x5u pointing at a certificate the attacker controls", Severity: High, OWASP: owaspSSRF, CWE: 918,
		Sends: "a token signed by the probe's own key whose x5u names a canary server on the probe's loopback", Expects: "401, and no request ever reaches the canary",
		run: func(r *run) verdict { return r.refuseWithCanary("x5u", "/cert.pem") }},
	{ID: "jwt.embedded-jwk", Category: "jwt", Title: "jwk header carrying the attacker's key", Severity: Critical, OWASP: owaspAuthn, CWE: 347,
		Sends: "a token signed by the probe's own key, with that key in its jwk header", Expects: "401",
		run: func(r *run) verdict {
			a := newAttacker()
			return r.refuseTokens(compact(`{"alg":"EdDSA","typ":"at+jwt","jwk":`+a.jwk+`}`, r.claims(nil), a.eddsa))
		}},
	{ID: "jwt.x5c", Category: "jwt", Title: "x5c header carrying a self-signed certificate", Severity: Critical, OWASP: owaspAuthn, CWE: 295,
		Sends: "an ES256 token signed by the probe's key, with its self-signed certificate in x5c", Expects: "401",
		run: func(r *run) verdict {
			a := newAttacker()
			hdr := `{"alg":"ES256","typ":"at+jwt","x5c":["` + base64.StdEncoding.EncodeToString(a.cert) + `"]}`
			return r.refuseTokens(compact(hdr, r.claims(nil), a.es256))
		}},
	{ID: "jwt.tampered", Category: "jwt", Title: "the given token with its claims changed or its signature removed", Severity: Critical, OWASP: owaspAuthn, CWE: 347,
		Sends: "the valid token (-token) with sub changed, and with an empty signature", Expects: "401 for both (the unchanged token: 2xx)",
		run: func(r *run) verdict {
			if r.protected() == "" || !isJWT(r.o.Token) {
				return na("needs a protected path and a JWT (-token)")
			}
			if v, ok := r.accepted(map[string]string{"Authorization": "Bearer " + r.o.Token}); !ok {
				return v
			}
			parts := strings.Split(r.o.Token, ".")
			c := claimsOf(r.o.Token)
			c["sub"] = "admin"
			payload, _ := json.Marshal(c)
			return r.refuseTokens(parts[0]+"."+b64.EncodeToString(payload)+"."+parts[2], parts[0]+"."+parts[1]+".")
		}},
	{ID: "jwt.crit", Category: "jwt", Title: "unknown critical header parameter", Severity: Medium, OWASP: owaspAuthn, CWE: 347,
		Sends: `a token signed by the issuer's key (-signing-key) with crit ["exp"]`, Expects: "401 (RFC 7515 §4.1.11)",
		run: func(r *run) verdict { return r.refuseMinted(map[string]any{"crit": []string{"exp"}}, nil) }},
	{ID: "jwt.expired", Category: "jwt", Title: "expired token", Severity: High, OWASP: owaspAuthn, CWE: 613,
		Sends: "a token signed by the issuer's key that expired an hour ago", Expects: "401",
		run: func(r *run) verdict {
			return r.refuseMinted(nil, map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()})
		}},
	{ID: "jwt.not-yet-valid", Category: "jwt", Title: "token valid only from the future (nbf, iat)", Severity: Medium, OWASP: owaspAuthn, CWE: 613,
		Sends: "tokens signed by the issuer's key with nbf an hour from now, and with iat an hour from now", Expects: "401 for both",
		run: func(r *run) verdict {
			if v := r.refuseMinted(nil, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}); v.status != Pass {
				return v
			}
			return r.refuseMinted(nil, map[string]any{"iat": time.Now().Add(time.Hour).Unix()})
		}},
	{ID: "jwt.typ", Category: "jwt", Title: "a token of another type (typ JWT, as ID tokens are)", Severity: Medium, OWASP: owaspAuthn, CWE: 345,
		Sends: "a token signed by the issuer's key with typ JWT instead of at+jwt", Expects: "401 (RFC 9068: access tokens are typ at+jwt; without the check an ID token of the same issuer is an access token)",
		run: func(r *run) verdict { return r.refuseMinted(map[string]any{"typ": "JWT"}, nil) }},
	{ID: "jwt.duplicate-claims", Category: "jwt", Title: "duplicate claims (two parsers, two subjects)", Severity: High, OWASP: owaspAuthn, CWE: 436,
		Sends: `a token signed by the issuer's key whose payload has "sub" twice`, Expects: "401 or 400",
		run: func(r *run) verdict { return r.refuseMintedRaw(`"sub":"probe","sub":"admin"`) }},
	{ID: "jwt.case-variant-claims", Category: "jwt", Title: "case-variant claims (sub and SUB)", Severity: Medium, OWASP: owaspAuthn, CWE: 436,
		Sends: `a token signed by the issuer's key whose payload has "sub" and "SUB"`, Expects: "401 or 400",
		run: func(r *run) verdict { return r.refuseMintedRaw(`"sub":"probe","SUB":"admin"`) }},
	{ID: "jwt.oversize", Category: "jwt", Title: "oversized token", Severity: Low, OWASP: owaspRes, CWE: 770,
		Sends: "a 24 KB token", Expects: "a 4xx, without a server error",
		run: func(r *run) verdict {
			a := newAttacker()
			big := `{"sub":"probe","pad":"` + strings.Repeat("A", 24<<10) + `"}`
			if r.protected() == "" {
				return na("needs a protected path (-protected)")
			}
			res, err := r.sendToken(compact(`{"alg":"EdDSA","typ":"at+jwt"}`, big, a.eddsa))
			switch {
			case err != nil:
				return errored(err)
			case res.Status >= 500:
				return fail("%s: the API failed on it", summary(res))
			case !denied(res):
				return fail("accepted: %s", summary(res))
			}
			return pass("%s", summary(res))
		}},
}

// claims is a payload for a forged token: the given token's issuer,
// audience and subject when there is one, plus extra.
func (r *run) claims(extra map[string]any) string {
	c := map[string]any{"iss": "https://issuer.invalid", "sub": "probe", "aud": "api",
		"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(), "jti": fmt.Sprintf("probe-%d", time.Now().UnixNano())}
	if r.o.Issuer != "" {
		c["iss"] = r.o.Issuer
	}
	if r.o.Audience != "" {
		c["aud"] = r.o.Audience
	}
	for _, k := range []string{"iss", "aud", "sub", "scope", "scp", "roles"} {
		if v, ok := claimsOf(r.o.Token)[k]; ok {
			c[k] = v
		}
	}
	for k, v := range extra {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// token sends tok to the protected path.
func (r *run) sendToken(tok string) (*response, error) {
	return r.do(request{Path: r.protected(), Header: map[string]string{"Authorization": "Bearer " + tok}})
}

// refuseTokens passes when every token is refused (401, 403, 400).
func (r *run) refuseTokens(toks ...string) verdict {
	if r.protected() == "" {
		return na("needs a protected path (-protected)")
	}
	if v, ok := r.guarded(); !ok {
		return v
	}
	for i, tok := range toks {
		res, err := r.sendToken(tok)
		if err != nil {
			return errored(err)
		}
		switch {
		case res.Status >= 500:
			return verdict{Errored, fmt.Sprintf("token %d of %d: %s: the API failed, so the check cannot tell", i+1, len(toks), summary(res))}
		case !denied(res):
			return fail("token %d of %d was accepted: %s", i+1, len(toks), summary(res))
		}
	}
	return pass("all %d refused", len(toks))
}

// accepted checks that the API accepts the valid credentials hdr (the
// answer is not a refusal: a 404 from behind the authentication is
// fine), so that a refusal of the forged ones means something.
func (r *run) accepted(hdr map[string]string) (verdict, bool) {
	res, err := r.do(request{Path: r.protected(), Header: hdr})
	if err != nil {
		return errored(err), false
	}
	if denied(res) {
		return verdict{Errored, "the valid credential itself is refused (" + summary(res) + "): check the options"}, false
	}
	return verdict{}, true
}

// mint signs a token with the user's key: header members replaced or
// added by hdr, claims by claims.
func (r *run) mint(hdr, claims map[string]any) (string, error) {
	sign, err := signer(r.o.SigningKey, r.o.SigningAlg)
	if err != nil {
		return "", err
	}
	h := map[string]any{"alg": r.o.SigningAlg, "typ": "at+jwt"}
	if r.o.SigningKeyID != "" {
		h["kid"] = r.o.SigningKeyID
	}
	for k, v := range hdr {
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	return compact(string(hb), r.claims(claims), sign), nil
}

// refuseMinted mints a good token (which must be accepted) and a bad one
// (which must be refused).
func (r *run) refuseMinted(hdr, claims map[string]any) verdict {
	if r.o.SigningKey == nil || r.protected() == "" {
		return na("needs the issuer's signing key (-signing-key) and a protected path")
	}
	good, err := r.mint(nil, nil)
	if err != nil {
		return errored(err)
	}
	if v, ok := r.accepted(map[string]string{"Authorization": "Bearer " + good}); !ok {
		return v
	}
	bad, err := r.mint(hdr, claims)
	if err != nil {
		return errored(err)
	}
	return r.refuseTokens(bad)
}

// refuseMintedRaw is refuseMinted with raw members spliced into the
// payload (what encoding/json cannot write: duplicates).
func (r *run) refuseMintedRaw(members string) verdict {
	if r.o.SigningKey == nil || r.protected() == "" {
		return na("needs the issuer's signing key (-signing-key) and a protected path")
	}
	good, err := r.mint(nil, nil)
	if err != nil {
		return errored(err)
	}
	if v, ok := r.accepted(map[string]string{"Authorization": "Bearer " + good}); !ok {
		return v
	}
	parts := strings.Split(good, ".")
	hdr, _ := b64.DecodeString(parts[0])
	c := claimsOf(good)
	delete(c, "sub")
	delete(c, "SUB")
	rest, _ := json.Marshal(c)
	payload := "{" + members + "," + string(rest[1:])
	sign, _ := signer(r.o.SigningKey, r.o.SigningAlg)
	return r.refuseTokens(compact(string(hdr), payload, sign))
}

// refuseWithCanary sends a token whose header param names the canary.
func (r *run) refuseWithCanary(param, path string) verdict {
	if r.protected() == "" {
		return na("needs a protected path (-protected)")
	}
	u := r.canaryURL() + path
	a := newAttacker()
	v := r.refuseTokens(compact(`{"alg":"EdDSA","typ":"at+jwt","`+param+`":"`+u+`"}`, r.claims(nil), a.eddsa))
	if n := r.canary.hits.Load(); n > 0 {
		return fail("the API fetched the %s the token named (%d request(s) to the probe's canary): server-side request forgery", param, n)
	}
	return v
}
