package ratelimit

// SipSum64 exposes the SipHash-2-4 implementation to the black-box tests,
// for the reference vectors.
func SipSum64(k0, k1 uint64, p []byte) uint64 { return sipKey{k0, k1}.sum64(p) }

// SipSumString exposes sumString, which must equal SipSum64 of the bytes
// for short inputs.
func SipSumString(k0, k1 uint64, s string) uint64 { return sipKey{k0, k1}.sumString(s) }

// SubjectKey exposes the composite key hash for the fuzz test.
var SubjectKey = subject

// NewSipKey builds a sipKey for SubjectKey.
func NewSipKey(k0, k1 uint64) sipKey { return sipKey{k0, k1} }

// AppendSFString, AppendPolicyItem and AppendLimitItem expose the header
// formatters for the fuzz test.
var (
	AppendSFString   = appendSFString
	AppendPolicyItem = appendPolicyItem
	AppendLimitItem  = appendLimitItem
)

// SipSumPieces hashes the concatenation of pieces through the streaming
// state, which must equal SipSum64 of the whole.
func SipSumPieces(k0, k1 uint64, pieces ...string) uint64 {
	s := sipKey{k0, k1}.state()
	for _, p := range pieces {
		s.writeString(p)
	}
	return s.sum()
}

// SipSumIP and SipSumIPStream hash one ClientIP part's 18 bytes in
// straight-line code and through the stream; they must agree.
func SipSumIP(k0, k1 uint64, c byte, a16 [16]byte, bits byte) uint64 {
	return sipKey{k0, k1}.sumIP(c, &a16, bits)
}

func SipSumIPStream(k0, k1 uint64, c byte, a16 [16]byte, bits byte) uint64 {
	s := sipKey{k0, k1}.state()
	s.writeByte(c)
	s.writeBytes(a16[:])
	s.writeByte(bits)
	return s.sum()
}
