package xmlrpc

// The parser as it was before scan.go (encoding/xml in strict mode), kept
// as the reference of the differential fuzz test (FuzzParseSameAsEncodingXML):
// the scanner must accept and refuse the same documents and read the same
// values.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// parser reads one XML-RPC document with encoding/xml in strict mode.
// Entities beyond the five predefined ones are errors, DOCTYPE and other
// directives are refused, so nothing expands.
type refParser struct {
	d      *xml.Decoder
	lim    limits
	values int
	text   []byte // scratch for character data
}

func newRefParser(data []byte, lim limits) *refParser {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	return &refParser{d: d, lim: lim}
}

// errorf reports a parse error with the current position.
func (p *refParser) errorf(format string, args ...any) error {
	line, col := p.d.InputPos()
	return fmt.Errorf("line %d column %d: %s", line, col, fmt.Sprintf(format, args...))
}

// next returns the next start or end element, skipping comments, the XML
// declaration and whitespace; other character data is an error.
func (p *refParser) next() (xml.Token, error) {
	for {
		tok, err := p.d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, p.errorf("unexpected text %q", truncate(string(t), 32))
			}
		case xml.Comment:
		case xml.ProcInst:
			if t.Target != "xml" {
				return nil, p.errorf("processing instruction <?%s?> not allowed", truncate(t.Target, 32))
			}
		case xml.Directive:
			return nil, p.errorf("<!%s> not allowed (no DOCTYPE or entity declarations)", truncate(strings.Fields(string(t) + " x")[0], 32))
		}
	}
}

// expectStart reads the next element, which must be a start element named
// name.
func (p *refParser) expectStart(name string) error {
	tok, err := p.next()
	if err != nil {
		if err == io.EOF {
			return p.errorf("missing <%s>", name)
		}
		return err
	}
	se, ok := tok.(xml.StartElement)
	if !ok || se.Name.Local != name {
		return p.errorf("expected <%s>, found %s", name, refDescribe(tok))
	}
	return nil
}

// expectEnd reads the next element, which must end the current one.
func (p *refParser) expectEnd(name string) error {
	tok, err := p.next()
	if err != nil {
		if err == io.EOF {
			return p.errorf("missing </%s>", name)
		}
		return err
	}
	if _, ok := tok.(xml.EndElement); !ok {
		return p.errorf("expected </%s>, found %s", name, refDescribe(tok))
	}
	return nil
}

// expectEOF checks that nothing but comments and whitespace follow the
// root element.
func (p *refParser) expectEOF() error {
	tok, err := p.next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return p.errorf("unexpected %s after the document", refDescribe(tok))
}

// readText returns the character data of the current element up to its end
// tag; child elements are errors.
func (p *refParser) readText(name string) (string, error) {
	p.text = p.text[:0]
	for {
		tok, err := p.d.Token()
		if err != nil {
			if err == io.EOF {
				return "", p.errorf("missing </%s>", name)
			}
			return "", fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			p.text = append(p.text, t...)
		case xml.EndElement:
			return string(p.text), nil
		case xml.StartElement:
			return "", p.errorf("unexpected <%s> inside <%s>", truncate(t.Name.Local, 32), name)
		case xml.Directive:
			return "", p.errorf("directive not allowed")
		case xml.ProcInst:
			return "", p.errorf("processing instruction not allowed")
		}
	}
}

