package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

const maxWrapped = 1024

// sealEnvelope seals with a fresh data key wrapped by the KeyWrapper.
func (k *Keyring) sealEnvelope(ctx context.Context, plaintext, ad []byte) ([]byte, error) {
	dek := make([]byte, keySize)
	defer clear(dek)
	if _, err := rand.Read(dek); err != nil {
		return nil, err
	}
	wrapped, kekID, err := k.wrapper.Wrap(ctx, dek)
	if err != nil {
		return nil, err
	}
	if !validID(kekID) || len(wrapped) == 0 || len(wrapped) > maxWrapped {
		return nil, errors.New("seal: key wrapper returned an invalid key id or wrapped key")
	}
	rk, err := dataKey(kekID, dek)
	if err != nil {
		return nil, err
	}
	return k.sealWith(rk, versionEnvelope, wrapped, plaintext, ad)
}

func (k *Keyring) openEnvelope(ctx context.Context, p parsed, ad []byte) ([]byte, error) {
	if k.wrapper == nil {
		return nil, ErrUnknownKey
	}
	dek, err := k.wrapper.Unwrap(ctx, p.wrapped, string(p.keyID))
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return nil, ErrUnknownKey
		}
		return nil, ErrInvalid
	}
	defer clear(dek)
	rk, err := dataKey(string(p.keyID), dek)
	if err != nil {
		return nil, ErrInvalid
	}
	buf := k.fullAD(p.header, ad)
	pt, err := rk.aead.Open(nil, p.nonce, p.body, *buf)
	k.adPool.Put(buf)
	if err != nil {
		return nil, ErrInvalid
	}
	return pt, nil
}

func dataKey(id string, dek []byte) (*ringKey, error) {
	if len(dek) != keySize {
		return nil, errors.New("seal: data key has the wrong length")
	}
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &ringKey{id: id, aead: aead}, nil
}

// Wrap implements [KeyWrapper] with the ring's active key: a Keyring can be
// the key-encryption key of another Keyring in envelope mode.
func (k *Keyring) Wrap(_ context.Context, dataKey []byte) ([]byte, string, error) {
	if k.active == nil {
		return nil, "", errors.New("seal: keyring has no active key to wrap with")
	}
	w, err := k.sealWith(k.active, versionDirect, nil, dataKey, []byte("bulwark seal data key"))
	if err != nil {
		return nil, "", err
	}
	return w, k.active.id, nil
}

// Unwrap implements [KeyWrapper].
func (k *Keyring) Unwrap(_ context.Context, wrapped []byte, kekID string) ([]byte, error) {
	p, err := parse(wrapped)
	if err != nil || string(p.keyID) != kekID {
		return nil, ErrInvalid
	}
	return k.Open(wrapped, []byte("bulwark seal data key"))
}
