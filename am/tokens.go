package am

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/gimsproject/gims/db"
)

// sealedTokenPrefix marks a device token sealed in the database (SPEC
// §10): like the experiments' keys, tokens are stored encrypted under
// DataDir/seal.key, so that a copy of the database alone does not give
// access to the devices.
const sealedTokenPrefix = "sealed:"

// sealToken is the stored form of a device token.
func (m *Manager) sealToken(token string) (string, error) {
	b, err := m.keys.Seal([]byte(token))
	if err != nil {
		return "", fmt.Errorf("unable to seal the device token: %w", err)
	}
	return sealedTokenPrefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// openToken is the token of its stored form; a token stored in clear (by
// a version before sealing, until Start seals it) is returned as is.
func (m *Manager) openToken(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, sealedTokenPrefix)
	if !ok {
		return stored, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("unable to read the sealed device token: %w", err)
	}
	tok, err := m.keys.Open(b)
	if err != nil {
		return "", fmt.Errorf("unable to open the sealed device token: %w", err)
	}
	return string(tok), nil
}

// sealStoredTokens seals the device tokens a former version stored in
// clear.
func (m *Manager) sealStoredTokens(ctx context.Context) error {
	devs, err := m.db.ListDevices(ctx)
	if err != nil {
		return err
	}
	for _, d := range devs {
		if strings.HasPrefix(d.Token, sealedTokenPrefix) {
			continue
		}
		sealed, err := m.sealToken(d.Token)
		if err != nil {
			return err
		}
		if _, err := m.db.UpdateDevice(ctx, d.Name, func(x *db.Device) error {
			if x.Token == d.Token {
				x.Token = sealed
			}
			return nil
		}); err != nil {
			return err
		}
		m.log.Info("device token sealed in the database", "device", d.Name)
	}
	return nil
}
