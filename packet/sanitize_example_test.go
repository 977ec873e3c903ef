package packet_test

import (
	"fmt"

	"github.com/google/gopacket/layers"

	"github.com/gimsproject/gims/packet"
	"github.com/gimsproject/gims/transform/cryptopan"
	"github.com/gimsproject/gims/transform/macanon"
)

// ExampleSanitizer shows the plumbing: one Crypto-PAn key for the
// experiment gives the IP and the MAC mappings; each capture goroutine has
// its own Sanitizer; a frame is rewritten in place and written with its
// new capture length (and its original wire length), or dropped and
// counted.
func ExampleSanitizer() {
	key, _ := cryptopan.KeyFromSecret("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	ip, _ := cryptopan.New(key[:])
	macs, _ := macanon.New(key[:])
	payload, _ := packet.ParsePayloadMode("strip")
	mac, _ := packet.ParseMACMode("keyed")
	s, err := packet.NewSanitizer(layers.LinkTypeEthernet, packet.SanitizerConfig{
		Payload: payload, MAC: mac, IP: ip, MACs: macs})
	if err != nil {
		panic(err)
	}
	// An LLDP frame: only its Ethernet header is kept, both addresses
	// mapped (the destination stays a group address).
	frame := []byte{0x01, 0x80, 0xc2, 0, 0, 0x0e, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x88, 0xcc,
		0x02, 0x07, 0x04, 0, 0x11, 0x22, 0x33, 0x44, 0x55}
	keep, res := s.Sanitize(frame)
	fmt.Println(keep, res.Drop, res.Denied, frame[0]&1 == 1, fmt.Sprintf("% x", frame[:12]) != "01 80 c2 00 00 0e 00 11 22 33 44 55")
	// Output: 14 false true true true
}
