// Package flowfilter is the nfdump-style filter language of flow queries
// (SPEC §12): a small recursive-descent parser of our own giving an AST,
// and three compilers of it: an SQL WHERE clause with bound parameters
// (the AM's flow store), a Go predicate over one flow (tests, packet
// cuts) and a BPF expression (libpcap).
//
// The language, by example:
//
//	proto tcp and dst port 443 and src net 10.0.0.0/8 and bytes > 1000
//	host 192.0.2.1 or (udp and not port 53)
//	!(src host 2001:db8::1) && port >= 1024 || packets <= 3
//
// Terms: proto tcp|udp|icmp|icmp6|N (also bare tcp, udp, icmp, icmp6);
// [src|dst] host ADDR (also ip ADDR); [src|dst] net PREFIX (an address
// alone is a host prefix); [src|dst] port [OP] N; bytes OP N and packets
// OP N, where N may end in k, m or g (×1000, ×1000², ×1000³) and bytes
// and packets count both directions of a biflow. OP is one of = == != <
// <= > >= (or eq ne lt le gt ge); without one it is =. Without src or dst
// a term matches either end. Operators: not (!), and (&&), or (||), in
// that order of precedence, and parentheses. Keywords are
// case-insensitive.
//
// Errors are *Error, which carries the byte position of the problem,
// counted from 1: "position 17: expected a port number, got "x"".
package flowfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxLength is the longest filter accepted, in bytes.
const MaxLength = 4096

// maxDepth bounds the nesting of parentheses and negations, so that a
// hostile filter cannot exhaust the stack.
const maxDepth = 64

// Error is a filter that does not parse: where (the byte position counted
// from 1; one past the end when the filter ends too early) and what.
type Error struct {
	Pos int
	Msg string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

// Filter is a parsed filter. The zero value and the result of parsing an
// empty filter match every flow.
type Filter struct {
	// Root is the expression; nil matches every flow.
	Root Node
}

// Parse parses a filter expression. An empty (or blank) expression
// matches every flow.
func Parse(s string) (*Filter, error) {
	if len(s) > MaxLength {
		return nil, &Error{Pos: MaxLength + 1, Msg: fmt.Sprintf("filter longer than %d bytes", MaxLength)}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, end: len(s) + 1}
	if len(toks) == 0 {
		return &Filter{}, nil
	}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t, ok := p.peek(); ok {
		if t.kind == tokRParen {
			return nil, p.errAt(t, "unbalanced ')'")
		}
		return nil, p.errAt(t, fmt.Sprintf("expected 'and', 'or' or the end, got %q", t.text))
	}
	return &Filter{Root: n}, nil
}

// String is the filter in a canonical form (fully parenthesized).
func (f *Filter) String() string {
	if f == nil || f.Root == nil {
		return ""
	}
	return f.Root.String()
}

// Dir says which end of a flow a term looks at.
type Dir uint8

// Ends of a flow.
const (
	// Either end (no src or dst given).
	Either Dir = iota
	// Src is the source (the initiator of a biflow).
	Src
	// Dst is the destination.
	Dst
)

func (d Dir) prefix() string {
	switch d {
	case Src:
		return "src "
	case Dst:
		return "dst "
	}
	return ""
}

// Op is a comparison.
type Op uint8

// Comparisons.
const (
	Eq Op = iota
	Ne
	Lt
	Le
	Gt
	Ge
)

var opText = [...]string{Eq: "=", Ne: "!=", Lt: "<", Le: "<=", Gt: ">", Ge: ">="}

func (o Op) String() string { return opText[o] }

// Compare tells whether a compares to b as o says (a < b for Lt), for
// evaluators of the AST other than Match (the flow store's, over
// columns).
func (o Op) Compare(a, b uint64) bool { return o.cmp(a, b) }

func (o Op) cmp(a, b uint64) bool {
	switch o {
	case Eq:
		return a == b
	case Ne:
		return a != b
	case Lt:
		return a < b
	case Le:
		return a <= b
	case Gt:
		return a > b
	}
	return a >= b
}

// Node is an expression of the AST: And, Or, Not, Proto, Host, Net, Port
// or Count.
type Node interface {
	// Match tells whether a flow matches (the Go predicate).
	Match(f *Flow) bool
	// String is the node in canonical form.
	String() string
}

// And matches flows matching both sides.
type And struct{ L, R Node }

// Or matches flows matching either side.
type Or struct{ L, R Node }

// Not matches flows not matching X.
type Not struct{ X Node }

// Proto matches the IP protocol number.
type Proto struct{ N uint8 }

// Host matches an address at one end or either.
type Host struct {
	Dir  Dir
	Addr netip.Addr
}

// Net matches an address within a prefix at one end or either.
type Net struct {
	Dir    Dir
	Prefix netip.Prefix
}

// Port compares a transport port at one end or either.
type Port struct {
	Dir Dir
	Op  Op
	N   uint16
}

// Field is a counted field of a flow.
type Field uint8

// Counted fields; both count the two directions of a biflow.
const (
	Bytes Field = iota
	Packets
)

func (f Field) String() string {
	if f == Packets {
		return "packets"
	}
	return "bytes"
}

// Count compares bytes or packets.
type Count struct {
	Field Field
	Op    Op
	N     uint64
}

func (n *And) String() string   { return "(" + n.L.String() + " and " + n.R.String() + ")" }
func (n *Or) String() string    { return "(" + n.L.String() + " or " + n.R.String() + ")" }
func (n *Not) String() string   { return "not " + n.X.String() }
func (n *Proto) String() string { return "proto " + protoName(n.N) }
func (n *Host) String() string  { return n.Dir.prefix() + "host " + n.Addr.String() }
func (n *Net) String() string   { return n.Dir.prefix() + "net " + n.Prefix.String() }
func (n *Port) String() string {
	return n.Dir.prefix() + "port " + n.Op.String() + " " + strconv.Itoa(int(n.N))
}
func (n *Count) String() string {
	return n.Field.String() + " " + n.Op.String() + " " + strconv.FormatUint(n.N, 10)
}

// protocols are the protocol names the language knows.
var protocols = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "icmp6": 58, "ipv6-icmp": 58, "sctp": 132, "gre": 47, "esp": 50}

