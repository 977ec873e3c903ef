package xmlrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/rpc"
)

// Codec is an XML-RPC codec for github.com/gorilla/rpc (v1). Server
// registers it and decodes requests before gorilla sees them, so that every
// failure becomes a fault. Registered by itself on a plain rpc.Server it
// also works, but then gorilla answers malformed requests, unknown methods
// and bad parameters with HTTP 400 text, not faults.
type Codec struct {
	cfg   Configuration
	cache typeCache
	// bufs holds the buffers answers are encoded into, reused once
	// written (a status answer is tens of kilobytes; growing a fresh
	// buffer for each made most of the garbage of a busy server).
	bufs sync.Pool
}

// ValueAppender is implemented by replies that encode themselves: a
// method whose reply type implements it is answered with the one <value>
// element AppendXMLRPCValue appends to b (an answer kept encoded, say),
// under the same response budget, faults and middleware as any reply.
// AppendValue encodes the parts it does not keep.
type ValueAppender interface {
	AppendXMLRPCValue(b []byte) ([]byte, error)
}

// maxPooledBuffer is the largest encoding buffer kept for reuse: a rare
// huge answer does not pin its memory.
const maxPooledBuffer = 1 << 20

// buffer returns an empty encoding buffer.
func (c *Codec) buffer() []byte {
	if p, ok := c.bufs.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 4096)
}

// release gives back a buffer that nothing refers to any more.
func (c *Codec) release(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuffer {
		return
	}
	c.bufs.Put(&b)
}

// AppendValue appends v's <value> element to b, encoded as the codec
// encodes replies (for a ValueAppender's parts).
func (c *Codec) AppendValue(b []byte, v any) ([]byte, error) {
	e := encoder{b: b, cache: &c.cache}
	err := e.value(reflect.ValueOf(v))
	return e.b, err
}

// encodeReply encodes a method's reply into a buffer of the pool, within
// budget bytes (none when not positive).
func (c *Codec) encodeReply(reply any, budget int64) ([]byte, error) {
	if va, ok := reply.(ValueAppender); ok {
		b, err := va.AppendXMLRPCValue(c.buffer())
		if err == nil && budget > 0 && int64(len(b)) > budget {
			err = &errTooLarge{max: budget}
		}
		return b, err
	}
	e := encoder{b: c.buffer(), cache: &c.cache, max: budget}
	v := reflect.ValueOf(reply)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	err := e.value(v)
	return e.b, err
}

// NewCodec returns a codec with cfg, which it refuses when invalid (start
// from DefaultConfiguration).
func NewCodec(cfg Configuration) (*Codec, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid XML-RPC configuration: %w", err)
	}
	return &Codec{cfg: cfg}, nil
}

// limits returns the parse limits of requests.
func (c *Codec) limits() limits {
	return limits{maxDepth: c.cfg.MaxDepth, maxValues: c.cfg.MaxValues}
}

// gorillaName maps an XML-RPC method name to gorilla's "Service.Method":
// unqualified names go to the default service.
func (c *Codec) gorillaName(method string) (string, bool) {
	if strings.Contains(method, ".") {
		return method, strings.Count(method, ".") == 1
	}
	if c.cfg.DefaultService == "" {
		return "", false
	}
	return c.cfg.DefaultService + "." + method, true
}

// callState is one call being served: the parsed request, and for a
// multicall sub-call, where its outcome goes. It travels in the request
// context from Server.ServeHTTP through the middleware and gorilla to the
// codec.
type callState struct {
	method string  // XML-RPC method name
	params []value // parsed parameters
	sub    bool    // a call inside system.multicall
	// budget is how many bytes this call's encoded answer may take:
	// Configuration.MaxResponseBytes, less what earlier sub-calls of the
	// same multicall took.
	budget int64
	// overBudget is set when the answer was refused for the budget.
	overBudget bool

	gorilla string        // "Service.Method", set before gorilla runs
	args    reflect.Value // decoded args (pointer), set before gorilla runs

	done   bool   // the outcome below is set
	result []byte // encoded <value> of the reply
	fault  *Fault // or the fault
}

// stateKey is the context key of *callState.
type stateKey struct{}

func stateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	return st
}

// MethodName returns the XML-RPC method name of the call a Server is
// serving with ctx (for a multicall sub-call, the sub-call's name), or ""
// outside a call. Middleware uses it to authorize per method.
func MethodName(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.method
	}
	return ""
}

// CallFault returns the code of the fault the call served with ctx was
// answered with (0 for a result, or before the call is answered), so
// Middleware can count faults after calling the next handler. Faults the
// middleware writes itself with WriteFault are not seen.
func CallFault(ctx context.Context) int {
	if st := stateFrom(ctx); st != nil && st.done && st.fault != nil {
		return st.fault.Code
	}
	return 0
}

