package xmlrpc

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxEncodeDepth stops encoding of cyclic or absurdly deep values.
const maxEncodeDepth = 200

// encoder appends XML-RPC values to b.
type encoder struct {
	b     []byte
	cache *typeCache
	depth int
	// max, when positive, bounds len(b): encoding stops with an
	// *errTooLarge once b grows beyond it (a server's response budget).
	max int64
}

// errTooLarge is the error of an encoding that went beyond its budget.
type errTooLarge struct{ max int64 }

// Error implements error.
func (e *errTooLarge) Error() string {
	return fmt.Sprintf("the answer is larger than the %d bytes one request may return", e.max)
}

// appendCall appends a methodCall document.
func (e *encoder) appendCall(method string, args []any) error {
	e.b = append(e.b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<methodCall><methodName>"...)
	e.b = appendEscaped(e.b, method)
	e.b = append(e.b, "</methodName><params>"...)
	for i, a := range args {
		e.b = append(e.b, "<param>"...)
		if err := e.value(reflect.ValueOf(a)); err != nil {
			return fmt.Errorf("argument %d: %w", i+1, err)
		}
		e.b = append(e.b, "</param>"...)
	}
	e.b = append(e.b, "</params></methodCall>\n"...)
	return nil
}

// appendResponse wraps an encoded <value> in a methodResponse document.
func appendResponse(b, encodedValue []byte) []byte {
	b = append(b, responseHead...)
	b = append(b, encodedValue...)
	return append(b, responseTail...)
}

// appendFaultValue appends the <value> of a fault struct.
func appendFaultValue(b []byte, f Fault) []byte {
	b = append(b, "<value><struct><member><name>faultCode</name><value><int>"...)
	b = strconv.AppendInt(b, int64(f.Code), 10)
	b = append(b, "</int></value></member><member><name>faultString</name><value><string>"...)
	b = appendEscaped(b, f.String)
	return append(b, "</string></value></member></struct></value>"...)
}

// appendFault appends a methodResponse document holding a fault.
func appendFault(b []byte, f Fault) []byte {
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<methodResponse><fault>"...)
	b = appendFaultValue(b, f)
	return append(b, "</fault></methodResponse>\n"...)
}

// value appends v as a <value> element. Invalid (nil interface) values,
// nil pointers and nil interfaces become <nil/>.
func (e *encoder) value(v reflect.Value) error {
	e.b = append(e.b, "<value>"...)
	if err := e.inner(v); err != nil {
		return err
	}
	e.b = append(e.b, "</value>"...)
	if e.max > 0 && int64(len(e.b)) > e.max {
		return &errTooLarge{max: e.max}
	}
	return nil
}

// inner appends the typed element of v.
func (e *encoder) inner(v reflect.Value) error {
	if !v.IsValid() {
		e.b = append(e.b, "<nil/>"...)
		return nil
	}
	t := v.Type()
	if t == timeType {
		var tm time.Time
		if v.CanAddr() { // through a pointer: no allocation
			tm = *v.Addr().Interface().(*time.Time)
		} else {
			tm = v.Interface().(time.Time)
		}
		tm = tm.UTC()
		if tm.Year() < 0 || tm.Year() > 9999 {
			return fmt.Errorf("time %s out of the years 0000-9999", tm)
		}
		e.b = appendTime(e.b, tm)
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.b = append(e.b, "<nil/>"...)
			return nil
		}
		e.depth++
		defer func() { e.depth-- }()
		if e.depth > maxEncodeDepth {
			return fmt.Errorf("value nested deeper than %d (cycle?)", maxEncodeDepth)
		}
		return e.inner(v.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.b = appendInt(e.b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return fmt.Errorf("%d does not fit a 64-bit signed integer", u)
		}
		e.b = appendInt(e.b, int64(u))
	case reflect.Float32, reflect.Float64:
		e.b = appendDouble(e.b, v.Float())
	case reflect.Bool:
		if v.Bool() {
			e.b = append(e.b, "<boolean>1</boolean>"...)
		} else {
			e.b = append(e.b, "<boolean>0</boolean>"...)
		}
	case reflect.String:
		e.b = append(e.b, "<string>"...)
		e.b = appendEscaped(e.b, v.String())
		e.b = append(e.b, "</string>"...)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			e.b = appendBase64(e.b, v.Bytes())
			return nil
		}
		return e.array(v)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if v.CanAddr() {
				e.b = appendBase64(e.b, v.Bytes())
			} else {
				c := reflect.New(t).Elem()
				c.Set(v)
				e.b = appendBase64(e.b, c.Bytes())
			}
			return nil
		}
		return e.array(v)
	case reflect.Map:
		return e.mapping(v)
	case reflect.Struct:
		return e.structure(v)
	default:
		return fmt.Errorf("cannot encode %s", t)
	}
	return nil
}

