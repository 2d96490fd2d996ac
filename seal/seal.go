package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Errors. Opening never says more than which of these happened.
var (
	ErrInvalid      = errors.New("seal: value is malformed or was altered")
	ErrUnknownKey   = errors.New("seal: value was sealed with a key not in the ring")
	ErrKeyExhausted = errors.New("seal: active key has sealed its maximum number of values; rotate it")
	ErrClosed       = errors.New("seal: keyring is closed")
)

const (
	versionDirect   = 1
	versionEnvelope = 2
	keySize         = 32
	nonceSize       = 12
	tagSize         = 16
	maxKeyID        = 64

	defaultMaxSeals = uint64(1) << 32
)

// KeyringConfig configures a [Keyring].
type KeyringConfig struct {
	// Keys maps key ids to 32-byte AES-256 keys. Required. Ids are 1 to 64
	// bytes of [A-Za-z0-9._-]. The bytes are copied.
	Keys map[string][]byte
	// Active is the id of the key that seals. Required; must be in Keys.
	Active string
	// MaxSealsPerKey refuses sealing past this many values per key in this
	// process. Default 2^32 (the NIST bound for random 96-bit nonces);
	// lower it to force earlier rotation.
	MaxSealsPerKey uint64
	// Wrapper, when set, turns on envelope mode: each value gets a fresh
	// data key, wrapped by Wrapper (a KMS). Keys may then be empty.
	Wrapper KeyWrapper
}

// KeyWrapper wraps and unwraps data keys with a key-encryption key held
// elsewhere (a KMS, an HSM). Wrap returns the wrapped key and the id of the
// key-encryption key it used; Unwrap reverses it. A [Keyring] is itself a
// KeyWrapper, for a local key-encryption key.
type KeyWrapper interface {
	Wrap(ctx context.Context, dataKey []byte) (wrapped []byte, kekID string, err error)
	Unwrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, error)
}

// ConfigError describes one problem with a [KeyringConfig].
type ConfigError struct {
	Field, Value, Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("seal: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("seal: %s %q: %s", e.Field, e.Value, e.Reason)
}

type ringKey struct {
	id    string
	raw   []byte
	aead  cipher.AEAD
	seals atomic.Uint64
}

// Keyring seals with its active key and opens with any of its keys. It is
// safe for concurrent use. Rotate by building a new Keyring and swapping it
// in (for example through an atomic.Pointer).
type Keyring struct {
	active   *ringKey
	keys     map[string]*ringKey
	maxSeals uint64
	wrapper  KeyWrapper
	closed   atomic.Bool
	mu       sync.Mutex // guards Close against itself
	adPool   sync.Pool  // *[]byte buffers for the authenticated data
}

// NewKeyring checks cfg and returns a [Keyring]. Every problem is reported,
// joined; each is a [*ConfigError].
func NewKeyring(cfg KeyringConfig) (*Keyring, error) {
	var errs []error
	if len(cfg.Keys) == 0 && cfg.Wrapper == nil {
		errs = append(errs, &ConfigError{Field: "Keys", Reason: "required"})
	}
	k := &Keyring{keys: make(map[string]*ringKey, len(cfg.Keys)), maxSeals: cfg.MaxSealsPerKey, wrapper: cfg.Wrapper}
	if k.maxSeals == 0 {
		k.maxSeals = defaultMaxSeals
	}
	for id, raw := range cfg.Keys {
		if !validID(id) {
			errs = append(errs, &ConfigError{Field: "Keys", Value: id, Reason: "key id must be 1-64 bytes of [A-Za-z0-9._-]"})
			continue
		}
		if len(raw) != keySize {
			errs = append(errs, &ConfigError{Field: "Keys", Value: id, Reason: fmt.Sprintf("key must be %d bytes (AES-256), got %d", keySize, len(raw))})
			continue
		}
		rk := &ringKey{id: id, raw: append([]byte(nil), raw...)}
		block, err := aes.NewCipher(rk.raw)
		if err == nil {
			rk.aead, err = cipher.NewGCM(block)
		}
		if err != nil {
			errs = append(errs, &ConfigError{Field: "Keys", Value: id, Reason: "cannot build AES-GCM"})
			continue
		}
		k.keys[id] = rk
	}
	switch {
	case cfg.Active == "" && cfg.Wrapper == nil:
		errs = append(errs, &ConfigError{Field: "Active", Reason: "required"})
	case cfg.Active != "":
		if k.active = k.keys[cfg.Active]; k.active == nil {
			errs = append(errs, &ConfigError{Field: "Active", Value: cfg.Active, Reason: "not among Keys"})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return k, nil
}

func validID(id string) bool {
	if id == "" || len(id) > maxKeyID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// AD builds associated data from parts, length-prefixed so that
// ("ab", "c") and ("a", "bc") differ.
func AD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p))) // #nosec G115 -- strings longer than 4 GiB are not associated data
		b = append(b, p...)
	}
	return b
}

// Seal encrypts plaintext with the active key, bound to ad.
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	if k.wrapper != nil {
		return k.sealEnvelope(context.Background(), plaintext, ad)
	}
	return k.sealWith(k.active, versionDirect, nil, plaintext, ad)
}

