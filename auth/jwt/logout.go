package jwt

import (
	"context"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/internal/claims"
)

// LogoutEvent is the member of a logout token's events claim that makes
// it one (OIDC Back-Channel Logout 1.0 §2.4).
const LogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// MaxLogoutTokenAge is how old a logout token's iat may be: a provider
// delivers them at once, and an old one replayed from a log should not
// end sessions that began since (see [LogoutToken]).
const MaxLogoutTokenAge = 5 * time.Minute

// LogoutToken is a verified logout token: the provider ended the session
// SessionID of Subject (one of them may be empty) at IssuedAt.
type LogoutToken struct {
	Issuer    string
	Subject   string // "sub", if present
	SessionID string // "sid", if present
	JTI       string
	IssuedAt  time.Time
}

// VerifyLogoutToken verifies an OIDC Back-Channel Logout 1.0 logout token
// (§2.6) with the keys and algorithms of the issuer it names, as an ID
// token would be: a compact JWS (never a JWE); typ, when present, logout+jwt
// (or JWT, which providers send; never at+jwt, so an access token is no
// logout token); iss a configured issuer whose [Issuer.LogoutAudiences]
// is not empty, aud naming one of them; iat present, at most
// [MaxLogoutTokenAge] old and not in the future; exp, when present, not
// passed; jti present; sub, sid or both; an events claim whose
// backchannel-logout member is an object; and no nonce (which would make
// it an ID token). Errors are [*auth.CredentialError]s.
func (v *Verifier) VerifyLogoutToken(ctx context.Context, tok string) (*LogoutToken, error) {
	p, reason, err := parseToken(tok, v.maxSize)
	if err != nil {
		return nil, auth.Invalid(reason, err)
	}
	is, ok := v.issuers[p.iss]
	switch {
	case !ok:
		return nil, auth.Invalid("unknown issuer", nil)
	case len(is.logoutAud) == 0:
		return nil, auth.Invalid("issuer's logout tokens are not accepted", nil)
	case !is.algs[p.alg]:
		return nil, auth.Invalid("algorithm not allowed for issuer", nil)
	}
	if p.hasTyp && !strings.EqualFold(p.typ, "logout+jwt") && !strings.EqualFold(p.typ, "application/logout+jwt") && !strings.EqualFold(p.typ, "JWT") {
		return nil, auth.Invalid("typ is not logout+jwt", nil)
	}
	if _, err := v.checkSignature(ctx, is, p); err != nil {
		return nil, err
	}
	c := p.claims
	aud, ok := claims.StringList(c["aud"], false)
	if !ok || !anyIn(aud, is.logoutAud) {
		return nil, auth.Invalid("logout token for another client", nil)
	}
	now := v.now()
	iat, hasIat, err := numericDate(c, "iat")
	switch {
	case err != nil || !hasIat:
		return nil, auth.Invalid("logout token without a valid iat", nil)
	case now.Add(v.leeway).Before(iat):
		return nil, auth.Invalid("logout token issued in the future", nil)
	case now.Sub(iat) > MaxLogoutTokenAge+v.leeway:
		return nil, auth.Invalid("logout token too old", nil)
	}
	exp, hasExp, err := numericDate(c, "exp")
	if err != nil || (hasExp && !now.Before(exp.Add(v.leeway))) {
		return nil, auth.Invalid("logout token expired", nil)
	}
	if _, present := c["nonce"]; present {
		return nil, auth.Invalid("logout token carries a nonce", nil)
	}
	events, ok := c["events"].(map[string]any)
	if !ok {
		return nil, auth.Invalid("logout token without events", nil)
	}
	if _, ok := events[LogoutEvent].(map[string]any); !ok {
		return nil, auth.Invalid("logout token without the back-channel logout event", nil)
	}
	jti, ok := c["jti"].(string)
	if !ok || jti == "" {
		return nil, auth.Invalid("logout token without jti", nil)
	}
	lt := &LogoutToken{Issuer: is.name, JTI: jti, IssuedAt: iat}
	for _, m := range []struct {
		name string
		dst  *string
	}{{"sub", &lt.Subject}, {"sid", &lt.SessionID}} {
		if v, present := c[m.name]; present {
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, auth.Invalid("logout token with an invalid "+m.name, nil)
			}
			*m.dst = s
		}
	}
	if lt.Subject == "" && lt.SessionID == "" {
		return nil, auth.Invalid("logout token names neither sub nor sid", nil)
	}
	return lt, nil
}
