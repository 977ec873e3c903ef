package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// kind is the XML-RPC type of a parsed value.
type kind uint8

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDouble
	kindTime
	kindBase64
	kindStruct
	kindArray
	kindNil
)

// String returns the XML-RPC element name of the kind.
func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindInt:
		return "int"
	case kindBool:
		return "boolean"
	case kindDouble:
		return "double"
	case kindTime:
		return "dateTime.iso8601"
	case kindBase64:
		return "base64"
	case kindStruct:
		return "struct"
	case kindArray:
		return "array"
	case kindNil:
		return "nil"
	}
	return "unknown"
}

// value is one parsed XML-RPC value. Requests are parsed into a tree of
// values first (bounded by limits), then assigned to Go types, so type
// errors name their place and multicall can dispatch sub-calls.
type value struct {
	kind  kind
	i     int64     // kindInt; kindBool (0 or 1)
	f     float64   // kindDouble
	s     string    // kindString; kindBase64 (the decoded bytes)
	t     time.Time // kindTime, in UTC
	elems []value   // kindArray elements; kindStruct member values
	names []string  // kindStruct member names, parallel to elems
}

// limits bound the work a parse may do.
type limits struct {
	maxDepth  int // array/struct nesting
	maxValues int // <value> elements
}

// methodCall is a parsed request.
type methodCall struct {
	method string
	params []value
}

// methodResponse is a parsed response: fault, or exactly one param.
type methodResponse struct {
	fault *Fault
	param value
}

// parser reads one XML-RPC document with scanner (strict XML: entities
// beyond the five predefined ones and character references are errors,
// DOCTYPE and other directives are refused, so nothing expands).
type parser struct {
	s      scanner
	lim    limits
	values int
	text   []byte            // scratch for character data
	names  map[string]string // member names seen (memberName)
}

func newParser(data []byte, lim limits) *parser {
	return &parser{s: scanner{data: data}, lim: lim}
}

// errorf reports a parse error with the current position.
func (p *parser) errorf(format string, args ...any) error {
	line, col := position(p.s.data, p.s.pos)
	return fmt.Errorf("line %d column %d: %s", line, col, fmt.Sprintf(format, args...))
}

// token reads the next token; a scanner error is malformed XML.
func (p *parser) token() (tokenKind, error) {
	k, err := p.s.next()
	if err != nil {
		return k, fmt.Errorf("malformed XML: %w", err)
	}
	return k, nil
}

// next returns the next start or end element (tokStart, tokEnd; tokEOF at
// the end), skipping comments, the XML declaration and whitespace; other
// character data is an error.
func (p *parser) next() (tokenKind, error) {
	for {
		k, err := p.token()
		if err != nil {
			return k, err
		}
		switch k {
		case tokStart, tokEnd, tokEOF:
			return k, nil
		case tokText:
			if len(bytes.TrimSpace(p.s.text)) != 0 {
				return k, p.errorf("unexpected text %q", truncate(string(p.s.text), 32))
			}
		case tokComment:
		case tokProcInst:
			if string(p.s.name) != "xml" {
				return k, p.errorf("processing instruction <?%s?> not allowed", truncate(string(p.s.name), 32))
			}
		case tokDirective:
			return k, p.errorf("<!%s> not allowed (no DOCTYPE or entity declarations)", truncate(string(p.s.name), 32))
		}
	}
}

// describe names the current token for error messages.
func (p *parser) describe(k tokenKind) string {
	switch k {
	case tokStart:
		return "<" + truncate(string(p.s.name), 32) + ">"
	case tokEnd:
		return "</" + truncate(string(p.s.name), 32) + ">"
	}
	return "something else"
}

// expectStart reads the next element, which must be a start element named
// name.
func (p *parser) expectStart(name string) error {
	k, err := p.next()
	if err != nil {
		return err
	}
	if k == tokEOF {
		return p.errorf("missing <%s>", name)
	}
	if k != tokStart || string(p.s.name) != name {
		return p.errorf("expected <%s>, found %s", name, p.describe(k))
	}
	return nil
}