// NewRequest implements rpc.Codec.
func (c *Codec) NewRequest(r *http.Request) rpc.CodecRequest {
	if st := stateFrom(r.Context()); st != nil && st.args.IsValid() {
		return &codecRequest{codec: c, st: st}
	}
	// Standalone: read and parse here.
	cr := &codecRequest{codec: c}
	body, err := io.ReadAll(io.LimitReader(r.Body, c.cfg.MaxBodyBytes+1))
	switch {
	case err != nil:
		cr.err = fmt.Errorf("xmlrpc: unable to read request: %w", err)
	case int64(len(body)) > c.cfg.MaxBodyBytes:
		cr.err = fmt.Errorf("xmlrpc: request larger than %d bytes", c.cfg.MaxBodyBytes)
	default:
		call, err := parseCall(body, c.limits())
		if err != nil {
			cr.err = fmt.Errorf("xmlrpc: parse error: %w", err)
		} else {
			cr.call = &call
		}
	}
	return cr
}

// codecRequest implements rpc.CodecRequest.
type codecRequest struct {
	codec *Codec
	st    *callState  // set when Server decoded the call
	call  *methodCall // standalone: the parsed call
	err   error       // standalone: the parse error
}

// Method implements rpc.CodecRequest.
func (cr *codecRequest) Method() (string, error) {
	if cr.st != nil {
		return cr.st.gorilla, nil
	}
	if cr.err != nil {
		return "", cr.err
	}
	name, ok := cr.codec.gorillaName(cr.call.method)
	if !ok {
		return "", fmt.Errorf("xmlrpc: unknown method %q", cr.call.method)
	}
	return name, nil
}

// ReadRequest implements rpc.CodecRequest.
func (cr *codecRequest) ReadRequest(args any) error {
	dst := reflect.ValueOf(args)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return errors.New("xmlrpc: args must be a non-nil pointer")
	}
	if cr.st != nil {
		if cr.st.args.Type() != dst.Type() {
			return fmt.Errorf("xmlrpc: args type %s, decoded %s", dst.Type(), cr.st.args.Type())
		}
		dst.Elem().Set(cr.st.args.Elem())
		return nil
	}
	if cr.err != nil {
		return cr.err
	}
	a := assigner{cache: &cr.codec.cache, strict: true}
	if err := a.decodeParams(cr.call.params, dst); err != nil {
		return fmt.Errorf("xmlrpc: invalid parameters: %w", err)
	}
	return nil
}

// WriteResponse implements rpc.CodecRequest. A method error is always
// answered as a fault with HTTP 200, so is a reply that cannot be encoded.
func (cr *codecRequest) WriteResponse(w http.ResponseWriter, reply any, methodErr error) error {
	var (
		encoded []byte
		fault   *Fault
	)
	if methodErr != nil {
		f := cr.codec.cfg.mapFault(methodErr)
		fault = &f
	} else {
		budget := cr.codec.cfg.MaxResponseBytes
		if cr.st != nil {
			budget = cr.st.budget
		}
		b, err := cr.codec.encodeReply(reply, budget)
		if err != nil {
			cr.codec.release(b)
			var f Fault
			f, over := cr.codec.encodeFault(err)
			if cr.st != nil {
				cr.st.overBudget = over
			}
			fault = &f
		} else {
			encoded = b
		}
	}
	if cr.st != nil {
		cr.st.done = true
		cr.st.result, cr.st.fault = encoded, fault
		if cr.st.sub {
			return nil // multicall copies the result; the buffer is not reused
		}
		cr.st.result = nil // released below
	}
	if fault != nil {
		writeXML(w, appendFault(nil, *fault))
	} else {
		writeResponse(w, encoded)
		cr.codec.release(encoded)
	}
	return nil
}

// encodeFault is the fault of a reply that could not be encoded: too
// large for the response budget (overBudget), or not encodable at all.
func (c *Codec) encodeFault(err error) (f Fault, overBudget bool) {
	var tl *errTooLarge
	if errors.As(err, &tl) {
		return c.tooLarge(), true
	}
	return Fault{Code: c.cfg.Codes.Internal, String: "unable to encode the reply: " + err.Error()}, false
}

// tooLarge is the fault of an answer beyond the response budget.
func (c *Codec) tooLarge() Fault {
	return Fault{Code: c.cfg.Codes.TooLarge, String: fmt.Sprintf("response too large: one request may return at most %d bytes; "+
		"ask for fewer results (a smaller limit) or make fewer calls per system.multicall", c.cfg.MaxResponseBytes)}
}

// writeXML sends an XML-RPC response document with HTTP 200. Write errors
// mean the client went away; there is nobody left to tell.
func writeXML(w http.ResponseWriter, doc []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// Wrapping of an encoded <value> in a methodResponse document.
const (
	responseHead = `<?xml version="1.0" encoding="UTF-8"?>` + "\n<methodResponse><params><param>"
	responseTail = "</param></params></methodResponse>\n"
)

// writeResponse sends the methodResponse document holding encodedValue
// with HTTP 200, without copying the value into a new document.
func writeResponse(w http.ResponseWriter, encodedValue []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(responseHead)+len(encodedValue)+len(responseTail)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, responseHead)
	_, _ = w.Write(encodedValue)
	_, _ = io.WriteString(w, responseTail)
}

// WriteFault answers an XML-RPC request with fault f and HTTP 200, as
// XML-RPC clients expect. Middleware uses it to refuse a call (inside a
// multicall, the fault becomes that sub-call's entry).
func WriteFault(w http.ResponseWriter, f Fault) {
	writeXML(w, appendFault(nil, f))
}
