package apikey

import (
	"crypto/rand"
	"errors"
	"hash/crc32"
	"io"
	"unsafe"

	"github.com/bulwark-go/bulwark/auth"
)

// The key format. A key is
//
//	<prefix>_<id><secret><checksum>
//
// where id is 11 and secret 22 characters drawn uniformly from the base62
// alphabet by crypto/rand, and checksum is the CRC-32 (IEEE) of everything
// before it, written as 6 base62 digits, most significant first.
const (
	// IDLen is the length of a key id, in base62 characters (65 bits).
	IDLen = 11
	// SecretLen is the length of the secret part, in base62 characters
	// (131 bits).
	SecretLen = 22
	// ChecksumLen is the length of the CRC-32 suffix in base62 characters.
	ChecksumLen = 6
	// StartLen is the number of body characters (all from the id) shown in
	// [Record.Start] after the prefix and '_'.
	StartLen = 8
	// MaxPrefixLen bounds [Config.Prefix].
	MaxPrefixLen = 32

	bodyLen = IDLen + SecretLen
	tailLen = bodyLen + ChecksumLen // after "<prefix>_"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Key-format errors, wrapped by the errors [Keys.Authenticate] returns.
var (
	// ErrMalformedKey means the value cannot be a key of this format:
	// wrong length or a character outside base62.
	ErrMalformedKey = errors.New("apikey: malformed key")
	// ErrWrongPrefix means a well-formed key of another prefix, such as a
	// test key presented to production.
	ErrWrongPrefix = errors.New("apikey: key has another prefix")
	// ErrChecksum means the checksum does not match: a mistyped,
	// truncated, extended or forged key.
	ErrChecksum = errors.New("apikey: bad key checksum")
)

// ParsedKey is what the format alone reveals about a key. Neither field is
// secret.
type ParsedKey struct {
	ID    string // the key id, IDLen characters
	Start string // prefix, '_' and the first StartLen characters: for people and logs
}

// ParseKey checks that key has the given prefix, the exact length, only
// base62 characters and a valid checksum, without any store access and
// without allocating. It returns an error wrapping [ErrWrongPrefix],
// [ErrMalformedKey] or [ErrChecksum].
func ParseKey(prefix, key string) (ParsedKey, error) {
	if len(key) != len(prefix)+1+tailLen || key[:len(prefix)] != prefix || key[len(prefix)] != '_' {
		if looksLikeKey(key) {
			return ParsedKey{}, ErrWrongPrefix
		}
		return ParsedKey{}, ErrMalformedKey
	}
	tail := key[len(prefix)+1:]
	for i := 0; i < len(tail); i++ {
		if !isBase62(tail[i]) {
			return ParsedKey{}, ErrMalformedKey
		}
	}
	if !checksumOK(key) {
		return ParsedKey{}, ErrChecksum
	}
	return ParsedKey{ID: tail[:IDLen], Start: key[:len(prefix)+1+StartLen]}, nil
}

// looksLikeKey reports whether s is a well-formed, correctly checksummed
// key of some valid prefix.
func looksLikeKey(s string) bool {
	n := len(s) - tailLen - 1
	if n < 1 || n > MaxPrefixLen || s[n] != '_' || validPrefix(s[:n]) != nil {
		return false
	}
	for i := n + 1; i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	return checksumOK(s)
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// checksumOK compares the last ChecksumLen characters of key with the
// CRC-32 of the rest. The checksum is not secret, so the comparison need not
// be constant-time.
func checksumOK(key string) bool {
	n := len(key) - ChecksumLen
	var want [ChecksumLen]byte
	encodeChecksum(&want, crc(key[:n]))
	return key[n:] == string(want[:])
}

// crc is CRC-32 (IEEE) of s. It hands hash/crc32 (slicing-by-8 or
// hardware) a read-only view of the string's bytes rather than a copy, so
// that checking a key never allocates.
func crc(s string) uint32 {
	// #nosec G103 -- read-only view of immutable string data; crc32 does not retain or modify it.
	return crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func encodeChecksum(dst *[ChecksumLen]byte, v uint32) {
	for i := ChecksumLen - 1; i >= 0; i-- {
		dst[i] = base62[v%62]
		v /= 62
	}
}

// validPrefix checks a prefix: 1 to MaxPrefixLen characters of [a-z0-9],
// in groups separated by single underscores ("bwk", "bwk_live").
func validPrefix(p string) error {
	if p == "" || len(p) > MaxPrefixLen {
		return errors.New("must be 1 to 32 characters")
	}
	prev := byte('_')
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		case c == '_' && prev != '_':
		default:
			return errors.New("must be lowercase letters and digits in groups separated by single '_'")
		}
		prev = c
	}
	if prev == '_' {
		return errors.New("must not end with '_'")
	}
	return nil
}

// generate returns a new key with prefix, reading randomness from rnd.
func generate(rnd io.Reader, prefix string) (string, error) {
	b := make([]byte, len(prefix)+1+tailLen)
	copy(b, prefix)
	b[len(prefix)] = '_'
	body := b[len(prefix)+1 : len(prefix)+1+bodyLen]
	// Rejection sampling: 6 random bits per try, accepted when < 62, so
	// every character is uniform over the alphabet.
	var buf [64]byte
	for i := 0; i < len(body); {
		if _, err := io.ReadFull(rnd, buf[:]); err != nil {
			return "", err
		}
		for _, r := range buf {
			if v := r & 63; v < 62 && i < len(body) {
				body[i] = base62[v]
				i++
			}
		}
	}
	var sum [ChecksumLen]byte
	encodeChecksum(&sum, crc(string(b[:len(b)-ChecksumLen])))
	copy(b[len(b)-ChecksumLen:], sum[:])
	return string(b), nil
}

// GenerateKey returns a new random key with prefix, for tooling that needs
// the format without a store. [Keys.Create] is the normal way to make keys.
func GenerateKey(prefix string) (string, error) {
	if err := validPrefix(prefix); err != nil {
		return "", &auth.ConfigError{Field: "Prefix", Value: prefix, Reason: err.Error()}
	}
	return generate(rand.Reader, prefix)
}