func (e *encoder) array(v reflect.Value) error {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxEncodeDepth {
		return fmt.Errorf("value nested deeper than %d (cycle?)", maxEncodeDepth)
	}
	e.b = append(e.b, "<array><data>"...)
	for i := range v.Len() {
		if err := e.value(v.Index(i)); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	e.b = append(e.b, "</data></array>"...)
	return nil
}

func (e *encoder) mapping(v reflect.Value) error {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		return fmt.Errorf("cannot encode %s (keys must be strings)", t)
	}
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxEncodeDepth {
		return fmt.Errorf("value nested deeper than %d (cycle?)", maxEncodeDepth)
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		as, bs := a.String(), b.String()
		switch {
		case as < bs:
			return -1
		case as > bs:
			return 1
		}
		return 0
	})
	e.b = append(e.b, "<struct>"...)
	for _, k := range keys {
		e.b = append(e.b, "<member><name>"...)
		e.b = appendEscaped(e.b, k.String())
		e.b = append(e.b, "</name>"...)
		if err := e.value(v.MapIndex(k)); err != nil {
			return fmt.Errorf("%s: %w", k.String(), err)
		}
		e.b = append(e.b, "</member>"...)
	}
	e.b = append(e.b, "</struct>"...)
	return nil
}

func (e *encoder) structure(v reflect.Value) error {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxEncodeDepth {
		return fmt.Errorf("value nested deeper than %d (cycle?)", maxEncodeDepth)
	}
	si := e.cache.info(v.Type())
	e.b = append(e.b, "<struct>"...)
	for i := range si.members {
		f := &si.members[i]
		fv := v.FieldByIndex(f.index)
		switch fv.Kind() {
		case reflect.Pointer, reflect.Interface:
			if fv.IsNil() {
				continue // a nil pointer field is an absent member
			}
		}
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		e.b = append(e.b, "<member><name>"...)
		e.b = appendEscaped(e.b, f.name)
		e.b = append(e.b, "</name>"...)
		if err := e.value(fv); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		e.b = append(e.b, "</member>"...)
	}
	e.b = append(e.b, "</struct>"...)
	return nil
}

// appendInt uses <int> within the 32-bit range and <i8> beyond it, which
// Python's xmlrpc.client and most other clients accept.
func appendInt(b []byte, n int64) []byte {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		b = append(b, "<int>"...)
		b = strconv.AppendInt(b, n, 10)
		return append(b, "</int>"...)
	}
	b = append(b, "<i8>"...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, "</i8>"...)
}

// appendDouble writes decimal notation (the XML-RPC spec has no exponent);
// NaN and infinities are written as Python writes them ("nan", "inf").
func appendDouble(b []byte, f float64) []byte {
	b = append(b, "<double>"...)
	switch {
	case math.IsNaN(f):
		b = append(b, "nan"...)
	case math.IsInf(f, 1):
		b = append(b, "inf"...)
	case math.IsInf(f, -1):
		b = append(b, "-inf"...)
	default:
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return append(b, "</double>"...)
}

// appendTime writes the UTC time in the classic XML-RPC form
// 20060102T15:04:05 (whole seconds, no zone), which Python parses.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, "<dateTime.iso8601>"...)
	b = t.UTC().AppendFormat(b, "20060102T15:04:05")
	return append(b, "</dateTime.iso8601>"...)
}

func appendBase64(b, data []byte) []byte {
	b = append(b, "<base64>"...)
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, "</base64>"...)
}

// appendEscaped appends s as XML character data: markup characters and
// carriage returns are escaped, invalid UTF-8 and characters XML 1.0
// cannot carry become U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' {
			i++
			continue
		}
		var (
			esc  string
			size = 1
		)
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		case '\n', '\t':
			i++
			continue
		default:
			if c < 0x20 {
				esc = "\uFFFD"
				break
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			size = n
			if (r == utf8.RuneError && n == 1) || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
				break
			}
			i += n
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

// encodeTree appends a parsed value; multicall uses it to pass on the
// result a middleware wrote, and tests use it for round trips.
func encodeTree(b []byte, v *value) []byte {
	b = append(b, "<value>"...)
	switch v.kind {
	case kindString:
		b = append(b, "<string>"...)
		b = appendEscaped(b, v.s)
		b = append(b, "</string>"...)
	case kindInt:
		b = appendInt(b, v.i)
	case kindBool:
		if v.i != 0 {
			b = append(b, "<boolean>1</boolean>"...)
		} else {
			b = append(b, "<boolean>0</boolean>"...)
		}
	case kindDouble:
		b = appendDouble(b, v.f)
	case kindTime:
		b = appendTime(b, v.t)
	case kindBase64:
		b = append(b, "<base64>"...)
		b = base64.StdEncoding.AppendEncode(b, []byte(v.s))
		b = append(b, "</base64>"...)
	case kindNil:
		b = append(b, "<nil/>"...)
	case kindArray:
		b = append(b, "<array><data>"...)
		for i := range v.elems {
			b = encodeTree(b, &v.elems[i])
		}
		b = append(b, "</data></array>"...)
	case kindStruct:
		b = append(b, "<struct>"...)
		for i := range v.elems {
			b = append(b, "<member><name>"...)
			b = appendEscaped(b, v.names[i])
			b = append(b, "</name>"...)
			b = encodeTree(b, &v.elems[i])
			b = append(b, "</member>"...)
		}
		b = append(b, "</struct>"...)
	}
	return append(b, "</value>"...)
}
