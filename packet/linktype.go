package packet

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Link types that gopacket v1.1.19 does not name. layers.LinkType is a uint8
// there, so LINKTYPE_LINUX_SLL2 (276) reaches us truncated to 276&0xff = 20,
// both from pcapgo readers and from libpcap handles; 20 is not assigned to
// any other link type, so the truncated value identifies SLL2 unambiguously.
const (
	// LinkTypeLinuxSLL2 is LINKTYPE_LINUX_SLL2 (276) as a gopacket v1.1.19
	// layers.LinkType carries it (truncated to 8 bits).
	LinkTypeLinuxSLL2 = layers.LinkType(276 & 0xff)
	// LinkTypeRawDLT12 is DLT_RAW as most libpcap platforms number it
	// (pcap files store it as LINKTYPE_RAW, 101).
	LinkTypeRawDLT12 layers.LinkType = 12
	// LinkTypeRawDLT14 is DLT_RAW as OpenBSD numbers it.
	LinkTypeRawDLT14 layers.LinkType = 14
)

// Layer types for the link layers gopacket does not decode the way we need.
// They are never registered with gopacket (registration mutates its global
// tables); the DecodingLayerParser only needs them as map keys.
const (
	layerTypeSLL2  gopacket.LayerType = 1990 // Linux cooked v2 header
	layerTypeRawIP gopacket.LayerType = 1991 // no header: dispatch on the IP version nibble
	layerTypePWCW  gopacket.LayerType = 1992 // MPLS pseudowire control word, then Ethernet
)

var (
	errShortLink   = errors.New("link-layer header too short")
	errEmptyPacket = errors.New("empty packet")
)

// firstLayer maps a capture link type to the layer the parser starts with.
func firstLayer(lt layers.LinkType) (gopacket.LayerType, error) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, nil
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, nil
	case LinkTypeLinuxSLL2:
		return layerTypeSLL2, nil
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, nil
	case LinkTypeRawDLT12, LinkTypeRawDLT14, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		// Like tcpdump, trust the version nibble over the link type:
		// a LINKTYPE_IPV4 capture holding an IPv6 packet decodes as IPv6.
		return layerTypeRawIP, nil
	}
	return gopacket.LayerTypeZero, fmt.Errorf("unsupported link type %d (%v)", uint8(lt), lt)
}

// etherNext maps an EtherType (or the SLL protocol field) to the next layer:
// only what leads to IP is followed.
func etherNext(t layers.EthernetType) gopacket.LayerType {
	switch t {
	case layers.EthernetTypeIPv4:
		return layers.LayerTypeIPv4
	case layers.EthernetTypeIPv6:
		return layers.LayerTypeIPv6
	case layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, 0x9100: // 0x9100: pre-802.1ad QinQ
		return layers.LayerTypeDot1Q
	case layers.EthernetTypeMPLSUnicast, layers.EthernetTypeMPLSMulticast:
		return layers.LayerTypeMPLS
	}
	return gopacket.LayerTypeZero
}

// versionNext dispatches on the IP version nibble of data.
func versionNext(data []byte) gopacket.LayerType {
	if len(data) == 0 {
		return gopacket.LayerTypeZero
	}
	switch data[0] >> 4 {
	case 4:
		return layers.LayerTypeIPv4
	case 6:
		return layers.LayerTypeIPv6
	}
	return gopacket.LayerTypeZero
}

// ethernetLayer is layers.Ethernet following only EtherTypes that lead to IP.
type ethernetLayer struct {
	layers.Ethernet
	d *Decoder
}

func (l *ethernetLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.cur = data
	return l.Ethernet.DecodeFromBytes(data, df)
}

func (l *ethernetLayer) NextLayerType() gopacket.LayerType { return etherNext(l.EthernetType) }

// dot1qLayer is layers.Dot1Q recording the outermost VLAN identifier. It
// decodes 802.1Q, 802.1ad (QinQ) and the older 0x9100 tags alike.
type dot1qLayer struct {
	layers.Dot1Q
	d *Decoder
}

func (l *dot1qLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.cur = data
	if err := l.Dot1Q.DecodeFromBytes(data, df); err != nil {
		return err
	}
	if !l.d.vlanSeen {
		l.d.vlanSeen = true
		l.d.s.VLAN = l.VLANIdentifier
	}
	return nil
}

func (l *dot1qLayer) NextLayerType() gopacket.LayerType { return etherNext(l.Type) }

