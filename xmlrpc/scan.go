package xmlrpc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind is the kind of a token read by scanner.
type tokenKind uint8

const (
	tokEOF       tokenKind = iota
	tokStart               // <name …> or <name/> (then a tokEnd)
	tokEnd                 // </name>
	tokText                // character data, entities decoded, CDATA included
	tokComment             // <!-- … -->
	tokProcInst            // <?target …?>
	tokDirective           // <!DOCTYPE …> and the like: always refused
)

// scanner is the XML tokenizer of the parser: the subset of XML 1.0 that
// encoding/xml reads in strict mode, without its allocations (a token's
// name and text are slices of the document or of a reused buffer, valid
// until the next token). Every element must be closed by its own end tag;
// character data must be valid UTF-8 of XML characters; entities are the
// five predefined ones and character references; \r and \r\n in character
// data read as \n; an XML declaration may only declare UTF-8; namespace
// prefixes are dropped from element names (as encoding/xml's Name.Local).
// Directives (DOCTYPE, ENTITY) are returned as tokDirective with their
// keyword in name, and the parser refuses them, so nothing expands.
//
// It replaced encoding/xml.Decoder (issue 15): that decoder allocated for
// every token, and reading a large answer (ListExperiments with hundreds
// of experiments) cost the load test's clients most of their CPU.
type scanner struct {
	data  []byte
	pos   int
	stack []span // names of the open elements, raw (prefix included)
	// selfClosed is set after the start tag of an empty element
	// (<nil/>): its end is the next token.
	selfClosed bool

	kind tokenKind
	name []byte // tokStart, tokEnd: local name; tokProcInst: target; tokDirective: keyword
	text []byte // tokText: the decoded text (a slice of data or of buf)
	// textInBuf is set when text is a slice of buf, which the next
	// token with entities or \r may overwrite.
	textInBuf bool
	buf       []byte
}

// span is a part of the document, from start to end.
type span struct{ start, end int }

// errUnexpectedEOF is the scanner's error for a document cut short.
var errUnexpectedEOF = errors.New("unexpected EOF")

// syntaxError is a malformed document, at a byte offset.
type syntaxError struct {
	line, col int
	msg       string
}

// Error implements error.
func (e *syntaxError) Error() string {
	return fmt.Sprintf("XML syntax error on line %d column %d: %s", e.line, e.col, e.msg)
}

