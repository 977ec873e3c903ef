package xmlrpc

import (
	"fmt"
	"reflect"
)

// Marshal encodes v as one XML-RPC <value> element, the form in which a
// value received over XML-RPC can be stored and given back unchanged
// (the aggregate manager keeps device capabilities this way).
func Marshal(v any) ([]byte, error) {
	e := encoder{cache: &typeCache{}}
	if err := e.value(reflect.ValueOf(v)); err != nil {
		return nil, fmt.Errorf("xmlrpc marshal: %w", err)
	}
	return e.b, nil
}

// Unmarshal decodes one <value> element made by Marshal (or received over
// XML-RPC) into dst, a non-nil pointer; *any receives natural Go values.
// Unknown struct members are ignored, as Call does.
func Unmarshal(data []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("xmlrpc unmarshal: dst must be a non-nil pointer, not %T", dst)
	}
	p := newParser(data, limits{maxDepth: clientMaxDepth, maxValues: clientMaxValues})
	if err := p.expectStart("value"); err != nil {
		return fmt.Errorf("xmlrpc unmarshal: %w", err)
	}
	v, err := p.parseValue(0)
	if err != nil {
		return fmt.Errorf("xmlrpc unmarshal: %w", err)
	}
	if err := p.expectEOF(); err != nil {
		return fmt.Errorf("xmlrpc unmarshal: %w", err)
	}
	a := assigner{cache: &typeCache{}}
	if err := a.assign(&v, rv.Elem()); err != nil {
		return fmt.Errorf("xmlrpc unmarshal: %w", err)
	}
	return nil
}
