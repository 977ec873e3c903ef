package job

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// A capture of the daemon's own API (SPEC §9) would record its bearer
// tokens and feed on its own result downloads: a live job on an interface
// that carries Configuration.APIAddr is refused unless its filter leaves
// that traffic out. The compiled filter is run (golang.org/x/net/bpf, in
// process: the program is already compiled and bounded) on synthetic TCP
// segments to and from the API's address and port; if it takes any, the
// job is refused. A filter the check cannot run (a link type it does not
// frame, an instruction the VM lacks) is refused the same way.

// checkOwnAPI refuses (ErrInvalid) a live job on iface whose compiled
// filter insns (nil: no filter) takes the API's traffic.
func (m *Manager) checkOwnAPI(iface string, linkType layers.LinkType, insns []pcap.BPFInstruction) error {
	if m.cfg.APIAddr == "" {
		return nil
	}
	ap, err := netip.ParseAddrPort(m.cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("own API address %q: %w", m.cfg.APIAddr, err)
	}
	addrs := apiAddrsOn(iface, ap.Addr().Unmap())
	if len(addrs) == 0 {
		return nil
	}
	port := ap.Port()
	refuse := func(why string) error {
		return invalidf("interface %q carries this device's own API (port %d) and %s: a capture there would record "+
			"its credentials; give a filter that leaves it out, such as \"not port %d\"", iface, port, why, port)
	}
	if insns == nil {
		return refuse("the job has no filter")
	}
	raw := make([]bpf.Instruction, len(insns))
	for i, in := range insns {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
	}
	vm, err := bpf.NewVM(raw)
	if err != nil {
		return refuse(fmt.Sprintf("its filter cannot be checked (%v)", err))
	}
	for _, a := range addrs {
		peer := netip.MustParseAddr("192.0.2.1")
		if a.Is6() {
			peer = netip.MustParseAddr("2001:db8::1")
		}
		if a.IsLoopback() {
			peer = a
		}
		for _, seg := range []struct {
			src, dst      netip.AddrPort
			syn, ack, psh bool
		}{
			{netip.AddrPortFrom(peer, 40000), netip.AddrPortFrom(a, port), true, false, false},
			{netip.AddrPortFrom(a, port), netip.AddrPortFrom(peer, 40000), true, true, false},
			{netip.AddrPortFrom(peer, 40000), netip.AddrPortFrom(a, port), false, true, true},
			{netip.AddrPortFrom(a, port), netip.AddrPortFrom(peer, 40000), false, true, true},
		} {
			frame, err := tcpFrame(linkType, seg.src, seg.dst, seg.syn, seg.ack, seg.psh)
			if err != nil {
				return refuse(fmt.Sprintf("its filter cannot be checked (%v)", err))
			}
			n, err := vm.Run(frame)
			if err != nil {
				return refuse(fmt.Sprintf("its filter cannot be checked (%v)", err))
			}
			if n > 0 {
				return refuse(fmt.Sprintf("its filter takes the API's traffic (%s to %s)", seg.src, seg.dst))
			}
		}
	}
	return nil
}

// apiAddrsOn returns the addresses at which iface carries an API
// listening on ip: ip on the loopback interface for a loopback ip, ip on
// the interface that holds it, every address of iface for an unspecified
// ip; the "any" pseudo-interface carries them all.
func apiAddrsOn(iface string, ip netip.Addr) []netip.Addr {
	if iface == "any" {
		if ip.IsUnspecified() {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		}
		return []netip.Addr{ip}
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil
	}
	if ip.IsLoopback() {
		if ifi.Flags&net.FlagLoopback != 0 {
			return []netip.Addr{ip}
		}
		return nil
	}
	list, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var held []netip.Addr
	for _, a := range list {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if ip.IsUnspecified() || p.Addr().Unmap() == ip {
			held = append(held, p.Addr().Unmap())
		}
	}
	return held
}

// tcpFrame builds a TCP segment from src to dst framed for linkType.
func tcpFrame(linkType layers.LinkType, src, dst netip.AddrPort, syn, ack, psh bool) ([]byte, error) {
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: 1, Ack: 1, SYN: syn, ACK: ack, PSH: psh, Window: 65535}
	var ip gopacket.SerializableLayer
	etherType, family := layers.EthernetTypeIPv4, uint32(2)
	if src.Addr().Is4() {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice())}
		_ = tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice())}
		_ = tcp.SetNetworkLayerForChecksum(ip6)
		ip, etherType, family = ip6, layers.EthernetTypeIPv6, 10
	}
	buf := gopacket.NewSerializeBuffer()
	payload := gopacket.Payload("POST /RPC2 HTTP/1.1\r\n")
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, payload); err != nil {
		return nil, err
	}
	packet := buf.Bytes()
	var head []byte
	switch linkType {
	case layers.LinkTypeEthernet:
		head = make([]byte, 14)
		copy(head[0:6], []byte{0x02, 0, 0, 0, 0, 1})
		copy(head[6:12], []byte{0x02, 0, 0, 0, 0, 2})
		binary.BigEndian.PutUint16(head[12:], uint16(etherType))
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12: // 12: DLT_RAW, as libpcap reports it
	case layers.LinkTypeLinuxSLL:
		head = make([]byte, 16)
		binary.BigEndian.PutUint16(head[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(head[4:], 6)
		binary.BigEndian.PutUint16(head[14:], uint16(etherType))
	case layers.LinkTypeNull:
		head = make([]byte, 4)
		binary.NativeEndian.PutUint32(head, family)
	default:
		return nil, fmt.Errorf("link type %s is not framed by the check", linkType)
	}
	return append(head, packet...), nil
}