// expectEnd reads the next element, which must end the current one.
func (p *parser) expectEnd(name string) error {
	k, err := p.next()
	if err != nil {
		return err
	}
	if k == tokEOF {
		return p.errorf("missing </%s>", name)
	}
	if k != tokEnd {
		return p.errorf("expected </%s>, found %s", name, p.describe(k))
	}
	return nil
}

// expectEOF checks that nothing but comments and whitespace follow the
// root element.
func (p *parser) expectEOF() error {
	k, err := p.next()
	if err != nil {
		return err
	}
	if k == tokEOF {
		return nil
	}
	return p.errorf("unexpected %s after the document", p.describe(k))
}

// readText returns the character data of the current element up to its end
// tag; child elements are errors.
func (p *parser) readText(name string) (string, error) {
	t, err := p.readTextBytes(name)
	return string(t), err
}

// readTextBytes is readText, the text valid until the next token.
func (p *parser) readTextBytes(name string) ([]byte, error) {
	var (
		text   []byte
		pieces int
		owned  bool // text is p.text
	)
	for {
		if pieces > 0 && !owned && p.s.textInBuf {
			// The next token may decode into the scanner's buffer.
			p.text = append(p.text[:0], text...)
			text, owned = p.text, true
		}
		k, err := p.token()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEOF:
			return nil, p.errorf("missing </%s>", name)
		case tokText:
			if pieces == 0 {
				text = p.s.text
			} else {
				if !owned {
					p.text = append(p.text[:0], text...)
					owned = true
				}
				p.text = append(p.text, p.s.text...)
				text = p.text
			}
			pieces++
		case tokEnd:
			return text, nil
		case tokStart:
			return nil, p.errorf("unexpected <%s> inside <%s>", truncate(string(p.s.name), 32), name)
		case tokDirective:
			return nil, p.errorf("directive not allowed")
		case tokProcInst:
			return nil, p.errorf("processing instruction not allowed")
		}
	}
}

