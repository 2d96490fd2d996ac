package jwt

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
)

// Where keys may come from. A key URL is fetched from every instance, and
// the keys it returns decide which tokens are accepted: the URL, and any
// redirect on the way to it, must stay on hosts the configuration names —
// the issuer's, the configured JWKS URL's, and [Issuer.AllowedJWKSHosts] —
// and never step down from https to http.

var (
	errRedirectHops      = errors.New("jwt: too many redirects")
	errRedirectDowngrade = errors.New("jwt: redirect from https to http")
	errRedirectHost      = errors.New("jwt: redirect to a host keys may not come from (see Issuer.AllowedJWKSHosts)")
	errJWKSScheme        = errors.New("jwt: discovery jwks_uri must be https for an https issuer")
	errJWKSHost          = errors.New("jwt: discovery jwks_uri is on another host than the issuer's (see Issuer.AllowedJWKSHosts)")
)

// keyHosts is the set of hosts keys may be fetched from, as host:port.
type keyHosts map[string]bool

func newKeyHosts(issuer, jwksURL string, extra []string) keyHosts {
	h := keyHosts{}
	for _, s := range []string{issuer, jwksURL} {
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			h[hostKey(u)] = true
		}
	}
	for _, e := range extra {
		h[normalHost(e)] = true
	}
	return h
}

func (h keyHosts) allows(u *url.URL) bool { return h[hostKey(u)] }

// hostKey is u's host and port, the port made explicit, the name in lower
// case: https://IdP.example and https://idp.example:443 are one host;
// https://idp.example:8443 is another.
func hostKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// normalHost turns an AllowedJWKSHosts entry (host, or host:port) into a
// hostKey; without a port it means 443.
func normalHost(e string) string {
	if host, port, err := net.SplitHostPort(e); err == nil {
		return net.JoinHostPort(strings.ToLower(host), port)
	}
	return net.JoinHostPort(strings.ToLower(strings.Trim(e, "[]")), "443")
}

// validHostEntry checks an AllowedJWKSHosts entry.
func validHostEntry(e string) bool {
	if e == "" || strings.ContainsAny(e, "/@?#\\ ") || strings.Contains(e, "://") {
		return false
	}
	host := e
	if h, port, err := net.SplitHostPort(e); err == nil {
		if port == "" {
			return false
		}
		host = h
	}
	return host != ""
}

// checkDocumentURL checks a URL taken from the issuer's discovery document
// (jwks_uri, the only one used): acceptable to auth.CheckURL, https when
// the issuer is, and on a key host.
func checkDocumentURL(s string, issuer *url.URL, hosts keyHosts) (*url.URL, error) {
	if err := auth.CheckURL(s); err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if issuer.Scheme == "https" && u.Scheme != "https" {
		return nil, errJWKSScheme
	}
	if !hosts.allows(u) {
		return nil, errJWKSHost
	}
	return u, nil
}

// withRedirectRule returns a copy of c (a new client when c is nil) that
// follows a redirect only within the key hosts, without leaving https,
// and at most 5 times; c's own CheckRedirect, if any, is asked after.
// A caller's client keeps the rule: it cannot be lost by configuring one.
func withRedirectRule(c *http.Client, hosts keyHosts) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	inner := cc.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errRedirectHops
		}
		if err := auth.CheckURL(req.URL.String()); err != nil {
			return err
		}
		for _, prev := range via {
			if prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errRedirectDowngrade
			}
		}
		if !hosts.allows(req.URL) {
			return errRedirectHost
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	return &cc
}
