package cryptopan

import (
	"encoding/hex"
	"errors"
	"testing"
)

func TestKeyFromSecret(t *testing.T) {
	const sampleHex = "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202"
	// The passphrase keys were computed independently with the reference
	// C implementation (Debian's libargon2.so.1, argon2id_hash_raw with
	// t=1, m=65536, p=4, salt "gims-cryptopan-v1").
	cases := []struct {
		pos     string
		secret  string
		wantHex string
		wantErr error
	}{
		{"hex key", sampleHex, sampleHex, nil},
		{"upper-case hex key", "1522178D33A4CF80130A5B1649907D10D8988F837979652762574C2D2A842202", sampleHex, nil},
		{"passphrase", "correct horse battery staple",
			"a923b4bc5b71542bdf7495ae58996ea0d33ed597a9fbd94bb337255ece8b975c", nil},
		{"63 hex digits is a passphrase", sampleHex[:63],
			"d0da591e8bef10e81d669e383c8b22f6754e1e1c9dba1315fe5f82c4564fb66d", nil},
		{"64 characters, not all hex, is a passphrase", "g" + sampleHex[1:],
			"3d88ce3a2b65a572044f057ccbf388a9d056ca9a9b85f36a668483d7133da5d1", nil},
		{"no trimming", " " + sampleHex[:63],
			"ae70f248046b83c45b051e87af21ceda43d007892eb4072c80817269a0f237c1", nil},
		{"empty", "", "", ErrEmptySecret},
	}
	for _, tc := range cases {
		t.Run(tc.pos, func(t *testing.T) {
			got, err := KeyFromSecret(tc.secret)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("KeyFromSecret(%q) error = %v, want %v", tc.secret, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("KeyFromSecret(%q) error:\n%+v", tc.secret, err)
			}
			if diff := hex.EncodeToString(got[:]); diff != tc.wantHex {
				t.Errorf("KeyFromSecret(%q) (-got, +want):\n-%s\n+%s", tc.secret, diff, tc.wantHex)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	var key [32]byte
	copy(key[:], sampleKey(t))
	// sha256sum of the 32 key bytes: 3ef4b8b940095a0e...
	if got, want := Fingerprint(key), "3ef4b8b9"; got != want {
		t.Errorf("Fingerprint(sample key) = %q, want %q", got, want)
	}
	if got, want := Fingerprint([32]byte{}), "66687aad"; got != want {
		t.Errorf("Fingerprint(zero key) = %q, want %q", got, want)
	}
}
