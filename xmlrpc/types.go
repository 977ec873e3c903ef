package xmlrpc

import (
	"reflect"
	"strings"
	"sync"
	"time"
)

// timeType is time.Time, encoded as dateTime.iso8601 rather than a struct.
var timeType = reflect.TypeFor[time.Time]()

// field describes one struct field as an XML-RPC struct member or
// positional parameter.
type field struct {
	name      string // member name: the tag's name, else the Go name
	index     []int  // reflect index path (embedded structs are flattened)
	omitEmpty bool   // tag option omitempty: zero values are not encoded
	optional  bool   // tag option optional: a trailing parameter may be absent
}

// structInfo is what the codec knows about a struct type.
type structInfo struct {
	members  []field        // members, embedded structs flattened
	byName   map[string]int // member name → index in members
	params   []field        // direct exported fields, in order, for positional parameters
	required int            // parameters before the first trailing optional one
}

// typeCache memoizes structInfo per type. It belongs to a Codec (no
// package-level state); the zero value is ready.
type typeCache struct {
	m sync.Map // reflect.Type → *structInfo
}

// info returns the description of struct type t.
func (c *typeCache) info(t reflect.Type) *structInfo {
	if v, ok := c.m.Load(t); ok {
		return v.(*structInfo)
	}
	si := buildStructInfo(t)
	v, _ := c.m.LoadOrStore(t, si)
	return v.(*structInfo)
}

// parseTag splits an `xmlrpc:"name,opt,..."` tag.
func parseTag(sf reflect.StructField) (name string, omitEmpty, optional, skip bool) {
	tag, ok := sf.Tag.Lookup("xmlrpc")
	if !ok {
		return sf.Name, false, false, false
	}
	if tag == "-" {
		return "", false, false, true
	}
	parts := strings.Split(tag, ",")
	name = parts[0]
	if name == "" {
		name = sf.Name
	}
	for _, o := range parts[1:] {
		switch o {
		case "omitempty":
			omitEmpty = true
		case "optional":
			optional = true
		}
	}
	return name, omitEmpty, optional, false
}

func buildStructInfo(t reflect.Type) *structInfo {
	si := &structInfo{byName: make(map[string]int)}
	// Members: breadth-first so that a shallower field hides a deeper one
	// of the same name, as Go's own field promotion does.
	type pending struct {
		t     reflect.Type
		index []int
	}
	queue := []pending{{t: t}}
	seenTypes := map[reflect.Type]bool{t: true}
	for len(queue) > 0 {
		var next []pending
		for _, p := range queue {
			for i := range p.t.NumField() {
				sf := p.t.Field(i)
				index := append(append([]int(nil), p.index...), i)
				name, omitEmpty, optional, skip := parseTag(sf)
				if skip {
					continue
				}
				_, tagged := sf.Tag.Lookup("xmlrpc")
				if sf.Anonymous && !tagged && sf.Type.Kind() == reflect.Struct && sf.Type != timeType {
					if !seenTypes[sf.Type] {
						seenTypes[sf.Type] = true
						next = append(next, pending{t: sf.Type, index: index})
					}
					continue
				}
				if !sf.IsExported() {
					continue
				}
				if _, dup := si.byName[name]; dup {
					continue
				}
				si.byName[name] = len(si.members)
				si.members = append(si.members, field{name: name, index: index, omitEmpty: omitEmpty, optional: optional})
			}
		}
		queue = next
	}
	// Positional parameters: the direct exported fields, in order.
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, omitEmpty, optional, skip := parseTag(sf)
		if skip {
			continue
		}
		si.params = append(si.params, field{name: name, index: []int{i}, omitEmpty: omitEmpty, optional: optional})
	}
	si.required = len(si.params)
	for si.required > 0 && si.params[si.required-1].optional {
		si.required--
	}
	return si
}
