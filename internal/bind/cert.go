package bind

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// maxCertHeader bounds a forwarded certificate.
const maxCertHeader = 16 << 10

var (
	errNoCert       = errors.New("certificate-bound token without a client certificate")
	errCertHeader   = errors.New("client certificate header malformed")
	errCertMismatch = errors.New("client certificate does not match the token's cnf.x5t#S256")
)

// certificate returns the DER client certificate the request was made
// with: the one a trusted proxy forwarded in the certificate header, or,
// when the header is not configured or the peer is not a trusted proxy,
// the TLS connection's own. From a trusted proxy without the header there
// is none (the connection's certificate would be the proxy's).
func (c *Checker) certificate(r *http.Request) ([]byte, error) {
	if c.certHeader != "" && c.trusted.PeerTrusted(r) {
		vals := r.Header[c.certHeader]
		switch {
		case len(vals) == 0:
			return nil, errNoCert
		case len(vals) > 1 || len(vals[0]) > maxCertHeader:
			return nil, errCertHeader
		}
		// RFC 9440 §2.2: a structured-field byte sequence, ":base64:".
		v := strings.TrimSpace(vals[0])
		if len(v) < 3 || v[0] != ':' || v[len(v)-1] != ':' {
			return nil, errCertHeader
		}
		der, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
		if err != nil || len(der) == 0 {
			return nil, errCertHeader
		}
		return der, nil
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, errNoCert
	}
	return r.TLS.PeerCertificates[0].Raw, nil
}

// checkCert checks a certificate-bound token against the request's client
// certificate (RFC 8705 §3.1).
func (c *Checker) checkCert(r *http.Request, x5t string) error {
	der, err := c.certificate(r)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(der)
	var got [43]byte
	base64.RawURLEncoding.Encode(got[:], sum[:])
	if subtle.ConstantTimeCompare(got[:], []byte(x5t)) != 1 {
		return errCertMismatch
	}
	return nil
}

// CertThumbprint returns the x5t#S256 of a DER certificate: what an
// authorization server puts in cnf to bind a token to it.
func CertThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
