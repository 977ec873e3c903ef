package cryptopan

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"testing"
)

// reference is a straightforward, uncached Crypto-PAn written independently
// of Cipher (no shared code) to cross-check it. anonymize4 follows the
// integer arithmetic of the original C++ implementation (panonymizer.cpp);
// anonymize16 builds the AES input bit by bit as the Yawning/cryptopan Go
// port does.
type reference struct {
	block cipher.Block
	pad   [16]byte
}

func newReference(t testing.TB, key []byte) *reference {
	t.Helper()
	if len(key) != 32 {
		t.Fatalf("newReference: key is %d bytes", len(key))
	}
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		t.Fatalf("aes.NewCipher() error:\n%+v", err)
	}
	r := &reference{block: block}
	block.Encrypt(r.pad[:], key[16:])
	return r
}

func (r *reference) anonymize4(a [4]byte) [4]byte {
	orig := binary.BigEndian.Uint32(a[:])
	pad4 := binary.BigEndian.Uint32(r.pad[:4])
	var in, out [16]byte
	copy(in[:], r.pad[:])
	var result uint32
	for pos := 0; pos < 32; pos++ {
		first4 := pad4
		if pos > 0 {
			first4 = orig>>(32-pos)<<(32-pos) | pad4<<pos>>pos
		}
		binary.BigEndian.PutUint32(in[:4], first4)
		r.block.Encrypt(out[:], in[:])
		result |= uint32(out[0]>>7) << (31 - pos)
	}
	var res [4]byte
	binary.BigEndian.PutUint32(res[:], result^orig)
	return res
}

func (r *reference) anonymize16(a [16]byte) [16]byte {
	in := r.pad
	var out, otp [16]byte
	for pos := 0; pos < 128; pos++ {
		if pos > 0 {
			// Copy bit pos-1 of the address into the input.
			p := pos - 1
			bit := byte(0x80) >> (p % 8)
			in[p/8] = in[p/8]&^bit | a[p/8]&bit
		}
		r.block.Encrypt(out[:], in[:])
		if out[0]&0x80 != 0 {
			otp[pos/8] |= 0x80 >> (pos % 8)
		}
	}
	for i := range otp {
		otp[i] ^= a[i]
	}
	return otp
}

// answers maps every address through the reference: what the cached
// cipher must give for them.
func (r *reference) answers(addrs4 [][4]byte, addrs6 [][16]byte) ([][4]byte, [][16]byte) {
	want4 := make([][4]byte, len(addrs4))
	for i, a := range addrs4 {
		want4[i] = r.anonymize4(a)
	}
	want6 := make([][16]byte, len(addrs6))
	for i, a := range addrs6 {
		want6[i] = r.anonymize16(a)
	}
	return want4, want6
}
