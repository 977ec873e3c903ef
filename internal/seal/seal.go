// Package seal keeps secrets encrypted at rest (SPEC §10): AES-256-GCM
// under a random key in a file of the daemon's data folder (mode 0600,
// made on first use), so that a copy of a database or of a state file
// alone (a backup, a bug report) gives away no secret. The AM seals the
// experiments' keys and the device tokens in its database; the capture
// daemon seals the key of each job that may still run in its job.json.
package seal

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

// KeyFile is the usual name of the seal key in a data folder.
const KeyFile = "seal.key"

// Sealer seals and opens secrets with AES-256-GCM under the key of its
// file, made on first use. It is safe for concurrent use.
type Sealer struct {
	path string
	once sync.Once
	aead cipher.AEAD
	err  error
}

// New returns the sealer of the key file at path (read or made on first
// use).
func New(path string) *Sealer { return &Sealer{path: path} }

// load reads or creates the seal key.
func (s *Sealer) load() (cipher.AEAD, error) {
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

// Tighten makes an existing seal key readable by its owner only, warning
// when it was not (an older version, a restored backup).
func (s *Sealer) Tighten(log *slog.Logger) error {
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

// Seal encrypts a secret: nonce || ciphertext. Nil stays nil.
func (s *Sealer) Seal(key []byte) ([]byte, error) {
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

// Open decrypts what Seal made.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	aead, err := s.load()
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed data too short")
	}
	key, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return nil, fmt.Errorf("unable to open a sealed secret (was %s replaced?): %w", s.path, err)
	}
	return key, nil
}