// position returns the line and column (1-based, in bytes) of offset off.
func position(data []byte, off int) (line, col int) {
	off = min(off, len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// fail returns a syntax error at the current offset.
func (s *scanner) fail(msg string) error {
	line, col := position(s.data, s.pos)
	return &syntaxError{line: line, col: col, msg: msg}
}

// localName is name without its namespace prefix, as encoding/xml's
// Name.Local: "ns:value" is "value"; a name with an empty prefix or an
// empty local part is kept whole.
func localName(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i > 0 && i < len(name)-1 {
		return name[i+1:]
	}
	return name
}

// next reads the next token into s.kind, s.name and s.text. At the end of
// the document it returns tokEOF, or an error when elements are open.
func (s *scanner) next() (tokenKind, error) {
	if s.selfClosed {
		s.selfClosed = false
		top := s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		s.kind, s.name = tokEnd, localName(s.data[top.start:top.end])
		return tokEnd, nil
	}
	if s.pos >= len(s.data) {
		if len(s.stack) > 0 {
			return tokEOF, s.fail(errUnexpectedEOF.Error())
		}
		s.kind = tokEOF
		return tokEOF, nil
	}
	if s.data[s.pos] != '<' {
		return s.charData()
	}
	if s.pos+1 < len(s.data) {
		switch s.data[s.pos+1] {
		case '/':
			return s.endTag()
		case '?':
			return s.procInst()
		case '!':
			rest := s.data[s.pos:]
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				return s.comment()
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				return s.cdata()
			}
			return s.directive()
		}
	}
	return s.startTag()
}

// charData reads text up to the next '<' (or the end), decoding entities
// and line ends and checking characters.
func (s *scanner) charData() (tokenKind, error) {
	end := bytes.IndexByte(s.data[s.pos:], '<')
	if end < 0 {
		end = len(s.data)
	} else {
		end += s.pos
	}
	raw := s.data[s.pos:end]
	if i := bytes.Index(raw, []byte("]]>")); i >= 0 {
		s.pos += i
		return tokText, s.fail("unescaped ]]> not in CDATA section")
	}
	if err := s.decodeText(raw, true); err != nil {
		return tokText, err
	}
	s.pos = end
	s.kind = tokText
	return tokText, nil
}

// decodeText sets s.text to raw with entities (when entities) and line
// ends decoded, or fails on an invalid character or entity. Plain text
// (the common case) is not copied.
func (s *scanner) decodeText(raw []byte, entities bool) error {
	plain := true
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&' && entities, c == '\r':
				plain = false
			case c < 0x20 && c != '\t' && c != '\n':
				s.pos += i
				return s.fail(fmt.Sprintf("illegal character code %U", rune(c)))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			s.pos += i
			return s.fail("invalid UTF-8")
		}
		if !xmlChar(r) {
			s.pos += i
			return s.fail(fmt.Sprintf("illegal character code %U", r))
		}
		i += size
	}
	if plain {
		s.text, s.textInBuf = raw, false
		return nil
	}
	b := s.buf[:0]
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\r':
			b = append(b, '\n')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		case c == '&' && entities:
			r, n, err := entity(raw[i:])
			if err == nil && !xmlChar(r) {
				err = fmt.Errorf("illegal character code %U", r)
			}
			if err != nil {
				s.pos += i
				return s.fail(err.Error())
			}
			b = utf8.AppendRune(b, r)
			i += n
		default:
			j := i + 1
			for j < len(raw) && raw[j] != '\r' && (raw[j] != '&' || !entities) {
				j++
			}
			b = append(b, raw[i:j]...)
			i = j
		}
	}
	s.buf = b
	s.text, s.textInBuf = b, true
	return nil
}