func protoName(n uint8) string {
	switch n {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmp6"
	}
	return strconv.Itoa(int(n))
}

// Tokens.
type tokKind uint8

const (
	tokWord tokKind = iota
	tokLParen
	tokRParen
	tokNot
	tokAnd
	tokOr
	tokOp
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset, from 0
	op   Op
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '_' || c == '-' || c == '%'
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{kind: tokLParen, text: "(", pos: i})
			i++
		case c == ')':
			out = append(out, token{kind: tokRParen, text: ")", pos: i})
			i++
		case strings.HasPrefix(s[i:], "&&"):
			out = append(out, token{kind: tokAnd, text: "&&", pos: i})
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			out = append(out, token{kind: tokOr, text: "||", pos: i})
			i += 2
		case strings.HasPrefix(s[i:], "!="):
			out = append(out, token{kind: tokOp, text: "!=", pos: i, op: Ne})
			i += 2
		case c == '!':
			out = append(out, token{kind: tokNot, text: "!", pos: i})
			i++
		case c == '<' || c == '>' || c == '=':
			t := token{kind: tokOp, text: s[i : i+1], pos: i}
			if i+1 < len(s) && s[i+1] == '=' {
				t.text = s[i : i+2]
			}
			switch t.text {
			case "<":
				t.op = Lt
			case "<=":
				t.op = Le
			case ">":
				t.op = Gt
			case ">=":
				t.op = Ge
			default:
				t.op = Eq
			}
			out = append(out, t)
			i += len(t.text)
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			t := token{kind: tokWord, text: s[i:j], pos: i}
			switch strings.ToLower(t.text) {
			case "and":
				t.kind = tokAnd
			case "or":
				t.kind = tokOr
			case "not":
				t.kind = tokNot
			case "eq", "ne", "lt", "le", "gt", "ge":
				t.kind = tokOp
				t.op = map[string]Op{"eq": Eq, "ne": Ne, "lt": Lt, "le": Le, "gt": Gt, "ge": Ge}[strings.ToLower(t.text)]
			}
			out = append(out, t)
			i = j
		default:
			return nil, &Error{Pos: i + 1, Msg: fmt.Sprintf("unexpected character %q", rune(c))}
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	i    int
	end  int // position reported at the end of the filter
}

func (p *parser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.i], true
}

func (p *parser) errAt(t token, msg string) error { return &Error{Pos: t.pos + 1, Msg: msg} }

// errNext is an error about the next token, or the end.
func (p *parser) errNext(want string) error {
	t, ok := p.peek()
	if !ok {
		return &Error{Pos: p.end, Msg: want + ", got the end of the filter"}
	}
	return p.errAt(t, fmt.Sprintf("%s, got %q", want, t.text))
}

func (p *parser) or(depth int) (Node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind != tokOr {
			return l, nil
		}
		p.i++
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &Or{L: l, R: r}
	}
}

func (p *parser) and(depth int) (Node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.kind != tokAnd {
			return l, nil
		}
		p.i++
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = &And{L: l, R: r}
	}
}

func (p *parser) unary(depth int) (Node, error) {
	t, ok := p.peek()
	if !ok {
		return nil, p.errNext("expected a term")
	}
	if depth >= maxDepth {
		return nil, p.errAt(t, fmt.Sprintf("nested deeper than %d", maxDepth))
	}
	switch t.kind {
	case tokNot:
		p.i++
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case tokLParen:
		p.i++
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		c, ok := p.peek()
		if !ok || c.kind != tokRParen {
			if !ok {
				return nil, &Error{Pos: p.end, Msg: fmt.Sprintf("missing ')' for the '(' at position %d", t.pos+1)}
			}
			return nil, p.errNext("expected ')'")
		}
		p.i++
		return x, nil
	case tokWord:
		return p.term()
	}
	return nil, p.errNext("expected a term")
}