// memberName returns the text of a <name>, the same string for the same
// name within a document (a list of structs repeats its member names).
func (p *parser) memberName() (string, error) {
	b, err := p.readTextBytes("name")
	if err != nil {
		return "", err
	}
	if s, ok := p.names[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(p.names) < maxInternedNames {
		if p.names == nil {
			p.names = make(map[string]string)
		}
		p.names[s] = s
	}
	return s, nil
}

// maxInternedNames bounds the member names a parser keeps.
const maxInternedNames = 256

// parseCall parses a methodCall document.
func parseCall(data []byte, lim limits) (methodCall, error) {
	p := newParser(data, lim)
	var c methodCall
	if err := p.expectStart("methodCall"); err != nil {
		return c, err
	}
	if err := p.expectStart("methodName"); err != nil {
		return c, err
	}
	name, err := p.readText("methodName")
	if err != nil {
		return c, err
	}
	name = strings.TrimSpace(name)
	if err := checkMethodName(name); err != nil {
		return c, p.errorf("%s", err)
	}
	c.method = name
	k, err := p.next()
	if err != nil {
		return c, err
	}
	if k == tokEOF {
		return c, p.errorf("missing </methodCall>")
	}
	if k == tokStart {
		if string(p.s.name) != "params" {
			return c, p.errorf("expected <params>, found <%s>", truncate(string(p.s.name), 32))
		}
		if c.params, err = p.parseParams(); err != nil {
			return c, err
		}
		if err := p.expectEnd("methodCall"); err != nil {
			return c, err
		}
	}
	return c, p.expectEOF()
}

// parseResponse parses a methodResponse document.
func parseResponse(data []byte, lim limits) (methodResponse, error) {
	p := newParser(data, lim)
	var r methodResponse
	if err := p.expectStart("methodResponse"); err != nil {
		return r, err
	}
	k, err := p.next()
	if err != nil {
		return r, err
	}
	if k == tokEOF {
		return r, p.errorf("missing </methodResponse>")
	}
	if k != tokStart {
		return r, p.errorf("expected <params> or <fault>, found %s", p.describe(k))
	}
	switch string(p.s.name) {
	case "params":
		params, err := p.parseParams()
		if err != nil {
			return r, err
		}
		if len(params) != 1 {
			return r, p.errorf("response has %d params, want 1", len(params))
		}
		r.param = params[0]
	case "fault":
		if err := p.expectStart("value"); err != nil {
			return r, err
		}
		v, err := p.parseValue(1)
		if err != nil {
			return r, err
		}
		if err := p.expectEnd("fault"); err != nil {
			return r, err
		}
		f, err := faultFromValue(&v)
		if err != nil {
			return r, err
		}
		r.fault = &f
	default:
		return r, p.errorf("expected <params> or <fault>, found <%s>", truncate(string(p.s.name), 32))
	}
	if err := p.expectEnd("methodResponse"); err != nil {
		return r, err
	}
	return r, p.expectEOF()
}

// faultFromValue reads a fault struct {faultCode int, faultString string}.
func faultFromValue(v *value) (Fault, error) {
	var f Fault
	if v.kind != kindStruct {
		return f, fmt.Errorf("fault is a %s, want struct", v.kind)
	}
	var haveCode bool
	for i, n := range v.names {
		m := &v.elems[i]
		switch n {
		case "faultCode":
			if m.kind != kindInt || m.i != int64(int(m.i)) {
				return f, fmt.Errorf("faultCode is a %s, want int", m.kind)
			}
			f.Code, haveCode = int(m.i), true
		case "faultString":
			if m.kind != kindString {
				return f, fmt.Errorf("faultString is a %s, want string", m.kind)
			}
			f.String = m.s
		}
	}
	if !haveCode {
		return f, errors.New("fault without faultCode")
	}
	return f, nil
}

// parseParams parses <param> elements up to </params>.
func (p *parser) parseParams() ([]value, error) {
	var params []value
	for {
		k, err := p.next()
		if err != nil {
			return nil, err
		}
		switch k {
		case tokEOF:
			return nil, p.errorf("missing </params>")
		case tokEnd:
			return params, nil
		case tokStart:
			if string(p.s.name) != "param" {
				return nil, p.errorf("expected <param>, found <%s>", truncate(string(p.s.name), 32))
			}
			if err := p.expectStart("value"); err != nil {
				return nil, err
			}
			v, err := p.parseValue(1)
			if err != nil {
				return nil, err
			}
			if err := p.expectEnd("param"); err != nil {
				return nil, err
			}
			params = append(params, v)
		}
	}
}

// parseValue parses the inside of a <value> element whose start tag was
// just read, up to its end tag. depth is the container nesting level.
func (p *parser) parseValue(depth int) (value, error) {
	p.values++
	if p.values > p.lim.maxValues {
		return value{}, p.errorf("more than %d values", p.lim.maxValues)
	}
	var (
		v     value
		typed bool
		// text is the character data of an untyped value so far; once
		// typed, only whether it had more than white space counts.
		text     []byte
		pieces   int
		owned    bool
		nonSpace bool
	)
	for {
		if pieces > 0 && !owned && !typed && p.s.textInBuf {
			text, owned = append([]byte(nil), text...), true
		}
		k, err := p.token()
		if err != nil {
			return v, err
		}
		switch k {
		case tokEOF:
			return v, p.errorf("missing </value>")
		case tokText:
			switch {
			case typed:
				nonSpace = nonSpace || len(bytes.TrimSpace(p.s.text)) != 0
			case pieces == 0:
				text = p.s.text
			default:
				if !owned {
					text, owned = append([]byte(nil), text...), true
				}
				text = append(text, p.s.text...)
			}
			pieces++
		case tokComment:
		case tokDirective:
			return v, p.errorf("directive not allowed")
		case tokProcInst:
			return v, p.errorf("processing instruction not allowed")
		case tokStart:
			if typed {
				return v, p.errorf("more than one type inside <value>")
			}
			nonSpace = len(bytes.TrimSpace(text)) != 0
			if v, err = p.parseTyped(p.s.name, depth); err != nil {
				return v, err
			}
			typed = true
		case tokEnd:
			if !typed {
				// An untyped value is a string, kept exactly.
				return value{kind: kindString, s: string(text)}, nil
			}
			if nonSpace {
				return v, p.errorf("text beside a typed value")
			}
			return v, nil
		}
	}
}

// parseTyped parses the type element name (start tag read) of a value.
func (p *parser) parseTyped(name []byte, depth int) (value, error) {
	switch string(name) {
	case "struct":
		return p.parseStruct(depth + 1)
	case "array":
		return p.parseArray(depth + 1)
	case "string":
		s, err := p.readText("string")
		return value{kind: kindString, s: s}, err
	case "int", "i4", "i8", "i1", "i2", "boolean", "double", "nil":
		// Short texts: parsed from the bytes, not kept.
		tn := typeName(name)
		t, err := p.readTextBytes(tn)
		if err != nil {
			return value{}, err
		}
		v, err := parseScalarBytes(tn, t)
		if err != nil {
			return v, p.errorf("%s", err)
		}
		return v, nil
	}
	tn := string(name)
	s, err := p.readText(tn)
	if err != nil {
		return value{}, err
	}
	v, err := parseScalar(tn, s)
	if err != nil {
		return v, p.errorf("%s", err)
	}
	return v, nil
}

// typeName returns the constant string of a scalar type's element name.
func typeName(name []byte) string {
	for _, n := range [...]string{"int", "i4", "i8", "i1", "i2", "boolean", "double", "nil"} {
		if string(name) == n {
			return n
		}
	}
	return string(name)
}

// parseScalarBytes is parseScalar of the numeric, boolean and nil types,
// from the bytes of their text.
func parseScalarBytes(name string, b []byte) (value, error) {
	t := bytes.TrimSpace(b)
	switch name {
	case "int", "i4", "i8", "i1", "i2":
		if n, ok := parseDecimal(t); ok {
			return value{kind: kindInt, i: n}, nil
		}
	case "boolean":
		switch string(t) {
		case "1", "true":
			return value{kind: kindBool, i: 1}, nil
		case "0", "false":
			return value{kind: kindBool}, nil
		}
	}
	return parseScalar(name, string(b))
}

// parseDecimal parses a plain decimal integer of at most 18 digits with
// an optional sign (what every encoder writes) without allocating; other
// forms are left to strconv.
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseScalar converts the text of a scalar element.
func parseScalar(name, s string) (value, error) {
	switch name {
	case "int", "i4", "i8", "i1", "i2":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return value{}, fmt.Errorf("invalid <%s> %q", name, truncate(s, 32))
		}
		return value{kind: kindInt, i: n}, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1", "true":
			return value{kind: kindBool, i: 1}, nil
		case "0", "false":
			return value{kind: kindBool}, nil
		}
		return value{}, fmt.Errorf("invalid <boolean> %q", truncate(s, 32))
	case "string":
		return value{kind: kindString, s: s}, nil
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return value{}, fmt.Errorf("invalid <double> %q", truncate(s, 32))
		}
		return value{kind: kindDouble, f: f}, nil
	case "dateTime.iso8601":
		t, err := parseTime(s)
		if err != nil {
			return value{}, err
		}
		return value{kind: kindTime, t: t}, nil
	case "base64":
		b, err := decodeBase64(s)
		if err != nil {
			return value{}, err
		}
		return value{kind: kindBase64, s: string(b)}, nil
	case "nil":
		if strings.TrimSpace(s) != "" {
			return value{}, errors.New("<nil> must be empty")
		}
		return value{kind: kindNil}, nil
	}
	return value{}, fmt.Errorf("unknown type <%s>", truncate(name, 32))
}

