package cryptopan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"golang.org/x/crypto/argon2"
)

// Parameters of the passphrase-to-key derivation of SPEC §3. Changing any of
// them changes every mapping made from a passphrase.
const (
	argonSalt    = "gims-cryptopan-v1"
	argonTime    = 1
	argonMemory  = 64 * 1024 // KiB, that is 64 MiB
	argonThreads = 4
)

// ErrEmptySecret is returned by KeyFromSecret for an empty secret.
var ErrEmptySecret = errors.New("cryptopan: empty anonymization secret")

// KeyFromSecret turns an experiment's anonymization secret into a Crypto-PAn
// key, so that the same secret gives the same mapping on every device
// (SPEC §3). A secret of exactly 64 hexadecimal digits (either case) is the
// key itself. Any other non-empty string is a passphrase, stretched with
// argon2id (salt "gims-cryptopan-v1", time 1, 64 MiB, 4 threads); it is used
// as given, without trimming spaces. The derivation takes tens of
// milliseconds and 64 MiB of memory: do it once per experiment, not per
// packet.
func KeyFromSecret(secret string) ([32]byte, error) {
	var key [32]byte
	if secret == "" {
		return key, ErrEmptySecret
	}
	if len(secret) == 2*KeySize {
		if _, err := hex.Decode(key[:], []byte(secret)); err == nil {
			return key, nil
		}
	}
	copy(key[:], argon2.IDKey([]byte(secret), []byte(argonSalt), argonTime, argonMemory, argonThreads, KeySize))
	return key, nil
}

// Fingerprint identifies a key without revealing it: the first 8 hex digits
// of its SHA-256. It is what the API shows in place of the secret.
func Fingerprint(key [32]byte) string {
	sum := sha256.Sum256(key[:])
	return hex.EncodeToString(sum[:4])
}