// mplsLayer decodes one MPLS label stack entry. gopacket v1.1.19's MPLS is
// not a DecodingLayer; below the bottom of the stack we guess from the first
// nibble, as tcpdump and Wireshark do: IPv4, IPv6, or 0 for the control
// word of an Ethernet pseudowire (RFC 4448), whose IP packets must be
// anonymized too.
type mplsLayer struct {
	layers.BaseLayer
	bottom bool
	d      *Decoder
}

func (l *mplsLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.cur = data
	if len(data) < 4 {
		df.SetTruncated()
		return fmt.Errorf("MPLS label stack entry: %w", errShortLink)
	}
	l.bottom = data[2]&0x01 != 0
	l.BaseLayer = layers.BaseLayer{Contents: data[:4], Payload: data[4:]}
	return nil
}

func (l *mplsLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeMPLS }

func (l *mplsLayer) NextLayerType() gopacket.LayerType {
	if !l.bottom {
		return layers.LayerTypeMPLS
	}
	if len(l.Payload) > 0 && l.Payload[0]>>4 == 0 {
		return layerTypePWCW
	}
	return versionNext(l.Payload)
}

// pwControlWordLayer skips the 4-byte control word of an Ethernet
// pseudowire; an Ethernet frame follows.
type pwControlWordLayer struct {
	layers.BaseLayer
	d *Decoder
}

func (l *pwControlWordLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.cur = data
	if len(data) < 4 {
		df.SetTruncated()
		return fmt.Errorf("pseudowire control word: %w", errShortLink)
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:4], Payload: data[4:]}
	return nil
}

func (l *pwControlWordLayer) CanDecode() gopacket.LayerClass { return layerTypePWCW }

func (l *pwControlWordLayer) NextLayerType() gopacket.LayerType { return layers.LayerTypeEthernet }

// sllLayer decodes the Linux cooked headers: v1 (16 bytes, protocol at
// offset 14) and v2 (20 bytes, protocol at offset 0). gopacket's LinuxSLL
// can slice out of bounds on a bad address length and v1.1.19 has no SLL2.
type sllLayer struct {
	layers.BaseLayer
	v2    bool
	proto layers.EthernetType
	d     *Decoder
}

func (l *sllLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.cur = data
	hl, at := 16, 14
	if l.v2 {
		hl, at = 20, 0
	}
	if len(data) < hl {
		df.SetTruncated()
		return fmt.Errorf("SLL (Linux cooked) header: %w", errShortLink)
	}
	l.proto = layers.EthernetType(binary.BigEndian.Uint16(data[at:]))
	l.BaseLayer = layers.BaseLayer{Contents: data[:hl], Payload: data[hl:]}
	return nil
}

func (l *sllLayer) CanDecode() gopacket.LayerClass {
	if l.v2 {
		return layerTypeSLL2
	}
	return layers.LayerTypeLinuxSLL
}

func (l *sllLayer) NextLayerType() gopacket.LayerType { return etherNext(l.proto) }

// loopbackLayer decodes the 4-byte address family of DLT_NULL (host byte
// order) and DLT_LOOP (network byte order). AF_INET is 2 everywhere;
// AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
type loopbackLayer struct {
	layers.BaseLayer
	family uint32
	d      *Decoder
}

func (l *loopbackLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.cur = data
	if len(data) < 4 {
		df.SetTruncated()
		return fmt.Errorf("loopback header: %w", errShortLink)
	}
	// Families are small numbers: zero high bytes tell the byte order.
	if data[0] == 0 && data[1] == 0 {
		l.family = binary.BigEndian.Uint32(data)
	} else {
		l.family = binary.LittleEndian.Uint32(data)
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:4], Payload: data[4:]}
	return nil
}

func (l *loopbackLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeLoopback }

func (l *loopbackLayer) NextLayerType() gopacket.LayerType {
	switch l.family {
	case 2:
		return layers.LayerTypeIPv4
	case 10, 24, 28, 30:
		return layers.LayerTypeIPv6
	}
	return gopacket.LayerTypeZero
}

// rawIPLayer is the empty link layer of raw IP captures: it only picks
// IPv4 or IPv6 from the version nibble.
type rawIPLayer struct {
	layers.BaseLayer
	d *Decoder
}

func (l *rawIPLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	l.d.cur = data
	if len(data) == 0 {
		df.SetTruncated()
		return errEmptyPacket
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:0], Payload: data}
	return nil
}

func (l *rawIPLayer) CanDecode() gopacket.LayerClass { return layerTypeRawIP }

func (l *rawIPLayer) NextLayerType() gopacket.LayerType { return versionNext(l.Payload) }
