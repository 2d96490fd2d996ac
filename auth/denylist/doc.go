// Package denylist refuses JWT access tokens before their exp: by jti (one
// token), by sid (a session: every token of it that carries the claim) or
// by sub (every token of a subject issued before the entry), shared by
// every instance of a fleet through a [Store], and fed by OpenID Connect
// Back-Channel Logout (the gateway's /backchannel-logout endpoint, with
// auth/jwt's VerifyLogoutToken) or by [List.Add].
//
//	list, err := denylist.New(denylist.Config{Store: store})
//	defer list.Close()
//	v, err := jwt.New(jwt.Config{Issuers: …, Revoked: list.Revoked})
//
// # How it stays fast and fleet-wide
//
// [List.Revoked] never asks the store: the whole list is held in memory
// (a few map lookups per request, none at all while it is empty) and kept
// in step in the background. Every instance reads what was added since it
// last looked when the store's channel says something was added
// (PostgreSQL LISTEN/NOTIFY, SQLite data_version, Redis pub/sub: see
// denylist/sqlstore and denylist/redisstore), and every [Config.Resync]
// (10 s) whatever it says: that is the bound while the channel is down,
// which [Config.OnWatch] reports. An entry added on one instance is refused
// there at once, and on the others within milliseconds on loopback.
//
// Until the list was read once, Revoked answers an error, which the JWT
// verifier turns into 503: a gateway that has not heard of the logouts yet
// does not accept tokens it may have been told to refuse.
//
// # What an entry denies
//
// A jti entry denies the token with that jti; a sid entry every token
// with that sid claim (access tokens carry one only if the provider puts
// it there: Keycloak does, many do not, so a logout that names only a sid
// may leave such tokens working until exp); a sub entry every token of
// the subject whose iat is not after the entry's time (and every one
// without iat), so that a new login after the logout works. Entries are
// kept until [Entry.Until], by default [Config.Retention] (24 h) after
// they were made: set it to at least the longest lifetime of the
// issuers' access tokens.
package denylist
