package apikey

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bulwark-go/bulwark/secevent"
)

// Lifecycle errors.
var (
	// ErrRevoked means the key was revoked.
	ErrRevoked = errors.New("apikey: key revoked")
	// ErrExpired means the key expired, or its rotation overlap ended.
	ErrExpired = errors.New("apikey: key expired")
	// ErrInvalidSpec means a [Spec] or an argument of a lifecycle call is
	// not acceptable; the wrapping error says which field.
	ErrInvalidSpec = errors.New("apikey: invalid key specification")
)

// Limits on [Spec] fields, so records stay small and printable.
const (
	maxText  = 200 // name, owner, tier, metadata keys and values
	maxList  = 64  // scopes, roles, metadata entries
	maxScope = 128 // one scope or role
	maxTries = 3   // tries on an id collision (65 random bits: never, in practice)
)

// Spec describes a key to create.
type Spec struct {
	Name     string            // what the key is for; optional
	Owner    string            // who answers for it; optional
	Scopes   []string          // OAuth 2.0 scope tokens (no spaces)
	Roles    []string          // role names (no spaces)
	Metadata map[string]string // free-form, for the application
	Tier     string            // rate-limit tier; optional

	// TTL is the key's lifetime from creation; 0 means no expiry unless
	// ExpiresAt is set. Setting both is an error.
	TTL time.Duration
	// ExpiresAt is an absolute expiry; zero means none.
	ExpiresAt time.Time
}

func (s *Spec) check() error {
	var errs []error
	bad := func(field, reason string) {
		errs = append(errs, fmt.Errorf("%w: %s %s", ErrInvalidSpec, field, reason))
	}
	for _, f := range []struct{ field, v string }{{"Name", s.Name}, {"Owner", s.Owner}, {"Tier", s.Tier}} {
		if !printable(f.v, maxText) {
			bad(f.field, "must be printable text of at most 200 bytes")
		}
	}
	for _, f := range []struct {
		field string
		l     []string
	}{{"Scopes", s.Scopes}, {"Roles", s.Roles}} {
		field, l := f.field, f.l
		if len(l) > maxList {
			bad(field, "has too many entries")
		}
		for _, v := range l {
			if !scopeToken(v) {
				bad(field, "entries must be non-empty scope tokens (RFC 6749 §3.3) of at most 128 bytes")
				break
			}
		}
	}
	if len(s.Metadata) > maxList {
		bad("Metadata", "has too many entries")
	}
	for k, v := range s.Metadata {
		if k == "" || !printable(k, maxText) || !printable(v, maxText) {
			bad("Metadata", "keys and values must be printable text of at most 200 bytes")
			break
		}
	}
	if s.TTL < 0 {
		bad("TTL", "must not be negative")
	}
	if s.TTL > 0 && !s.ExpiresAt.IsZero() {
		bad("TTL", "and ExpiresAt are exclusive")
	}
	return errors.Join(errs...)
}