// word consumes the next token if it is a word and returns it lowercased.
func (p *parser) word() (token, string, bool) {
	t, ok := p.peek()
	if !ok || t.kind != tokWord {
		return t, "", false
	}
	p.i++
	return t, strings.ToLower(t.text), true
}

func (p *parser) term() (Node, error) {
	t, w, _ := p.word()
	dir := Either
	if w == "src" || w == "dst" {
		dir = Src
		if w == "dst" {
			dir = Dst
		}
		var ok bool
		if t, w, ok = p.word(); !ok {
			return nil, p.errNext("expected host, net or port after " + strings.TrimSpace(dir.prefix()))
		}
	}
	switch w {
	case "host", "ip":
		a, err := p.addr()
		if err != nil {
			return nil, err
		}
		return &Host{Dir: dir, Addr: a}, nil
	case "net":
		pr, err := p.prefix()
		if err != nil {
			return nil, err
		}
		return &Net{Dir: dir, Prefix: pr}, nil
	case "port":
		op := p.op()
		n, err := p.number("a port number", 65535)
		if err != nil {
			return nil, err
		}
		return &Port{Dir: dir, Op: op, N: uint16(n)}, nil
	}
	if dir != Either {
		return nil, p.errAt(t, fmt.Sprintf("expected host, net or port after %s, got %q", strings.TrimSpace(dir.prefix()), t.text))
	}
	switch w {
	case "proto":
		pt, pw, ok := p.word()
		if !ok {
			return nil, p.errNext("expected a protocol (tcp, udp, icmp, icmp6 or a number)")
		}
		if n, ok := protocols[pw]; ok {
			return &Proto{N: n}, nil
		}
		n, err := strconv.ParseUint(pw, 10, 8)
		if err != nil {
			return nil, p.errAt(pt, fmt.Sprintf("expected a protocol (tcp, udp, icmp, icmp6 or a number up to 255), got %q", pt.text))
		}
		return &Proto{N: uint8(n)}, nil
	case "tcp", "udp", "icmp", "icmp6":
		return &Proto{N: protocols[w]}, nil
	case "bytes", "packets":
		f := Bytes
		if w == "packets" {
			f = Packets
		}
		op := p.op()
		n, err := p.count("a number of " + w)
		if err != nil {
			return nil, err
		}
		return &Count{Field: f, Op: op, N: n}, nil
	}
	return nil, p.errAt(t, fmt.Sprintf("expected a term (proto, host, net, port, bytes, packets, src, dst, not or '('), got %q", t.text))
}

// op consumes an optional comparison; none is Eq.
func (p *parser) op() Op {
	t, ok := p.peek()
	if !ok || t.kind != tokOp {
		return Eq
	}
	p.i++
	return t.op
}

func (p *parser) number(what string, max uint64) (uint64, error) {
	t, ok := p.peek()
	if !ok || t.kind != tokWord {
		return 0, p.errNext("expected " + what)
	}
	n, err := strconv.ParseUint(t.text, 10, 64)
	if err != nil || n > max {
		return 0, p.errAt(t, fmt.Sprintf("expected %s (0 to %d), got %q", what, max, t.text))
	}
	p.i++
	return n, nil
}

// count parses a number with an optional k, m or g suffix.
func (p *parser) count(what string) (uint64, error) {
	t, ok := p.peek()
	if !ok || t.kind != tokWord {
		return 0, p.errNext("expected " + what)
	}
	s, mul := strings.ToLower(t.text), uint64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k':
			mul, s = 1e3, s[:len(s)-1]
		case 'm':
			mul, s = 1e6, s[:len(s)-1]
		case 'g':
			mul, s = 1e9, s[:len(s)-1]
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > (1<<63)/mul {
		return 0, p.errAt(t, fmt.Sprintf("expected %s (digits, optionally ending in k, m or g), got %q", what, t.text))
	}
	p.i++
	return n * mul, nil
}

func (p *parser) addr() (netip.Addr, error) {
	t, ok := p.peek()
	if !ok || t.kind != tokWord {
		return netip.Addr{}, p.errNext("expected an IP address")
	}
	a, err := netip.ParseAddr(t.text)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, p.errAt(t, fmt.Sprintf("expected an IP address, got %q", t.text))
	}
	p.i++
	return a.Unmap(), nil
}

func (p *parser) prefix() (netip.Prefix, error) {
	t, ok := p.peek()
	if !ok || t.kind != tokWord {
		return netip.Prefix{}, p.errNext("expected a prefix (address/length)")
	}
	var pr netip.Prefix
	var err error
	if strings.Contains(t.text, "/") {
		pr, err = netip.ParsePrefix(t.text)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(t.text); err == nil {
			pr = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil || pr.Addr().Zone() != "" {
		return netip.Prefix{}, p.errAt(t, fmt.Sprintf("expected a prefix (address/length), got %q", t.text))
	}
	if pr.Addr().Is4In6() {
		bits := pr.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, p.errAt(t, fmt.Sprintf("expected a prefix (address/length), got %q (an IPv4-mapped prefix shorter than /96)", t.text))
		}
		pr = netip.PrefixFrom(pr.Addr().Unmap(), bits)
	}
	p.i++
	return pr.Masked(), nil
}