// xmlChar reports whether r is a character XML allows (the Char
// production; the ASCII controls are checked by the caller).
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// entity decodes the reference at the start of b ("&amp;", "&#60;",
// "&#x3C;") and returns its character and length. As in encoding/xml, a
// reference to a surrogate reads as U+FFFD; the caller checks that the
// character is one XML allows.
func entity(b []byte) (rune, int, error) {
	semi := bytes.IndexByte(b, ';')
	if semi < 0 {
		return 0, 0, fmt.Errorf("invalid character entity %s (no semicolon)", truncate(string(b), 16))
	}
	ref := b[1:semi]
	switch string(ref) {
	case "amp":
		return '&', semi + 1, nil
	case "lt":
		return '<', semi + 1, nil
	case "gt":
		return '>', semi + 1, nil
	case "apos":
		return '\'', semi + 1, nil
	case "quot":
		return '"', semi + 1, nil
	}
	if len(ref) >= 2 && ref[0] == '#' {
		digits, base := ref[1:], 10
		if digits[0] == 'x' {
			digits, base = digits[1:], 16
		}
		var n uint64
		ok := len(digits) > 0
		for _, c := range digits {
			var d uint64
			switch {
			case '0' <= c && c <= '9':
				d = uint64(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				d = uint64(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				d = uint64(c-'A') + 10
			default:
				ok = false
			}
			if n > unicode.MaxRune {
				ok = false
			}
			n = n*uint64(base) + d
		}
		if ok && n <= unicode.MaxRune {
			r := rune(n)
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			return r, semi + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("invalid character entity &%s;", truncate(string(ref), 16))
}

// comment reads <!-- … -->; "--" is allowed only in its end.
func (s *scanner) comment() (tokenKind, error) {
	body := s.data[s.pos+4:]
	i := bytes.Index(body, []byte("--"))
	if i < 0 {
		s.pos = len(s.data)
		return tokComment, s.fail(errUnexpectedEOF.Error())
	}
	if i+2 >= len(body) || body[i+2] != '>' {
		s.pos += 4 + i
		return tokComment, s.fail(`invalid sequence "--" not allowed in comments`)
	}
	s.pos += 4 + i + 3
	s.kind = tokComment
	return tokComment, nil
}

// cdata reads <![CDATA[ … ]]> as text, without entities.
func (s *scanner) cdata() (tokenKind, error) {
	start := s.pos + len("<![CDATA[")
	i := bytes.Index(s.data[start:], []byte("]]>"))
	if i < 0 {
		s.pos = len(s.data)
		return tokText, s.fail(errUnexpectedEOF.Error())
	}
	s.pos = start
	if err := s.decodeText(s.data[start:start+i], false); err != nil {
		return tokText, err
	}
	s.pos = start + i + 3
	s.kind = tokText
	return tokText, nil
}

// directive reads the keyword of <!…> (DOCTYPE, ENTITY); the parser
// refuses every directive, so its body is not read.
func (s *scanner) directive() (tokenKind, error) {
	i := s.pos + 2
	j := i
	for j < len(s.data) && nameByte(s.data[j]) {
		j++
	}
	s.name = s.data[i:j]
	s.kind = tokDirective
	s.pos = j
	return tokDirective, nil
}

// procInst reads <?target …?>; the XML declaration may only declare
// version 1.0 and the UTF-8 encoding (read as encoding/xml does).
func (s *scanner) procInst() (tokenKind, error) {
	s.pos += 2
	target, err := s.readName(false)
	if err != nil {
		return tokProcInst, err
	}
	s.skipSpace()
	end := bytes.Index(s.data[s.pos:], []byte("?>"))
	if end < 0 {
		s.pos = len(s.data)
		return tokProcInst, s.fail(errUnexpectedEOF.Error())
	}
	content := s.data[s.pos : s.pos+end]
	if string(target) == "xml" {
		if v := pseudoAttr(content, "version"); v != "" && v != "1.0" {
			return tokProcInst, s.fail(fmt.Sprintf("unsupported version %q; only version 1.0 is supported", truncate(v, 16)))
		}
		if enc := pseudoAttr(content, "encoding"); enc != "" && !strings.EqualFold(enc, "utf-8") {
			return tokProcInst, s.fail(fmt.Sprintf("encoding %q declared but only UTF-8 is read", truncate(enc, 32)))
		}
	}
	s.pos += end + 2
	s.name = target
	s.kind = tokProcInst
	return tokProcInst, nil
}

// pseudoAttr returns the value of name="…" (or '…') in an XML
// declaration's content, or "": encoding/xml's reading (the quote right
// after the =).
func pseudoAttr(content []byte, name string) string {
	param := name + "="
	for i := 0; i < len(content); {
		sub := content[i:]
		k := bytes.Index(sub, []byte(param))
		if k < 0 || len(param)+k >= len(sub) {
			return ""
		}
		i += len(param) + k + 1
		if q := sub[len(param)+k]; q == '\'' || q == '"' {
			j := bytes.IndexByte(content[i:], q)
			if j < 0 {
				return ""
			}
			return string(content[i : i+j])
		}
	}
	return ""
}

// nameByte reports whether c may be part of an XML name (ASCII; bytes of
// multi-byte characters are checked by readName).
func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// readName reads an XML name at s.pos: the bytes encoding/xml takes for
// one (ASCII name characters and any non-ASCII byte), then checked. A
// qualified name (qualified: elements and attributes) has at most one
// colon.
func (s *scanner) readName(qualified bool) ([]byte, error) {
	start := s.pos
	colons, ascii := 0, true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c >= utf8.RuneSelf:
			ascii = false
		case c == ':':
			colons++
		case !nameByte(c):
			goto end
		}
		s.pos++
	}
end:
	name := s.data[start:s.pos]
	if len(name) == 0 {
		if s.pos >= len(s.data) {
			return nil, s.fail(errUnexpectedEOF.Error())
		}
		return nil, s.fail("expected a name after <")
	}
	ok := true
	if ascii {
		c := name[0]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':'
	} else {
		colons, ok = validName(name)
	}
	if !ok || qualified && colons > 1 {
		s.pos = start
		return nil, s.fail("invalid XML name: " + truncate(string(name), 32))
	}
	return name, nil
}

// validName checks an XML name (a letter, '_' or ':' first, then also
// digits, '.', '-' and combining marks) and counts its colons.
// (encoding/xml checks non-ASCII characters against the XML 1.0 tables of
// its time; these are Unicode's letters, digits and marks.)
func validName(name []byte) (colons int, ok bool) {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if i == 0 && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':') {
				return 0, false
			}
			if c == ':' {
				colons++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(name[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, false
		}
		if !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r) && !unicode.IsMark(r)) {
			return 0, false
		}
		i += size
	}
	return colons, true
}