// parseStruct parses <member> elements up to </struct>.
func (p *parser) parseStruct(depth int) (value, error) {
	if depth > p.lim.maxDepth {
		return value{}, p.errorf("nesting deeper than %d", p.lim.maxDepth)
	}
	v := value{kind: kindStruct}
	for {
		k, err := p.next()
		if err != nil {
			return v, err
		}
		switch k {
		case tokEOF:
			return v, p.errorf("missing </struct>")
		case tokEnd:
			return v, nil
		case tokStart:
			if string(p.s.name) != "member" {
				return v, p.errorf("expected <member>, found <%s>", truncate(string(p.s.name), 32))
			}
			name, m, err := p.parseMember(depth)
			if err != nil {
				return v, err
			}
			v.names = append(v.names, name)
			v.elems = append(v.elems, m)
		}
	}
}

// parseMember parses a <name> and a <value>, in either order.
func (p *parser) parseMember(depth int) (string, value, error) {
	var (
		name              string
		v                 value
		haveName, haveVal bool
	)
	for {
		k, err := p.next()
		if err != nil {
			return "", v, err
		}
		switch k {
		case tokEOF:
			return "", v, p.errorf("missing </member>")
		case tokEnd:
			if !haveName || !haveVal {
				return "", v, p.errorf("<member> needs one <name> and one <value>")
			}
			return name, v, nil
		case tokStart:
			switch {
			case string(p.s.name) == "name" && !haveName:
				if name, err = p.memberName(); err != nil {
					return "", v, err
				}
				haveName = true
			case string(p.s.name) == "value" && !haveVal:
				if v, err = p.parseValue(depth); err != nil {
					return "", v, err
				}
				haveVal = true
			default:
				return "", v, p.errorf("unexpected <%s> in <member>", truncate(string(p.s.name), 32))
			}
		}
	}
}

