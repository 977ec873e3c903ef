package packet

import (
	"fmt"
	"strings"
)

// PayloadMode says what a Sanitizer does with the bytes after the innermost
// transport header of a known transport (SPEC §8 `payload`).
type PayloadMode uint8

const (
	// PayloadStrip cuts them: the frame keeps its headers through the
	// transport header and the capture length shrinks. The default.
	PayloadStrip PayloadMode = iota
	// PayloadZero overwrites them with zeros, keeping the length.
	PayloadZero
	// PayloadKeep keeps them as captured. Bytes the sanitizer does not
	// understand are still cut.
	PayloadKeep
)

var payloadModeNames = [...]string{PayloadStrip: "strip", PayloadZero: "zero", PayloadKeep: "keep"}

// String returns the mode's SPEC name: "strip", "zero" or "keep".
func (m PayloadMode) String() string {
	if int(m) < len(payloadModeNames) {
		return payloadModeNames[m]
	}
	return fmt.Sprintf("PayloadMode(%d)", uint8(m))
}

// ParsePayloadMode parses "strip", "zero" or "keep" (any case; "" is an
// error, the caller applies the default).
func ParsePayloadMode(s string) (PayloadMode, error) {
	for i, n := range payloadModeNames {
		if strings.EqualFold(s, n) {
			return PayloadMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown payload mode %q (want strip, zero or keep)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m PayloadMode) MarshalText() ([]byte, error) {
	if int(m) >= len(payloadModeNames) {
		return nil, fmt.Errorf("invalid payload mode %d", uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParsePayloadMode.
func (m *PayloadMode) UnmarshalText(b []byte) error {
	v, err := ParsePayloadMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MACMode says what a Sanitizer does with MAC addresses (SPEC §8 `mac`).
type MACMode uint8

const (
	// MACKeyed maps each unicast MAC with the keyed permutation of the
	// SanitizerConfig's MACs (package transform/macanon). The default.
	MACKeyed MACMode = iota
	// MACZero overwrites each unicast MAC with 00:00:00:00:00:00.
	MACZero
	// MACKeep keeps MACs as captured.
	MACKeep
)

var macModeNames = [...]string{MACKeyed: "keyed", MACZero: "zero", MACKeep: "keep"}

// String returns the mode's SPEC name: "keyed", "zero" or "keep".
func (m MACMode) String() string {
	if int(m) < len(macModeNames) {
		return macModeNames[m]
	}
	return fmt.Sprintf("MACMode(%d)", uint8(m))
}

// ParseMACMode parses "keyed", "zero" or "keep" (any case; "" is an error,
// the caller applies the default).
func ParseMACMode(s string) (MACMode, error) {
	for i, n := range macModeNames {
		if strings.EqualFold(s, n) {
			return MACMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown MAC mode %q (want keyed, zero or keep)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m MACMode) MarshalText() ([]byte, error) {
	if int(m) >= len(macModeNames) {
		return nil, fmt.Errorf("invalid MAC mode %d", uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseMACMode.
func (m *MACMode) UnmarshalText(b []byte) error {
	v, err := ParseMACMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MACAnonymizer maps MAC addresses. *macanon.Mapper implements it; the
// mapping of an address must not depend on anything but the address.
type MACAnonymizer interface {
	// AnonymizeMAC maps a MAC address.
	AnonymizeMAC([6]byte) [6]byte
}

// KeepReserved wraps a so that the addresses that name no host are kept:
// 0.0.0.0 (unspecified: DHCP clients, ARP probes), 255.255.255.255
// (limited broadcast) and :: (unspecified: duplicate address detection).
// Every other address is mapped by a; should a map one to a kept address,
// it is mapped again (cycle walking), so the result is still a permutation
// of the other addresses. A Sanitizer applies it to its Anonymizer; flow
// records and IPFIX exports of the same experiment must map their
// addresses through it too, to stay consistent with sanitized packets.
func KeepReserved(a Anonymizer) Anonymizer { return keepReserved{a} }

type keepReserved struct{ a Anonymizer }

var (
	zero4  = [4]byte{}
	bcast4 = [4]byte{255, 255, 255, 255}
	zero16 = [16]byte{}
)

// Anonymize4 maps x unless it is 0.0.0.0 or 255.255.255.255.
func (k keepReserved) Anonymize4(x [4]byte) [4]byte {
	if x == zero4 || x == bcast4 {
		return x
	}
	y := k.a.Anonymize4(x)
	for i := 0; i < 2 && (y == zero4 || y == bcast4); i++ {
		y = k.a.Anonymize4(y)
	}
	return y
}

// Anonymize16 maps x unless it is ::.
func (k keepReserved) Anonymize16(x [16]byte) [16]byte {
	if x == zero16 {
		return x
	}
	y := k.a.Anonymize16(x)
	if y == zero16 {
		y = k.a.Anonymize16(y)
	}
	return y
}
