package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/bulwark-go/bulwark/problem"
)

// ProtectedResourceMetadata is the RFC 9728 metadata of a protected
// resource: where clients find the authorization server that issues tokens
// for it, and what it accepts.
type ProtectedResourceMetadata struct {
	// Resource is the resource identifier: an https URL without query or
	// fragment (http only for loopback hosts). Required.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuer identifiers of the authorization
	// servers whose tokens this resource accepts.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported are the scopes used by this resource.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported are how tokens may be sent. Default ["header"]:
	// bulwark reads bearer tokens from the Authorization header only unless
	// told otherwise.
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a human-readable name.
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation is a URL of developer documentation.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
}

// MetadataHandler serves a [ProtectedResourceMetadata] document.
type MetadataHandler struct {
	body []byte
	path string
	url  string
}

// NewMetadataHandler checks m and returns a handler serving it as JSON.
func NewMetadataHandler(m ProtectedResourceMetadata) (*MetadataHandler, error) {
	var errs []error
	u, err := url.Parse(m.Resource)
	switch {
	case m.Resource == "":
		errs = append(errs, &ConfigError{Field: "Resource", Reason: "required"})
	case err != nil:
		errs = append(errs, &ConfigError{Field: "Resource", Value: m.Resource, Reason: "not a URL"})
	default:
		if err := CheckURL(m.Resource); err != nil {
			errs = append(errs, &ConfigError{Field: "Resource", Value: m.Resource, Reason: err.Error()})
		}
		if u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, &ConfigError{Field: "Resource", Value: m.Resource, Reason: "must not have a query or fragment (RFC 9728 §1.2)"})
		}
	}
	for _, as := range m.AuthorizationServers {
		if err := CheckURL(as); err != nil {
			errs = append(errs, &ConfigError{Field: "AuthorizationServers", Value: as, Reason: err.Error()})
		}
	}
	for _, bm := range m.BearerMethodsSupported {
		if bm != "header" && bm != "body" && bm != "query" {
			errs = append(errs, &ConfigError{Field: "BearerMethodsSupported", Value: bm, Reason: `must be "header", "body" or "query"`})
		}
	}
	if m.ResourceDocumentation != "" {
		if err := CheckURL(m.ResourceDocumentation); err != nil {
			errs = append(errs, &ConfigError{Field: "ResourceDocumentation", Value: m.ResourceDocumentation, Reason: err.Error()})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(m.BearerMethodsSupported) == 0 {
		m.BearerMethodsSupported = []string{"header"}
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	// RFC 9728 §3.1: the well-known suffix goes between the host and the
	// resource's path.
	path := "/.well-known/oauth-protected-resource" + strings.TrimSuffix(u.EscapedPath(), "/")
	return &MetadataHandler{
		body: body,
		path: path,
		url:  u.Scheme + "://" + u.Host + path,
	}, nil
}

// Path is where the document must be served, e.g.
// "/.well-known/oauth-protected-resource" or
// "/.well-known/oauth-protected-resource/api" for a resource with a path.
func (h *MetadataHandler) Path() string { return h.path }

// URL is the document's absolute URL, for [Config.ResourceMetadata].
func (h *MetadataHandler) URL() string { return h.url }

// ServeHTTP answers GET and HEAD with the document.
func (h *MetadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		problem.Write(w, problem.MethodNotAllowed(""))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "max-age=3600")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write(h.body)
}