// parseArray parses <data> and its values up to </array>.
func (p *parser) parseArray(depth int) (value, error) {
	if depth > p.lim.maxDepth {
		return value{}, p.errorf("nesting deeper than %d", p.lim.maxDepth)
	}
	v := value{kind: kindArray}
	if err := p.expectStart("data"); err != nil {
		return v, err
	}
	for {
		k, err := p.next()
		if err != nil {
			return v, err
		}
		switch k {
		case tokEOF:
			return v, p.errorf("missing </data>")
		case tokEnd:
			return v, p.expectEnd("array")
		case tokStart:
			if string(p.s.name) != "value" {
				return v, p.errorf("expected <value>, found <%s>", truncate(string(p.s.name), 32))
			}
			e, err := p.parseValue(depth)
			if err != nil {
				return v, err
			}
			v.elems = append(v.elems, e)
		}
	}
}

// checkMethodName applies the XML-RPC rule: letters, digits, '_', '.',
// ':' and '/', at most 256 characters.
func checkMethodName(name string) error {
	if name == "" {
		return errors.New("empty method name")
	}
	if len(name) > 256 {
		return errors.New("method name longer than 256 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '.', c == ':', c == '/':
		default:
			return fmt.Errorf("invalid character %q in method name", rune(c))
		}
	}
	return nil
}

// parseTime accepts the XML-RPC form Python sends (20261123T08:12:00),
// its compact variant (20261123T081200), and RFC 3339, each with optional
// fractional seconds and zone (Z or ±hh:mm). Without a zone the time is
// UTC; with one it is converted to UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	layouts := [...]string{
		"20060102T15:04:05",
		"2006-01-02T15:04:05",
		"20060102T150405",
		"20060102T15:04:05Z07:00",
		"2006-01-02T15:04:05Z07:00",
		"20060102T150405Z07:00",
		"20060102T15:04:05Z0700",
		"20060102T150405Z0700",
	}
	for _, l := range layouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		// Years beyond 9999 (after conversion to UTC) have no 4-digit form.
		if t = t.UTC(); t.Year() < 0 || t.Year() > 9999 {
			return time.Time{}, fmt.Errorf("<dateTime.iso8601> %q out of range", truncate(s, 40))
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid <dateTime.iso8601> %q", truncate(s, 40))
}

// decodeBase64 accepts standard base64 with or without padding, with
// whitespace anywhere (Python breaks lines every 76 characters).
func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	enc := base64.StdEncoding
	if len(clean)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("invalid <base64>: %w", err)
	}
	return b, nil
}

// truncate shortens s for error messages, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// valueError is a type error at a path inside a value.
type valueError struct {
	path string // "flows.idle_timeout_s", "devices[2]", or empty
	msg  string
}

// Error implements error.
func (e *valueError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// under prefixes the error's path with a member name or an index ("[3]").
func under(err error, seg string) error {
	ve, ok := err.(*valueError)
	if !ok {
		return err
	}
	switch {
	case ve.path == "":
		ve.path = seg
	case ve.path[0] == '[':
		ve.path = seg + ve.path
	default:
		ve.path = seg + "." + ve.path
	}
	return ve
}

// mismatch reports a value of the wrong XML-RPC type for t.
func mismatch(v *value, t reflect.Type) error {
	return &valueError{msg: fmt.Sprintf("expected %s, got %s", wantName(t), v.kind)}
}

// wantName names the XML-RPC type a Go type takes.
func wantName(t reflect.Type) string {
	if t == timeType {
		return "dateTime.iso8601"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "double"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64"
		}
		return "array"
	case reflect.Map, reflect.Struct:
		return "struct"
	case reflect.Pointer:
		return wantName(t.Elem())
	}
	return t.String()
}

