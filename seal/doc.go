// Package seal encrypts sensitive values an application keeps at rest —
// personal data in a database column, secrets in a configuration store,
// exported audit archives — with AES-256-GCM and a key ring that can be
// rotated without downtime.
//
// # Threat model
//
// Protects against: a stolen database, backup, disk image or log archive.
// Sealed values are unreadable without the key, and any change to them —
// a flipped bit, a truncated value, a value copied from another row or
// column, a key id swapped for another — is detected when they are opened,
// because the version, the key id and the caller's associated data are all
// authenticated.
//
// Does not protect against: a compromised running process, which holds the
// keys in memory and can open anything; an attacker who can read the key
// file or environment; traffic analysis of value lengths (sealing hides
// content, not size).
//
// # Format
//
// A sealed value is self-describing:
//
//	version (1 byte: 1) | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// or, in envelope mode (version 2), the data key wrapped by a key-encryption
// key between the key id and the nonce. [Keyring.SealString] gives the same
// bytes as unpadded base64url after "bws1." or "bws2.", for text columns.
//
// # Associated data
//
// Always bind a value to where it lives: [AD]("users", "email", userID).
// A value sealed for one row then fails to open in another, so an attacker
// with write access to the database cannot move an encrypted email (or an
// encrypted role) from one user to another.
//
// # Keys and rotation
//
// Keys are 32 random bytes (AES-256), named by a short id. A [Keyring] has
// one active key, used to seal, and older keys kept only to open. Rotation:
// add a new key and make it active (every new value uses it), re-seal old
// values in the background with [Keyring.Reseal] ([Keyring.NeedsReseal] tells
// which), then remove the old key. Values still under a removed key fail to
// open with [ErrUnknownKey].
//
// Random 96-bit nonces are safe for about 2^32 values per key (NIST SP
// 800-38D §8.3); past that, nonce collisions become a real risk. The ring
// counts the values each key sealed in this process and refuses with
// [ErrKeyExhausted] at [KeyringConfig.MaxSealsPerKey] (default 2^32); across
// a fleet, rotate well before the combined count approaches it — yearly
// rotation is ample for most applications.
//
// Keys come from a file or an environment variable ([ParseKeys]), or from a
// KMS through the [KeyWrapper] interface in envelope mode, where each value
// gets its own data key wrapped by a key-encryption key that never leaves
// the KMS. [Keyring.Close] overwrites the key bytes the ring holds; Go
// cannot promise that no other copy exists (the AES key schedule, the
// garbage collector), so treat it as hygiene, not a guarantee.
package seal
