package tlsconf

import (
	"net/http"

	"github.com/bulwark-go/bulwark/auth"
)

// ClientCertAuthenticator authenticates requests by the client certificate
// verified during the TLS handshake (see Options.ClientCAFile). The
// principal's subject is the certificate subject's distinguished name and
// its method "mtls". A request without a verified certificate has no
// credential of this kind.
type ClientCertAuthenticator struct{}

var _ auth.Authenticator = ClientCertAuthenticator{}

// Authenticate implements auth.Authenticator.
func (ClientCertAuthenticator) Authenticate(r *http.Request) (*auth.Principal, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, auth.ErrNoCredentials
	}
	leaf := r.TLS.VerifiedChains[0][0]
	return &auth.Principal{
		Subject:   leaf.Subject.String(),
		Issuer:    leaf.Issuer.String(),
		Method:    "mtls",
		ExpiresAt: leaf.NotAfter,
	}, nil
}