// assigner stores parsed values into Go values.
type assigner struct {
	cache  *typeCache
	strict bool // unknown and duplicate struct members are errors
}

// assign stores v into dst, which must be settable.
func (a *assigner) assign(v *value, dst reflect.Value) error {
	t := dst.Type()
	if v.kind == kindNil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
			dst.SetZero()
			return nil
		}
		return mismatch(v, t)
	}
	if t == timeType {
		switch v.kind {
		case kindTime:
			dst.Set(reflect.ValueOf(v.t))
			return nil
		case kindString:
			// Clients without a dateTime type (or users typing a
			// struct by hand) send the ISO 8601 text as a string.
			tm, err := parseTime(v.s)
			if err != nil {
				return &valueError{msg: fmt.Sprintf("expected dateTime.iso8601 or an ISO 8601 string, got string %q", truncate(v.s, 40))}
			}
			dst.Set(reflect.ValueOf(tm))
			return nil
		}
		return mismatch(v, t)
	}
	switch t.Kind() {
	case reflect.Pointer:
		if dst.IsNil() {
			dst.Set(reflect.New(t.Elem()))
		}
		return a.assign(v, dst.Elem())
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return &valueError{msg: fmt.Sprintf("cannot decode into %s", t)}
		}
		n := v.natural()
		if n == nil {
			dst.SetZero()
		} else {
			dst.Set(reflect.ValueOf(n))
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.kind != kindInt {
			return mismatch(v, t)
		}
		if dst.OverflowInt(v.i) {
			return &valueError{msg: fmt.Sprintf("%d out of range", v.i)}
		}
		dst.SetInt(v.i)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if v.kind != kindInt {
			return mismatch(v, t)
		}
		if v.i < 0 || dst.OverflowUint(uint64(v.i)) {
			return &valueError{msg: fmt.Sprintf("%d out of range", v.i)}
		}
		dst.SetUint(uint64(v.i))
		return nil
	case reflect.Float32, reflect.Float64:
		switch v.kind {
		case kindDouble:
			if t.Kind() == reflect.Float32 && !math.IsInf(v.f, 0) && !math.IsNaN(v.f) && dst.OverflowFloat(v.f) {
				return &valueError{msg: fmt.Sprintf("%g out of range", v.f)}
			}
			dst.SetFloat(v.f)
		case kindInt:
			dst.SetFloat(float64(v.i))
		default:
			return mismatch(v, t)
		}
		return nil
	case reflect.Bool:
		if v.kind != kindBool {
			return mismatch(v, t)
		}
		dst.SetBool(v.i != 0)
		return nil
	case reflect.String:
		if v.kind != kindString {
			return mismatch(v, t)
		}
		dst.SetString(v.s)
		return nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if v.kind != kindBase64 {
				return mismatch(v, t)
			}
			b := reflect.MakeSlice(t, len(v.s), len(v.s))
			reflect.Copy(b, reflect.ValueOf(v.s))
			dst.Set(b)
			return nil
		}
		if v.kind != kindArray {
			return mismatch(v, t)
		}
		s := reflect.MakeSlice(t, len(v.elems), len(v.elems))
		for i := range v.elems {
			if err := a.assign(&v.elems[i], s.Index(i)); err != nil {
				return under(err, "["+strconv.Itoa(i)+"]")
			}
		}
		dst.Set(s)
		return nil
	case reflect.Array:
		n := t.Len()
		if t.Elem().Kind() == reflect.Uint8 {
			if v.kind != kindBase64 {
				return mismatch(v, t)
			}
			if len(v.s) != n {
				return &valueError{msg: fmt.Sprintf("got %d bytes, want exactly %d", len(v.s), n)}
			}
			reflect.Copy(dst, reflect.ValueOf(v.s))
			return nil
		}
		if v.kind != kindArray {
			return mismatch(v, t)
		}
		if len(v.elems) != n {
			return &valueError{msg: fmt.Sprintf("got %d elements, want exactly %d", len(v.elems), n)}
		}
		for i := range v.elems {
			if err := a.assign(&v.elems[i], dst.Index(i)); err != nil {
				return under(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return &valueError{msg: fmt.Sprintf("cannot decode into %s (keys must be strings)", t)}
		}
		if v.kind != kindStruct {
			return mismatch(v, t)
		}
		m := reflect.MakeMapWithSize(t, len(v.elems))
		for i := range v.elems {
			k := reflect.ValueOf(v.names[i]).Convert(t.Key())
			if a.strict && m.MapIndex(k).IsValid() {
				return &valueError{msg: fmt.Sprintf("duplicate member %q", v.names[i])}
			}
			e := reflect.New(t.Elem()).Elem()
			if err := a.assign(&v.elems[i], e); err != nil {
				return under(err, v.names[i])
			}
			m.SetMapIndex(k, e)
		}
		dst.Set(m)
		return nil
	case reflect.Struct:
		if v.kind != kindStruct {
			return mismatch(v, t)
		}
		si := a.cache.info(t)
		var seen []bool
		if a.strict {
			seen = make([]bool, len(si.members))
		}
		for i := range v.elems {
			idx, ok := si.byName[v.names[i]]
			if !ok {
				if a.strict {
					return &valueError{msg: fmt.Sprintf("unknown member %q", truncate(v.names[i], 64))}
				}
				continue
			}
			if a.strict {
				if seen[idx] {
					return &valueError{msg: fmt.Sprintf("duplicate member %q", v.names[i])}
				}
				seen[idx] = true
			}
			if err := a.assign(&v.elems[i], dst.FieldByIndex(si.members[idx].index)); err != nil {
				return under(err, v.names[i])
			}
		}
		return nil
	}
	return &valueError{msg: fmt.Sprintf("cannot decode into %s", t)}
}

