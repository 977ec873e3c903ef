package am

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/gimsproject/gims/internal/secretfile"
)

// sealKeyFile is the file of the data folder holding the key that seals
// the experiments' Crypto-PAn keys in the database, so that a copy of the
// database alone (a backup, a bug report) does not de-anonymize anything.
const sealKeyFile = "seal.key"

// sealer seals and opens the Crypto-PAn keys stored in the database with
// AES-256-GCM under the key of DataDir/seal.key, made on first use.
type sealer struct {
	path string
	once sync.Once
	aead cipher.AEAD
	err  error
}

// load reads or creates the seal key.
func (s *sealer) load() (cipher.AEAD, error) {
	s.once.Do(func() {
		key, err := os.ReadFile(s.path)
		if errors.Is(err, os.ErrNotExist) {
			key = make([]byte, 32)
			if _, err = rand.Read(key); err == nil {
				err = writeNew(s.path, key)
			}
			if errors.Is(err, os.ErrExist) { // made meanwhile by another process
				key, err = os.ReadFile(s.path)
			}
		}
		if err == nil && len(key) != 32 {
			err = fmt.Errorf("%s holds %d bytes, want 32", s.path, len(key))
		}
		if err != nil {
			s.err = fmt.Errorf("seal key: %w", err)
			return
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			s.err = fmt.Errorf("seal key: %w", err)
			return
		}
		s.aead, s.err = cipher.NewGCM(block)
	})
	return s.aead, s.err
}

// tighten makes an existing seal key readable by its owner only, warning
// when it was not (an older version, a restored backup).
func (s *sealer) tighten(log *slog.Logger) error {
	old, err := secretfile.Tighten(s.path)
	if err != nil {
		return fmt.Errorf("seal key: %w", err)
	}
	if old != 0 {
		log.Warn("seal key was readable by others; made private", "file", s.path,
			"old_mode", fmt.Sprintf("%04o", old), "mode", "0600")
	}
	return nil
}

// writeNew creates path with data, readable by its owner only; it fails
// with os.ErrExist when the file exists.
func writeNew(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, secretfile.Mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// seal encrypts a Crypto-PAn key for the database: nonce || ciphertext.
func (s *sealer) seal(key []byte) ([]byte, error) {
	if key == nil {
		return nil, nil
	}
	aead, err := s.load()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(key)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(nonce, nonce, key, nil), nil
}

// open decrypts what seal made.
func (s *sealer) open(sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	aead, err := s.load()
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed key too short")
	}
	key, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return nil, fmt.Errorf("unable to open the stored anonymization key (was %s replaced?): %w", sealKeyFile, err)
	}
	return key, nil
}
