package ratelimit

import (
	"encoding/binary"
	"math/bits"
)

// sipKey is a SipHash-2-4 key. SipHash is a keyed pseudo-random function:
// without the key an attacker cannot choose inputs that collide, so distinct
// clients cannot be forced into one bucket, nor one client spread over many.
type sipKey struct{ k0, k1 uint64 }

// sipState hashes a message written in pieces, with no buffer to zero or
// copy into: composite keys are streamed part by part.
type sipState struct {
	v0, v1, v2, v3 uint64
	tail           uint64 // pending bytes, little-endian
	ntail          uint   // how many bytes are pending (< 8)
	length         uint64
}

func (k sipKey) state() sipState {
	return sipState{
		v0: k.k0 ^ 0x736f6d6570736575,
		v1: k.k1 ^ 0x646f72616e646f6d,
		v2: k.k0 ^ 0x6c7967656e657261,
		v3: k.k1 ^ 0x7465646279746573,
	}
}

func (s *sipState) block(m uint64) {
	s.v3 ^= m
	s.v0, s.v1, s.v2, s.v3 = sipRound(s.v0, s.v1, s.v2, s.v3)
	s.v0, s.v1, s.v2, s.v3 = sipRound(s.v0, s.v1, s.v2, s.v3)
	s.v0 ^= m
}

func (s *sipState) writeByte(c byte) {
	s.tail |= uint64(c) << (8 * s.ntail)
	s.ntail++
	s.length++
	if s.ntail == 8 {
		s.block(s.tail)
		s.tail, s.ntail = 0, 0
	}
}

// writeUint64 writes v as 8 little-endian bytes, wherever the stream is.
func (s *sipState) writeUint64(v uint64) {
	s.length += 8
	if s.ntail == 0 {
		s.block(v)
		return
	}
	shift := 8 * s.ntail // 8..56
	s.block(s.tail | v<<shift)
	s.tail = v >> (64 - shift)
}

func (s *sipState) writeString(p string) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		s.writeUint64(uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 |
			uint64(p[i+4])<<32 | uint64(p[i+5])<<40 | uint64(p[i+6])<<48 | uint64(p[i+7])<<56)
	}
	for ; i < len(p); i++ {
		s.writeByte(p[i])
	}
}

func (s *sipState) writeBytes(p []byte) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		s.writeUint64(binary.LittleEndian.Uint64(p[i:]))
	}
	for ; i < len(p); i++ {
		s.writeByte(p[i])
	}
}

func (s *sipState) sum() uint64 { return s.final(s.length<<56 | s.tail) }

// final hashes the last block (the length byte and the pending bytes) and
// finalizes.
func (s *sipState) final(last uint64) uint64 {
	s.block(last)
	s.v2 ^= 0xff
	for range 4 {
		s.v0, s.v1, s.v2, s.v3 = sipRound(s.v0, s.v1, s.v2, s.v3)
	}
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3
}

// sumIP is the hash of the 18-byte stream c, a16, bits (a key that is one
// ClientIP part) in straight-line code: two blocks and the last, with no
// pending-byte bookkeeping. It equals writeByte(c), writeBytes(a16[:]),
// writeByte(bits), sum().
func (k sipKey) sumIP(c byte, a16 *[16]byte, bits byte) uint64 {
	lo := binary.LittleEndian.Uint64(a16[:8])
	hi := binary.LittleEndian.Uint64(a16[8:])
	s := k.state()
	s.block(uint64(c) | lo<<8)
	s.block(lo>>56 | hi<<8)
	return s.final(18<<56 | uint64(bits)<<8 | hi>>56)
}

func (k sipKey) sum64(p []byte) uint64 {
	s := k.state()
	s.writeBytes(p)
	return s.sum()
}

func (k sipKey) sumString(p string) uint64 {
	s := k.state()
	s.writeString(p)
	return s.sum()
}

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
