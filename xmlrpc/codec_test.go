package xmlrpc

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// encodeOne encodes v as a <value>.
func encodeOne(v any) (string, error) {
	e := encoder{cache: &typeCache{}}
	err := e.value(reflect.ValueOf(v))
	return string(e.b), err
}

// decodeOne parses a <value> fragment and assigns it to dst (a pointer).
func decodeOne(fragment string, dst any, strict bool) error {
	c, err := parseCall([]byte("<methodCall><methodName>x</methodName><params><param>"+
		fragment+"</param></params></methodCall>"), limits{maxDepth: 64, maxValues: 1000})
	if err != nil {
		return err
	}
	a := assigner{cache: &typeCache{}, strict: strict}
	return a.assign(&c.params[0], reflect.ValueOf(dst).Elem())
}

type embeddedBase struct {
	ID   int    `xmlrpc:"id"`
	Name string `xmlrpc:"name"`
}

type withEmbedded struct {
	embeddedBase
	Name    string `xmlrpc:"label"`
	Skipped int    `xmlrpc:"-"`
	hidden  int
	Count   int `xmlrpc:"count,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func TestRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 23, 8, 12, 0, 0, time.UTC)
	cases := []struct {
		name string
		go_  any
		xml  string
	}{
		{"int", 42, "<value><int>42</int></value>"},
		{"int negative", -17, "<value><int>-17</int></value>"},
		{"int32 min", int32(-2147483648), "<value><int>-2147483648</int></value>"},
		{"int64 beyond 32 bits", int64(1 << 31), "<value><i8>2147483648</i8></value>"},
		{"int64 negative beyond 32 bits", int64(-1 << 40), "<value><i8>-1099511627776</i8></value>"},
		{"uint64 counter", uint64(5_000_000_000), "<value><i8>5000000000</i8></value>"},
		{"uint8", uint8(200), "<value><int>200</int></value>"},
		{"bool true", true, "<value><boolean>1</boolean></value>"},
		{"bool false", false, "<value><boolean>0</boolean></value>"},
		{"string", "hello", "<value><string>hello</string></value>"},
		{"string escaped", "a<b&c>d\r\n\te", "<value><string>a&lt;b&amp;c&gt;d&#xD;\n\te</string></value>"},
		{"string unicode", "héllo ✓ 日本", "<value><string>héllo ✓ 日本</string></value>"},
		{"string empty", "", "<value><string></string></value>"},
		{"double", 1.5, "<value><double>1.5</double></value>"},
		{"double negative", -0.25, "<value><double>-0.25</double></value>"},
		{"double large", 1e21, "<value><double>1000000000000000000000</double></value>"},
		{"float32", float32(0.5), "<value><double>0.5</double></value>"},
		{"time", when, "<value><dateTime.iso8601>20261123T08:12:00</dateTime.iso8601></value>"},
		{"bytes", []byte("hello"), "<value><base64>aGVsbG8=</base64></value>"},
		{"bytes empty", []byte{}, "<value><base64></base64></value>"},
		{"byte array", [4]byte{1, 2, 3, 4}, "<value><base64>AQIDBA==</base64></value>"},
		{"int slice", []int{1, 2}, "<value><array><data><value><int>1</int></value><value><int>2</int></value></data></array></value>"},
		{"empty slice", []string{}, "<value><array><data></data></array></value>"},
		{"int array", [2]int64{3, 1 << 33}, "<value><array><data><value><int>3</int></value><value><i8>8589934592</i8></value></data></array></value>"},
		{"nested slices", [][]string{{"a"}, {}}, "<value><array><data><value><array><data><value><string>a</string></value></data></array></value><value><array><data></data></array></value></data></array></value>"},
		{"map sorted", map[string]int{"b": 2, "a": 1}, "<value><struct><member><name>a</name><value><int>1</int></value></member><member><name>b</name><value><int>2</int></value></member></struct></value>"},
		{"struct tags, omitempty, nil pointer", Sample{Int: 1, Big: 1 << 40, Name: "x&y", When: when, Blob: []byte{0xff}, List: []int{}},
			"<value><struct>" +
				"<member><name>int</name><value><int>1</int></value></member>" +
				"<member><name>big</name><value><i8>1099511627776</i8></value></member>" +
				"<member><name>unsigned</name><value><int>0</int></value></member>" +
				"<member><name>flag</name><value><boolean>0</boolean></value></member>" +
				"<member><name>ratio</name><value><double>0</double></value></member>" +
				"<member><name>name</name><value><string>x&amp;y</string></value></member>" +
				"<member><name>when</name><value><dateTime.iso8601>20261123T08:12:00</dateTime.iso8601></value></member>" +
				"<member><name>blob</name><value><base64>/w==</base64></value></member>" +
				"<member><name>list</name><value><array><data></data></array></value></member>" +
				"</struct></value>"},
		{"struct pointer member set", Sample{Note: ptr("n"), List: []int{}, Blob: []byte{}, When: when},
			"<value><struct>" +
				"<member><name>int</name><value><int>0</int></value></member>" +
				"<member><name>big</name><value><int>0</int></value></member>" +
				"<member><name>unsigned</name><value><int>0</int></value></member>" +
				"<member><name>flag</name><value><boolean>0</boolean></value></member>" +
				"<member><name>ratio</name><value><double>0</double></value></member>" +
				"<member><name>name</name><value><string></string></value></member>" +
				"<member><name>when</name><value><dateTime.iso8601>20261123T08:12:00</dateTime.iso8601></value></member>" +
				"<member><name>blob</name><value><base64></base64></value></member>" +
				"<member><name>list</name><value><array><data></data></array></value></member>" +
				"<member><name>note</name><value><string>n</string></value></member>" +
				"</struct></value>"},
		{"embedded struct flattened, outer name wins", withEmbedded{embeddedBase: embeddedBase{ID: 3, Name: "inner"}, Name: "outer"},
			"<value><struct><member><name>label</name><value><string>outer</string></value></member>" +
				"<member><name>id</name><value><int>3</int></value></member>" +
				"<member><name>name</name><value><string>inner</string></value></member></struct></value>"},
		{"pointer", ptr(7), "<value><int>7</int></value>"},
		{"any slice", []any{1, "x", true, 2.5, []any{}, map[string]any{"k": 1 << 40}},
			"<value><array><data><value><int>1</int></value><value><string>x</string></value><value><boolean>1</boolean></value>" +
				"<value><double>2.5</double></value><value><array><data></data></array></value>" +
				"<value><struct><member><name>k</name><value><i8>1099511627776</i8></value></member></struct></value></data></array></value>"},
		{"any map", map[string]any{"n": 5, "s": "t", "b": []byte("z"), "w": when},
			"<value><struct><member><name>b</name><value><base64>eg==</base64></value></member>" +
				"<member><name>n</name><value><int>5</int></value></member>" +
				"<member><name>s</name><value><string>t</string></value></member>" +
				"<member><name>w</name><value><dateTime.iso8601>20261123T08:12:00</dateTime.iso8601></value></member></struct></value>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeOne(tc.go_)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if got != tc.xml {
				t.Errorf("encode (-got, +want):\n- %s\n+ %s", got, tc.xml)
			}
			dst := reflect.New(reflect.TypeOf(tc.go_))
			if err := decodeOne(tc.xml, dst.Interface(), true); err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := tc.go_
			if w, ok := want.(withEmbedded); ok { // "-" and unexported fields do not travel
				w.Skipped, w.hidden = 0, 0
				want = w
			}
			if !reflect.DeepEqual(dst.Elem().Interface(), want) {
				t.Errorf("decode (-got, +want):\n- %#v\n+ %#v", dst.Elem().Interface(), want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	when := time.Date(2026, 11, 23, 8, 12, 0, 0, time.UTC)
	cases := []struct {
		name string
		xml  string
		want any // decoded into a new value of this type
	}{
		{"i4", "<value><i4>12</i4></value>", 12},
		{"i8", "<value><i8>9000000000</i8></value>", int64(9000000000)},
		{"i1", "<value><i1>-3</i1></value>", int8(-3)},
		{"i2", "<value><i2>300</i2></value>", int16(300)},
		{"int with spaces and plus", "<value><int> +42 </int></value>", 42},
		{"big int in int tag", "<value><int>5000000000</int></value>", int64(5000000000)},
		{"untyped value is a string", "<value>abc  </value>", "abc  "},
		{"empty value is an empty string", "<value/>", ""},
		{"empty string element", "<value><string/></value>", ""},
		{"CDATA and comments", "<value><string>a<![CDATA[<b>]]><!-- c -->d</string></value>", "a<b>d"},
		{"entities", "<value><string>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</string></value>", `<&>"'AB`},
		{"whitespace around typed", "<value>\n  <int>1</int>\n</value>", 1},
		{"boolean true word", "<value><boolean>true</boolean></value>", true},
		{"double from int", "<value><int>3</int></value>", 3.0},
		{"double exponent", "<value><double>1e3</double></value>", 1000.0},
		{"time Python", "<value><dateTime.iso8601>20261123T08:12:00</dateTime.iso8601></value>", when},
		{"time compact", "<value><dateTime.iso8601>20261123T081200</dateTime.iso8601></value>", when},
		{"time RFC 3339 Z", "<value><dateTime.iso8601>2026-11-23T08:12:00Z</dateTime.iso8601></value>", when},
		{"time RFC 3339 offset", "<value><dateTime.iso8601>2026-11-23T09:12:00+01:00</dateTime.iso8601></value>", when},
		{"time RFC 3339 naive", "<value><dateTime.iso8601>2026-11-23T08:12:00</dateTime.iso8601></value>", when},
		{"time from an ISO string", "<value><string>2026-11-23T09:12:00+01:00</string></value>", when},
		{"time from an XML-RPC string", "<value>20261123T08:12:00</value>", when},
		{"base64 lines", "<value><base64>aGVs\nbG8=\n</base64></value>", []byte("hello")},
		{"base64 unpadded", "<value><base64>aGVsbG8</base64></value>", []byte("hello")},
		{"nil pointer", "<value><nil/></value>", (*int)(nil)},
		{"nil slice", "<value><nil/></value>", []int(nil)},
		{"member value before name", "<value><struct><member><value><int>5</int></value><name>interval_ms</name></member></struct></value>", Counters{IntervalMS: 5}},
		{"missing members keep zero", "<value><struct></struct></value>", TestConfig{}},
		{"pointer member allocated", "<value><struct><member><name>counters</name><value><struct><member><name>interval_ms</name><value><int>9</int></value></member></struct></value></member></struct></value>",
			TestConfig{Counters: &Counters{IntervalMS: 9}}},
		{"map of slices", "<value><struct><member><name>a</name><value><array><data><value>x</value></data></array></value></member></struct></value>",
			map[string][]string{"a": {"x"}}},
		{"named string map key", "<value><struct><member><name>k</name><value><int>1</int></value></member></struct></value>", map[kindName]int{"k": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := reflect.New(reflect.TypeOf(tc.want))
			if err := decodeOne(tc.xml, dst.Interface(), true); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(dst.Elem().Interface(), tc.want) {
				t.Errorf("decode (-got, +want):\n- %#v\n+ %#v", dst.Elem().Interface(), tc.want)
			}
		})
	}
}

