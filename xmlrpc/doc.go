// Package xmlrpc is the XML-RPC layer of both GIMS daemons: a codec for
// github.com/gorilla/rpc (v1), a Server that turns every failure into a
// proper fault and adds introspection and multicall, and a client, Call.
//
// # Types
//
// Values map to Go as follows, both ways:
//
//	int, i4, i8 (and i1, i2 on input)  int*, uint* (range checked); <i8> is
//	                                   written beyond the 32-bit range
//	boolean                            bool
//	string, untyped <value>            string
//	double                             float64, float32 (an int is accepted)
//	dateTime.iso8601                   time.Time: written in UTC as
//	                                   20060102T15:04:05 (whole seconds);
//	                                   read also as RFC 3339, with zone,
//	                                   and from a string in those forms
//	base64                             []byte, [N]byte (exactly N bytes)
//	array                              slices, arrays
//	struct                             structs, map[string]T
//	nil                                read into a nil pointer, interface,
//	                                   slice or map; written for a nil
//	                                   pointer or interface (nil slices
//	                                   and maps are written empty)
//
// Struct members are named by the tag `xmlrpc:"name"`, else by the Go field
// name as is; options are omitempty (zero values are not written) and, on
// a method's args fields, optional (a trailing parameter may be absent);
// `xmlrpc:"-"` skips a field. Nil pointer fields are not written. Embedded
// structs without a tag are flattened. An `any` receives int, float64, bool,
// string, time.Time, []byte, []any, map[string]any or nil. The server
// refuses unknown struct members in parameters; Call ignores them in
// results, so a newer peer may add fields.
//
// # Server
//
// Methods have gorilla's shape, func (s *Svc) M(r *http.Request, args *A,
// reply *R) error; the XML-RPC params fill the exported fields of A in
// order. Requests are parsed and the parameters decoded before gorilla
// runs the method, so a wrong parameter count, a wrong type or an unknown
// struct member is the fault Codes.InvalidParams (3) naming the parameter
// and member, and the method does not run. Faults:
//
//	malformed request, DOCTYPE, limits  Codes.ParseError    (-32700)
//	unknown method                      Codes.UnknownMethod (-32601)
//	bad parameters                      Codes.InvalidParams (3)
//	method error                        Configuration.FaultMapper, by default the
//	                                    Fault in the error chain, else
//	                                    Codes.Application (-32500)
//	reply that cannot be encoded        Codes.Internal      (-32603)
//	answer beyond MaxResponseBytes      Codes.TooLarge      (3)
//
// all with HTTP 200. HTTP errors remain for what is not an XML-RPC request:
// a method other than POST (405), an unsupported Content-Type (415), a
// body beyond Configuration.MaxBodyBytes (413).
//
// system.multicall runs each sub-call in order through Configuration.Middleware
// and the dispatcher, with a copy of the original request (same headers,
// same context) whose context holds the sub-call, so authentication and
// request-scoped values apply to each; a nested system.multicall is a
// fault. Each entry of the result is a one-element array holding the
// result, or a fault struct, as Python's xmlrpc.client.MultiCall expects.
// A multicall holds at most Configuration.MaxMulticall calls, and its
// sub-answers share the request's response budget
// (Configuration.MaxResponseBytes): the sub-call whose answer does not fit
// is the fault Codes.TooLarge, and the calls after it are not run and get
// the same fault.
//
// Parsing is strict XML, the subset encoding/xml reads in strict mode, with
// the package's own scanner (scan.go: no allocation per token): DOCTYPE and
// other directives are refused (no entity can expand), nesting and the
// number of values are bounded, and invalid UTF-8 is an error.
package xmlrpc
