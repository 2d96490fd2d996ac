package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// A part is something a gateway owns that is worth keeping across a
// reload when its configuration did not change: a rate-limit store (its
// counters), the JWT verifier (its JWKS cache), the API keys (their
// cache), the audit sink (its HMAC chain), a service (its health state and
// connections), the metrics. The gateway built by a reload takes the parts
// of the one serving whose key is the same; what it does not take is
// closed with the old gateway once its last request has finished.
type part struct {
	kind, key string
	value     any
	close     func() error
}

// parts is the set a gateway owns, and what it took from the previous one
// (given back if its build fails).
type parts struct {
	mu      sync.Mutex
	owned   []*part
	adopted []*part
	from    *parts
}

// take moves the part of kind and key from prev to p, if prev has it.
func (p *parts) take(prev *parts, kind, key string) (any, bool) {
	if prev == nil {
		return nil, false
	}
	prev.mu.Lock()
	defer prev.mu.Unlock()
	for i, q := range prev.owned {
		if q.kind == kind && q.key == key {
			prev.owned = append(prev.owned[:i], prev.owned[i+1:]...)
			p.mu.Lock()
			p.owned = append(p.owned, q)
			p.adopted = append(p.adopted, q)
			p.from = prev
			p.mu.Unlock()
			return q.value, true
		}
	}
	return nil, false
}

// add makes p the owner of a new part.
func (p *parts) add(kind, key string, value any, close func() error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.owned = append(p.owned, &part{kind: kind, key: key, value: value, close: close})
}

// abandon undoes a failed build: adopted parts go back to the gateway
// they came from, and the rest is closed.
func (p *parts) abandon() error {
	p.mu.Lock()
	owned, adopted, from := p.owned, p.adopted, p.from
	p.owned, p.adopted = nil, nil
	p.mu.Unlock()
	if from != nil && len(adopted) > 0 {
		from.mu.Lock()
		from.owned = append(from.owned, adopted...)
		from.mu.Unlock()
	}
	var errs []error
	for i := len(owned) - 1; i >= 0; i-- {
		if q := owned[i]; q.close != nil && !contains(adopted, q) {
			errs = append(errs, q.close())
		}
	}
	return errors.Join(errs...)
}

func contains(list []*part, q *part) bool {
	for _, x := range list {
		if x == q {
			return true
		}
	}
	return false
}

// closeAll closes every part p still owns, newest first.
func (p *parts) closeAll() error {
	p.mu.Lock()
	owned := p.owned
	p.owned, p.adopted = nil, nil
	p.mu.Unlock()
	var errs []error
	for i := len(owned) - 1; i >= 0; i-- {
		if owned[i].close != nil {
			errs = append(errs, owned[i].close())
		}
	}
	return errors.Join(errs...)
}

// fileContent is a path whose contents are part of a fingerprint.
type fileContent string

// fingerprint is the key of a part: the configuration that built it and
// the contents of the files it read. Two equal fingerprints build the
// same thing.
func fingerprint(values ...any) string {
	h := sha256.New()
	for _, v := range values {
		switch v := v.(type) {
		case fileContent:
			data, _ := os.ReadFile(string(v)) // #nosec G304 G703 -- files the configuration names
			h.Write(data)
		default:
			b, _ := json.Marshal(v)
			h.Write(b)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pathIn resolves p against dir ("" stays "").
func pathIn(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
