package seal

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ParseKeys reads keys in the text form used for key files and environment
// variables: one "id:base64key" per line (or separated by commas, for an
// environment variable), standard or URL-safe base64, padded or not. The
// first key is the active one. Blank lines and lines starting with # are
// ignored. Errors never include key material.
func ParseKeys(text string) (KeyringConfig, error) {
	cfg := KeyringConfig{Keys: map[string][]byte{}}
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, ",", "\n")))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, enc, ok := strings.Cut(line, ":")
		if !ok {
			errs = append(errs, fmt.Errorf("seal: key entry %d: want id:base64key", n))
			continue
		}
		id = strings.TrimSpace(id)
		raw, err := decodeKey(strings.TrimSpace(enc))
		if err != nil {
			errs = append(errs, fmt.Errorf("seal: key %q: not base64", id))
			continue
		}
		if _, dup := cfg.Keys[id]; dup {
			errs = append(errs, fmt.Errorf("seal: key %q appears twice", id))
			continue
		}
		cfg.Keys[id] = raw
		if cfg.Active == "" {
			cfg.Active = id
		}
	}
	if len(errs) > 0 {
		return KeyringConfig{}, errors.Join(errs...)
	}
	return cfg, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// NewKey returns a fresh key line "id:base64key" for a key file.
func NewKey(id string) (string, error) {
	if !validID(id) {
		return "", &ConfigError{Field: "id", Value: id, Reason: "key id must be 1-64 bytes of [A-Za-z0-9._-]"}
	}
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return id + ":" + base64.RawStdEncoding.EncodeToString(b), nil
}