// natural converts v to the Go value an `any` receives: int (int64 where
// int is too small), float64, bool, string, time.Time, []byte, []any,
// map[string]any, or nil.
func (v *value) natural() any {
	switch v.kind {
	case kindInt:
		if int64(int(v.i)) == v.i {
			return int(v.i)
		}
		return v.i
	case kindBool:
		return v.i != 0
	case kindString:
		return v.s
	case kindDouble:
		return v.f
	case kindTime:
		return v.t
	case kindBase64:
		return []byte(v.s)
	case kindArray:
		s := make([]any, len(v.elems))
		for i := range v.elems {
			s[i] = v.elems[i].natural()
		}
		return s
	case kindStruct:
		m := make(map[string]any, len(v.elems))
		for i := range v.elems {
			m[v.names[i]] = v.elems[i].natural()
		}
		return m
	}
	return nil
}

// decodeParams stores positional params into args, a pointer to the
// method's args type: params[i] goes to the i-th exported field of a
// struct, or the only param to a non-struct type.
func (a *assigner) decodeParams(params []value, args reflect.Value) error {
	dst := args.Elem()
	t := dst.Type()
	if t.Kind() != reflect.Struct || t == timeType {
		if len(params) != 1 {
			return fmt.Errorf("wrong number of parameters: got %d, want 1", len(params))
		}
		if err := a.assign(&params[0], dst); err != nil {
			return fmt.Errorf("parameter 1: %w", err)
		}
		return nil
	}
	si := a.cache.info(t)
	if len(params) < si.required || len(params) > len(si.params) {
		want := strconv.Itoa(len(si.params))
		if si.required != len(si.params) {
			want = fmt.Sprintf("%d to %d", si.required, len(si.params))
		}
		return fmt.Errorf("wrong number of parameters: got %d, want %s", len(params), want)
	}
	for i := range params {
		f := &si.params[i]
		if err := a.assign(&params[i], dst.FieldByIndex(f.index)); err != nil {
			return fmt.Errorf("parameter %d (%s): %w", i+1, f.name, err)
		}
	}
	return nil
}