type kindName string

func TestDecodeAny(t *testing.T) {
	when := time.Date(2026, 11, 23, 8, 12, 0, 0, time.UTC)
	xml := "<value><struct>" +
		"<member><name>i</name><value><int>1</int></value></member>" +
		"<member><name>big</name><value><i8>5000000000</i8></value></member>" +
		"<member><name>b</name><value><boolean>1</boolean></value></member>" +
		"<member><name>d</name><value><double>0.5</double></value></member>" +
		"<member><name>s</name><value>str</value></member>" +
		"<member><name>t</name><value><dateTime.iso8601>20261123T08:12:00</dateTime.iso8601></value></member>" +
		"<member><name>raw</name><value><base64>AA==</base64></value></member>" +
		"<member><name>a</name><value><array><data><value><int>2</int></value></data></array></value></member>" +
		"<member><name>n</name><value><nil/></value></member>" +
		"</struct></value>"
	var got any
	if err := decodeOne(xml, &got, true); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"i": 1, "big": 5000000000, "b": true, "d": 0.5, "s": "str", "t": when,
		"raw": []byte{0}, "a": []any{2}, "n": nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("(-got, +want):\n- %#v\n+ %#v", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		xml    string
		into   any
		strict bool
		want   string // substring of the error
	}{
		{"int into string", "<value><int>1</int></value>", "", true, "expected string, got int"},
		{"string into int", "<value>12</value>", 0, true, "expected int, got string"},
		{"int8 overflow", "<value><int>300</int></value>", int8(0), true, "300 out of range"},
		{"negative into uint", "<value><int>-1</int></value>", uint(0), true, "-1 out of range"},
		{"double into int", "<value><double>1.5</double></value>", 0, true, "expected int, got double"},
		{"unknown member", "<value><struct><member><name>counters</name><value><struct><member><name>bogus</name><value>x</value></member></struct></value></member></struct></value>",
			TestConfig{}, true, `counters: unknown member "bogus"`},
		{"duplicate member", "<value><struct><member><name>filter</name><value>a</value></member><member><name>filter</name><value>b</value></member></struct></value>",
			TestConfig{}, true, `duplicate member "filter"`},
		{"type error path", "<value><struct><member><name>counters</name><value><struct><member><name>interval_ms</name><value>x</value></member></struct></value></member></struct></value>",
			TestConfig{}, true, "counters.interval_ms: expected int, got string"},
		{"index path", "<value><struct><member><name>l</name><value><array><data><value><int>1</int></value><value>x</value></data></array></value></member></struct></value>",
			map[string][]int{}, true, "l[1]: expected int, got string"},
		{"base64 wrong length", "<value><base64>AQID</base64></value>", [4]byte{}, true, "got 3 bytes, want exactly 4"},
		{"array wrong length", "<value><array><data></data></array></value>", [1]int{}, true, "got 0 elements, want exactly 1"},
		{"array into map", "<value><array><data></data></array></value>", map[string]int{}, true, "expected struct, got array"},
		{"nil into int", "<value><nil/></value>", 0, true, "expected int, got nil"},
		{"non-empty interface", "<value>x</value>", (*error)(nil), true, "cannot decode into error"},
		{"bad string into time", "<value>tomorrow</value>", time.Time{}, true, `expected dateTime.iso8601 or an ISO 8601 string, got string "tomorrow"`},
		{"int into time", "<value><int>1</int></value>", time.Time{}, true, "expected dateTime.iso8601, got int"},
		{"string into bytes", "<value>aGVsbG8=</value>", []byte{}, true, "expected base64, got string"},
		{"bad int", "<value><int>12a</int></value>", 0, true, `invalid <int> "12a"`},
		{"bad boolean", "<value><boolean>2</boolean></value>", false, true, `invalid <boolean> "2"`},
		{"bad double", "<value><double>x</double></value>", 0.0, true, `invalid <double> "x"`},
		{"bad date", "<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>", time.Time{}, true, `invalid <dateTime.iso8601>`},
		{"bad base64", "<value><base64>!!!</base64></value>", []byte{}, true, "invalid <base64>"},
		{"nil with content", "<value><nil>x</nil></value>", (*int)(nil), true, "<nil> must be empty"},
		{"text beside typed", "<value>x<int>1</int></value>", 0, true, "text beside a typed value"},
		{"two types", "<value><int>1</int><int>2</int></value>", 0, true, "more than one type"},
		{"unknown type", "<value><foo>1</foo></value>", 0, true, "unknown type <foo>"},
		{"child in scalar", "<value><int><b/>1</int></value>", 0, true, "unexpected <b> inside <int>"},
		{"member without value", "<value><struct><member><name>a</name></member></struct></value>", map[string]int{}, true, "needs one <name> and one <value>"},
		{"array without data", "<value><array></array></value>", []int{}, true, "expected <data>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := reflect.New(reflect.TypeOf(&tc.into).Elem())
			if tc.into != nil {
				dst = reflect.New(reflect.TypeOf(tc.into))
			}
			err := decodeOne(tc.xml, dst.Interface(), tc.strict)
			if err == nil {
				t.Fatalf("decode succeeded: %#v", dst.Elem().Interface())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeLenientMembers(t *testing.T) {
	xml := "<value><struct><member><name>filter</name><value>tcp</value></member><member><name>newer</name><value><int>1</int></value></member></struct></value>"
	var got TestConfig
	if err := decodeOne(xml, &got, false); err != nil {
		t.Fatalf("lenient decode: %v", err)
	}
	if got.Filter != "tcp" {
		t.Errorf("Filter = %q, want tcp", got.Filter)
	}
	if err := decodeOne(xml, &got, true); err == nil {
		t.Error("strict decode accepted an unknown member")
	}
}

func TestEncodeSpecial(t *testing.T) {
	nan := func() float64 { var z float64; return z / z }()
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"nil interface", nil, "<value><nil/></value>"},
		{"nil pointer", (*int)(nil), "<value><nil/></value>"},
		{"nil slice", []int(nil), "<value><array><data></data></array></value>"},
		{"nil map", map[string]int(nil), "<value><struct></struct></value>"},
		{"invalid UTF-8 and control chars", "a\xffb\x00c\uFFFEd", "<value><string>a\uFFFDb\uFFFDc\uFFFDd</string></value>"},
		{"NaN", nan, "<value><double>nan</double></value>"},
		{"time with zone and nanoseconds", time.Date(2026, 1, 2, 4, 4, 5, 999, time.FixedZone("x", 3600)),
			"<value><dateTime.iso8601>20260102T03:04:05</dateTime.iso8601></value>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeOne(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("(-got, +want):\n- %s\n+ %s", got, tc.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	type cyclic struct {
		Next *cyclic
	}
	loop := &cyclic{}
	loop.Next = loop
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"channel", make(chan int), "cannot encode chan int"},
		{"func in struct", struct{ F func() }{F: func() {}}, "F: cannot encode func()"},
		{"uint64 beyond int64", uint64(1 << 63), "does not fit a 64-bit signed integer"},
		{"int map keys", map[int]int{1: 1}, "keys must be strings"},
		{"cycle", loop, "cycle?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := encodeOne(tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeParams(t *testing.T) {
	cases := []struct {
		name   string
		params string
		args   any
		want   any    // when err is ""
		err    string // substring
	}{
		{"two ints", "<param><value><int>1</int></value></param><param><value><int>2</int></value></param>", &AddArgs{}, &AddArgs{A: 1, B: 2}, ""},
		{"too few", "<param><value><int>1</int></value></param>", &AddArgs{}, nil, "wrong number of parameters: got 1, want 2"},
		{"too many", "<param><value><int>1</int></value></param><param><value><int>1</int></value></param><param><value><int>1</int></value></param>", &AddArgs{}, nil, "got 3, want 2"},
		{"wrong type names the parameter", "<param><value><int>1</int></value></param><param><value>x</value></param>", &AddArgs{}, nil, "parameter 2 (B): expected int, got string"},
		{"optional trailing absent", "<param><value><int>1</int></value></param><param><value>m</value></param>", &FailArgs{}, &FailArgs{Code: 1, Message: "m"}, ""},
		{"optional trailing present", "<param><value><int>1</int></value></param><param><value>m</value></param><param><value><boolean>1</boolean></value></param>", &FailArgs{}, &FailArgs{Code: 1, Message: "m", Wrap: true}, ""},
		{"optional range message", "", &FailArgs{}, nil, "got 0, want 2 to 3"},
		{"no args", "", &NoArgs{}, &NoArgs{}, ""},
		{"no args given one", "<param><value>x</value></param>", &NoArgs{}, nil, "got 1, want 0"},
		{"non-struct args", "<param><value>x</value></param>", ptr(""), ptr("x"), ""},
		{"non-struct args count", "", ptr(""), nil, "got 0, want 1"},
		{"unknown member in struct param", "<param><value><int>1</int></value></param><param><value><struct><member><name>filtre</name><value>x</value></member></struct></value></param>",
			&ConfigureArgs{}, nil, `parameter 2 (Config): unknown member "filtre"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCall([]byte("<methodCall><methodName>m</methodName><params>"+tc.params+"</params></methodCall>"), limits{64, 100})
			if err != nil {
				t.Fatal(err)
			}
			a := assigner{cache: &typeCache{}, strict: true}
			err = a.decodeParams(c.params, reflect.ValueOf(tc.args))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.args, tc.want) {
				t.Errorf("(-got, +want):\n- %#v\n+ %#v", tc.args, tc.want)
			}
		})
	}
}
