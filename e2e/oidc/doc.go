// Package oidc proves auth/jwt against a real OpenID provider: zitadel's
// OP (github.com/zitadel/oidc/v3) runs in-process on loopback, issues JWT
// access tokens by the client-credentials grant, and rotates its signing
// key while an API protected by bulwark keeps serving. It is its own
// module so that the provider stays out of the library's go.mod.
package oidc