// skipSpace skips XML white space.
func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// startTag reads <name attr="v" …> or <name …/>; attributes are checked
// and ignored.
func (s *scanner) startTag() (tokenKind, error) {
	s.pos++
	start := s.pos
	name, err := s.readName(true)
	if err != nil {
		return tokStart, err
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) {
			return tokStart, s.fail(errUnexpectedEOF.Error())
		}
		switch s.data[s.pos] {
		case '/':
			if s.pos+1 >= len(s.data) {
				s.pos++
				return tokStart, s.fail(errUnexpectedEOF.Error())
			}
			if s.data[s.pos+1] != '>' {
				return tokStart, s.fail("expected /> in element")
			}
			s.pos += 2
			s.selfClosed = true
			return s.opened(name, start), nil
		case '>':
			s.pos++
			return s.opened(name, start), nil
		}
		if _, err := s.readName(true); err != nil {
			return tokStart, err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return tokStart, s.fail(errUnexpectedEOF.Error())
		}
		if s.data[s.pos] != '=' {
			return tokStart, s.fail("attribute name without = in element")
		}
		s.pos++
		s.skipSpace()
		if s.pos >= len(s.data) {
			return tokStart, s.fail(errUnexpectedEOF.Error())
		}
		q := s.data[s.pos]
		if q != '"' && q != '\'' {
			return tokStart, s.fail("unquoted or missing attribute value in element")
		}
		s.pos++
		end := bytes.IndexByte(s.data[s.pos:], q)
		if end < 0 {
			s.pos = len(s.data)
			return tokStart, s.fail(errUnexpectedEOF.Error())
		}
		val := s.data[s.pos : s.pos+end]
		if i := bytes.IndexByte(val, '<'); i >= 0 {
			s.pos += i
			return tokStart, s.fail("unescaped < inside quoted string")
		}
		if err := s.decodeText(val, true); err != nil {
			return tokStart, err
		}
		s.pos += end + 1
	}
}

// opened pushes the element just started (its name at offset start) and
// returns tokStart.
func (s *scanner) opened(name []byte, start int) tokenKind {
	s.stack = append(s.stack, span{start, start + len(name)})
	s.kind, s.name = tokStart, localName(name)
	return tokStart
}

// endTag reads </name>, which must close the innermost open element.
func (s *scanner) endTag() (tokenKind, error) {
	if n := len(s.stack); n > 0 {
		// The common case: exactly the name of the open element.
		top := s.data[s.stack[n-1].start:s.stack[n-1].end]
		if end := s.pos + 2 + len(top); end < len(s.data) && s.data[end] == '>' && bytes.Equal(s.data[s.pos+2:end], top) {
			s.pos = end + 1
			s.stack = s.stack[:n-1]
			s.kind, s.name = tokEnd, localName(top)
			return tokEnd, nil
		}
	}
	s.pos += 2
	name, err := s.readName(true)
	if err != nil {
		return tokEnd, err
	}
	s.skipSpace()
	if s.pos >= len(s.data) {
		return tokEnd, s.fail(errUnexpectedEOF.Error())
	}
	if s.data[s.pos] != '>' {
		return tokEnd, s.fail(fmt.Sprintf("invalid characters between </%s and >", truncate(string(name), 32)))
	}
	s.pos++
	if len(s.stack) == 0 {
		return tokEnd, s.fail(fmt.Sprintf("unexpected end element </%s>", truncate(string(name), 32)))
	}
	top := s.data[s.stack[len(s.stack)-1].start:s.stack[len(s.stack)-1].end]
	if !bytes.Equal(top, name) {
		return tokEnd, s.fail(fmt.Sprintf("element <%s> closed by </%s>", truncate(string(top), 32), truncate(string(name), 32)))
	}
	s.stack = s.stack[:len(s.stack)-1]
	s.kind, s.name = tokEnd, localName(name)
	return tokEnd, nil
}