func printable(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func scopeToken(s string) bool {
	if s == "" || len(s) > maxScope {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}

// Create makes a new key from spec and stores its record. The plaintext
// key is returned here and never again: show it to its owner once.
// It emits secevent.AuthnTokenCreated into ctx.
func (k *Keys) Create(ctx context.Context, spec Spec) (key string, rec Record, err error) {
	if err := spec.check(); err != nil {
		return "", Record{}, err
	}
	now := k.stamp()
	rec = Record{
		Name: spec.Name, Owner: spec.Owner, Tier: spec.Tier,
		Scopes: spec.Scopes, Roles: spec.Roles, Metadata: spec.Metadata,
		CreatedAt: now, ExpiresAt: spec.ExpiresAt.UTC().Truncate(time.Microsecond),
	}
	if spec.TTL > 0 {
		rec.ExpiresAt = now.Add(spec.TTL)
	}
	rec = rec.Clone()
	for range maxTries {
		if key, err = k.fill(&rec); err != nil {
			return "", Record{}, err
		}
		if err = k.store.Insert(ctx, rec); !errors.Is(err, ErrConflict) {
			break
		}
	}
	if err != nil {
		return "", Record{}, err
	}
	secevent.Emit(ctx, secevent.Event{Name: secevent.AuthnTokenCreated, Reason: "api key created", Attrs: keyAttrs(&rec)})
	return key, rec, nil
}

// fill generates a key and sets rec's ID, Start and Digest from it.
func (k *Keys) fill(rec *Record) (string, error) {
	key, err := generate(rand.Reader, k.prefix)
	if err != nil {
		return "", err
	}
	p, err := ParseKey(k.prefix, key)
	if err != nil {
		return "", err // unreachable: generate writes the format ParseKey reads
	}
	rec.ID, rec.Start, rec.Digest = p.ID, p.Start, k.digest.sum(key)
	return key, nil
}

// stamp is the time written into records: UTC, to the microsecond, which
// every store keeps exactly.
func (k *Keys) stamp() time.Time { return k.now().UTC().Truncate(time.Microsecond) }

// Get returns the record of key id, or an error wrapping [ErrNotFound].
func (k *Keys) Get(ctx context.Context, id string) (Record, error) { return k.store.Get(ctx, id) }

// List returns every record, oldest first.
func (k *Keys) List(ctx context.Context) ([]Record, error) { return k.store.List(ctx) }

// Rotate replaces key id with a new key of the same name, owner, scopes,
// roles, metadata, tier and lifetime. The old key keeps working for
// overlap (zero: it stops at once; never past its own expiry), then is
// refused. Rotation is atomic in the store. It fails with [ErrNotFound],
// or [ErrConflict] for a revoked or already rotated key. It emits
// secevent.AuthnTokenCreated with the replaced key's id. An error
// wrapping [ErrNotAnnounced] comes with the new key and record: the
// rotation happened, only [Config.Announce] failed.
func (k *Keys) Rotate(ctx context.Context, id string, overlap time.Duration) (key string, rec Record, err error) {
	if overlap < 0 {
		return "", Record{}, fmt.Errorf("%w: overlap must not be negative", ErrInvalidSpec)
	}
	old, err := k.store.Get(ctx, id)
	if err != nil {
		return "", Record{}, err
	}
	if !old.RevokedAt.IsZero() || old.ReplacedBy != "" {
		return "", Record{}, ErrConflict
	}
	now := k.stamp()
	rec = Record{
		Name: old.Name, Owner: old.Owner, Tier: old.Tier,
		Scopes: old.Scopes, Roles: old.Roles, Metadata: old.Metadata,
		CreatedAt: now, Replaces: old.ID,
	}
	if !old.ExpiresAt.IsZero() {
		rec.ExpiresAt = now.Add(old.ExpiresAt.Sub(old.CreatedAt))
	}
	for range maxTries {
		if key, err = k.fill(&rec); err != nil {
			return "", Record{}, err
		}
		err = k.store.Rotate(ctx, id, now.Add(overlap), rec)
		if !errors.Is(err, ErrConflict) || rec.ID == id {
			break
		}
		// A conflict is either the old key's state (checked above, but it
		// may have changed since) or a collision of the new id: look again.
		if cur, gerr := k.store.Get(ctx, id); gerr != nil || !cur.RevokedAt.IsZero() || cur.ReplacedBy != "" {
			break
		}
	}
	k.cache.forget(id)
	if err != nil {
		return "", Record{}, err
	}
	secevent.Emit(ctx, secevent.Event{Name: secevent.AuthnTokenCreated, Reason: "api key rotated",
		Attrs: append(keyAttrs(&rec), slog.String("replaces", id), slog.Time("old_valid_until", now.Add(overlap)))})
	return key, rec, k.announce(ctx, id)
}

// Revoke makes key id unusable: on this instance from the next request,
// on others as soon as their [Config.Watch] channel tells them, and at
// the latest once their cache entry ages out ([Config.CacheTTL]). It emits
// secevent.AuthnTokenRevoked. An error wrapping [ErrNotAnnounced] means
// the key is revoked but [Config.Announce] failed.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	err := k.store.Revoke(ctx, id, k.stamp())
	k.cache.forget(id)
	if err != nil {
		return err
	}
	secevent.Emit(ctx, secevent.Event{Name: secevent.AuthnTokenRevoked, Reason: "api key revoked", Attrs: []slog.Attr{slog.String("key_id", id)}})
	return k.announce(ctx, id)
}

// Expire brings key id's expiry forward to at (zero: now); a key that
// already expires sooner is unchanged. It emits secevent.AuthnTokenRevoked.
func (k *Keys) Expire(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = k.stamp()
	}
	at = at.UTC().Truncate(time.Microsecond)
	err := k.store.Expire(ctx, id, at)
	k.cache.forget(id)
	if err != nil {
		return err
	}
	secevent.Emit(ctx, secevent.Event{Name: secevent.AuthnTokenRevoked, Reason: "api key expiry set",
		Attrs: []slog.Attr{slog.String("key_id", id), slog.Time("expires_at", at)}})
	return k.announce(ctx, id)
}

// Delete removes key id's record; the key is then unknown. Prefer
// [Keys.Revoke], which keeps the record for audits and reports reuse.
// It emits secevent.AuthnTokenDelete.
func (k *Keys) Delete(ctx context.Context, id string) error {
	err := k.store.Delete(ctx, id)
	k.cache.forget(id)
	if err != nil {
		return err
	}
	secevent.Emit(ctx, secevent.Event{Name: secevent.AuthnTokenDelete, Reason: "api key deleted", Attrs: []slog.Attr{slog.String("key_id", id)}})
	return k.announce(ctx, id)
}

func keyAttrs(rec *Record) []slog.Attr {
	return []slog.Attr{slog.String("key_id", rec.ID), slog.String("key_start", rec.Start)}
}