func (k *Keyring) sealWith(rk *ringKey, version byte, wrapped []byte, plaintext, ad []byte) ([]byte, error) {
	if rk.seals.Add(1) > k.maxSeals {
		return nil, ErrKeyExhausted
	}
	hdr := 2 + len(rk.id)
	if version == versionEnvelope {
		hdr += 2 + len(wrapped)
	}
	out := make([]byte, hdr+nonceSize, hdr+nonceSize+len(plaintext)+tagSize)
	out[0] = version
	out[1] = byte(len(rk.id)) // #nosec G115 -- ids are at most 64 bytes
	copy(out[2:], rk.id)
	if version == versionEnvelope {
		binary.BigEndian.PutUint16(out[2+len(rk.id):], uint16(len(wrapped))) // #nosec G115 -- checked by sealEnvelope
		copy(out[4+len(rk.id):], wrapped)
	}
	nonce := out[hdr : hdr+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	buf := k.fullAD(out[:hdr], ad)
	sealed := rk.aead.Seal(out, nonce, plaintext, *buf) // #nosec G407 -- nonce is filled from crypto/rand just above
	k.adPool.Put(buf)
	return sealed, nil
}

// fullAD authenticates the header (version, key id, wrapped key) together
// with the caller's associated data, so none of them can be swapped. The
// header is self-delimiting, so header||ad is unambiguous. The buffer comes
// from k.adPool — AEAD is an interface, so a buffer passed to it escapes,
// and a fresh one per call would cost an allocation — and the caller
// returns it there.
func (k *Keyring) fullAD(hdr, ad []byte) *[]byte {
	buf, _ := k.adPool.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 0, 256)
		buf = &b
	}
	b := append((*buf)[:0], hdr...)
	*buf = append(b, ad...)
	return buf
}

// parsed is a sealed value split into its parts.
type parsed struct {
	version byte
	keyID   []byte
	wrapped []byte
	header  []byte
	nonce   []byte
	body    []byte // ciphertext and tag
}

func parse(sealed []byte) (parsed, error) {
	var p parsed
	if len(sealed) < 2 {
		return p, ErrInvalid
	}
	p.version = sealed[0]
	if p.version != versionDirect && p.version != versionEnvelope {
		return p, ErrInvalid
	}
	idLen := int(sealed[1])
	i := 2 + idLen
	if idLen == 0 || idLen > maxKeyID || len(sealed) < i {
		return p, ErrInvalid
	}
	p.keyID = sealed[2:i]
	if !validID(string(p.keyID)) {
		return p, ErrInvalid
	}
	if p.version == versionEnvelope {
		if len(sealed) < i+2 {
			return p, ErrInvalid
		}
		n := int(binary.BigEndian.Uint16(sealed[i:]))
		if n == 0 || len(sealed) < i+2+n {
			return p, ErrInvalid
		}
		p.wrapped = sealed[i+2 : i+2+n]
		i += 2 + n
	}
	if len(sealed) < i+nonceSize+tagSize {
		return p, ErrInvalid
	}
	p.header = sealed[:i]
	p.nonce = sealed[i : i+nonceSize]
	p.body = sealed[i+nonceSize:]
	return p, nil
}

// Open decrypts a sealed value bound to ad. It fails with [ErrInvalid] on
// any alteration, truncation or wrong ad, and with [ErrUnknownKey] when the
// value's key is not in the ring.
func (k *Keyring) Open(sealed, ad []byte) ([]byte, error) {
	return k.OpenContext(context.Background(), sealed, ad)
}

// OpenContext is [Keyring.Open] with a context for the KMS call in envelope
// mode.
func (k *Keyring) OpenContext(ctx context.Context, sealed, ad []byte) ([]byte, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	p, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	if p.version == versionEnvelope {
		return k.openEnvelope(ctx, p, ad)
	}
	rk := k.keys[string(p.keyID)]
	if rk == nil {
		return nil, ErrUnknownKey
	}
	buf := k.fullAD(p.header, ad)
	pt, err := rk.aead.Open(nil, p.nonce, p.body, *buf)
	k.adPool.Put(buf)
	if err != nil {
		return nil, ErrInvalid
	}
	return pt, nil
}

// NeedsReseal reports whether sealed was made with a key other than the
// active one (or cannot be parsed), so a rotation job knows what to redo.
func (k *Keyring) NeedsReseal(sealed []byte) bool {
	p, err := parse(sealed)
	return err != nil || k.active == nil || p.version != versionDirect || string(p.keyID) != k.active.id
}

// Reseal opens sealed and seals it again with the active key.
func (k *Keyring) Reseal(sealed, ad []byte) ([]byte, error) {
	pt, err := k.Open(sealed, ad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return k.Seal(pt, ad)
}

// ActiveKeyID returns the id of the key that seals ("" in pure envelope mode).
func (k *Keyring) ActiveKeyID() string {
	if k.active == nil {
		return ""
	}
	return k.active.id
}

// SealString seals plaintext and encodes it as text: "bws1." (or "bws2."
// in envelope mode) followed by unpadded base64url.
func (k *Keyring) SealString(plaintext string, ad []byte) (string, error) {
	b, err := k.Seal([]byte(plaintext), ad)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("bws%d.", b[0]) + base64.RawURLEncoding.EncodeToString(b), nil
}

// OpenString reverses [Keyring.SealString].
func (k *Keyring) OpenString(s string, ad []byte) (string, error) {
	rest, ok := strings.CutPrefix(s, "bws1.")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "bws2."); !ok {
			return "", ErrInvalid
		}
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) == 0 || fmt.Sprintf("bws%d.", b[0]) != s[:5] {
		return "", ErrInvalid
	}
	pt, err := k.Open(b, ad)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}

// Close overwrites the key bytes the ring holds and makes it unusable.
func (k *Keyring) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed.Swap(true) {
		return nil
	}
	for _, rk := range k.keys {
		clear(rk.raw)
	}
	return nil
}