// parseCall parses a methodCall document.
func refParseCall(data []byte, lim limits) (methodCall, error) {
	p := newRefParser(data, lim)
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
	tok, err := p.next()
	if err != nil {
		if err == io.EOF {
			return c, p.errorf("missing </methodCall>")
		}
		return c, err
	}
	if se, ok := tok.(xml.StartElement); ok {
		if se.Name.Local != "params" {
			return c, p.errorf("expected <params>, found <%s>", truncate(se.Name.Local, 32))
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
func refParseResponse(data []byte, lim limits) (methodResponse, error) {
	p := newRefParser(data, lim)
	var r methodResponse
	if err := p.expectStart("methodResponse"); err != nil {
		return r, err
	}
	tok, err := p.next()
	if err != nil {
		if err == io.EOF {
			err = p.errorf("missing </methodResponse>")
		}
		return r, err
	}
	se, ok := tok.(xml.StartElement)
	if !ok {
		return r, p.errorf("expected <params> or <fault>, found %s", refDescribe(tok))
	}
	switch se.Name.Local {
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
		return r, p.errorf("expected <params> or <fault>, found <%s>", truncate(se.Name.Local, 32))
	}
	if err := p.expectEnd("methodResponse"); err != nil {
		return r, err
	}
	return r, p.expectEOF()
}

// parseParams parses <param> elements up to </params>.
func (p *refParser) parseParams() ([]value, error) {
	var params []value
	for {
		tok, err := p.next()
		if err != nil {
			if err == io.EOF {
				err = p.errorf("missing </params>")
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return params, nil
		case xml.StartElement:
			if t.Name.Local != "param" {
				return nil, p.errorf("expected <param>, found <%s>", truncate(t.Name.Local, 32))
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
func (p *refParser) parseValue(depth int) (value, error) {
	p.values++
	if p.values > p.lim.maxValues {
		return value{}, p.errorf("more than %d values", p.lim.maxValues)
	}
	var (
		v     value
		typed bool
		text  []byte
	)
	for {
		tok, err := p.d.Token()
		if err != nil {
			if err == io.EOF {
				return v, p.errorf("missing </value>")
			}
			return v, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.Comment:
		case xml.Directive:
			return v, p.errorf("directive not allowed")
		case xml.ProcInst:
			return v, p.errorf("processing instruction not allowed")
		case xml.StartElement:
			if typed {
				return v, p.errorf("more than one type inside <value>")
			}
			if v, err = p.parseTyped(t.Name.Local, depth); err != nil {
				return v, err
			}
			typed = true
		case xml.EndElement:
			if !typed {
				// An untyped value is a string, kept exactly.
				return value{kind: kindString, s: string(text)}, nil
			}
			if len(bytes.TrimSpace(text)) != 0 {
				return v, p.errorf("text beside a typed value")
			}
			return v, nil
		}
	}
}

// parseTyped parses the type element name (start tag read) of a value.
func (p *refParser) parseTyped(name string, depth int) (value, error) {
	switch name {
	case "struct":
		return p.parseStruct(depth + 1)
	case "array":
		return p.parseArray(depth + 1)
	}
	s, err := p.readText(name)
	if err != nil {
		return value{}, err
	}
	v, err := parseScalar(name, s)
	if err != nil {
		return v, p.errorf("%s", err)
	}
	return v, nil
}

// parseStruct parses <member> elements up to </struct>.
func (p *refParser) parseStruct(depth int) (value, error) {
	if depth > p.lim.maxDepth {
		return value{}, p.errorf("nesting deeper than %d", p.lim.maxDepth)
	}
	v := value{kind: kindStruct}
	for {
		tok, err := p.next()
		if err != nil {
			if err == io.EOF {
				err = p.errorf("missing </struct>")
			}
			return v, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return v, nil
		case xml.StartElement:
			if t.Name.Local != "member" {
				return v, p.errorf("expected <member>, found <%s>", truncate(t.Name.Local, 32))
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
func (p *refParser) parseMember(depth int) (string, value, error) {
	var (
		name              string
		v                 value
		haveName, haveVal bool
	)
	for {
		tok, err := p.next()
		if err != nil {
			if err == io.EOF {
				err = p.errorf("missing </member>")
			}
			return "", v, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if !haveName || !haveVal {
				return "", v, p.errorf("<member> needs one <name> and one <value>")
			}
			return name, v, nil
		case xml.StartElement:
			switch {
			case t.Name.Local == "name" && !haveName:
				if name, err = p.readText("name"); err != nil {
					return "", v, err
				}
				haveName = true
			case t.Name.Local == "value" && !haveVal:
				if v, err = p.parseValue(depth); err != nil {
					return "", v, err
				}
				haveVal = true
			default:
				return "", v, p.errorf("unexpected <%s> in <member>", truncate(t.Name.Local, 32))
			}
		}
	}
}

// parseArray parses <data> and its values up to </array>.
func (p *refParser) parseArray(depth int) (value, error) {
	if depth > p.lim.maxDepth {
		return value{}, p.errorf("nesting deeper than %d", p.lim.maxDepth)
	}
	v := value{kind: kindArray}
	if err := p.expectStart("data"); err != nil {
		return v, err
	}
	for {
		tok, err := p.next()
		if err != nil {
			if err == io.EOF {
				err = p.errorf("missing </data>")
			}
			return v, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return v, p.expectEnd("array")
		case xml.StartElement:
			if t.Name.Local != "value" {
				return v, p.errorf("expected <value>, found <%s>", truncate(t.Name.Local, 32))
			}
			e, err := p.parseValue(depth)
			if err != nil {
				return v, err
			}
			v.elems = append(v.elems, e)
		}
	}
}

// describe names a token for error messages.
func refDescribe(tok xml.Token) string {
	switch t := tok.(type) {
	case xml.StartElement:
		return "<" + truncate(t.Name.Local, 32) + ">"
	case xml.EndElement:
		return "</" + truncate(t.Name.Local, 32) + ">"
	}
	return "something else"
}
