package bind

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// nonces issues and checks server-provided DPoP nonces (RFC 9449 §8)
// without state: a nonce is the time it was issued (to the granularity
// below) and an HMAC of it, so that every instance with the same secret
// accepts every instance's nonces.
type nonces struct {
	secret   []byte
	lifetime time.Duration
	current  atomic.Pointer[issued]
}

type issued struct {
	at    int64
	nonce string
}

// nonceStep is how often a new nonce is issued: a client refreshes its
// nonce at most this often.
const nonceStep = 10 * time.Second

// nonceLen is the length of a nonce: base64url of 8 bytes of time and a
// 16-byte MAC.
const nonceLen = 32

func (n *nonces) mac(at int64) []byte {
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(at)) // #nosec G115 -- a Unix time in seconds, never negative here
	h := hmac.New(sha256.New, n.secret)
	h.Write([]byte("bulwark dpop nonce\x00"))
	h.Write(t[:])
	return append(t[:], h.Sum(nil)[:16]...)
}

// issue returns the nonce of now's step.
func (n *nonces) issue(now time.Time) string {
	at := now.Unix() / int64(nonceStep/time.Second) * int64(nonceStep/time.Second)
	if c := n.current.Load(); c != nil && c.at == at {
		return c.nonce
	}
	s := base64.RawURLEncoding.EncodeToString(n.mac(at))
	n.current.Store(&issued{at: at, nonce: s})
	return s
}

// valid reports whether s is a nonce issued within the lifetime (and not
// from the future, beyond one step of clock difference between
// instances).
func (n *nonces) valid(s string, now time.Time) bool {
	if len(s) != nonceLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 24 {
		return false
	}
	at := int64(binary.BigEndian.Uint64(b[:8])) // #nosec G115 -- compared below, a MAC-checked value we wrote
	if !hmac.Equal(b, n.mac(at)) {
		return false
	}
	age := now.Unix() - at
	return age >= -int64(nonceStep/time.Second) && age <= int64(n.lifetime/time.Second)
}
