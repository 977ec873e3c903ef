package xmlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/rpc"
)

// Names of the introspection methods every Server answers itself.
const (
	methodListMethods = "system.listMethods"
	methodMethodHelp  = "system.methodHelp"
	methodMulticall   = "system.multicall"
)

// Server is an http.Handler serving XML-RPC over a gorilla/rpc server with
// this package's codec. Compared with a bare rpc.Server, every failure is
// an XML-RPC fault with HTTP 200 (a method's error, an unknown method,
// parameters that do not fit — and then the method does not run — or a
// malformed body), and it answers system.listMethods, system.methodHelp and
// system.multicall. Only POST is served (405 otherwise); bodies beyond
// Configuration.MaxBodyBytes get HTTP 413; a Content-Type other than text/xml,
// application/xml or none gets 415.
type Server struct {
	codec   *Codec
	rpc     *rpc.Server
	handler http.Handler // Middleware(dispatch), or dispatch

	mu        sync.RWMutex
	methods   map[string]*method // by XML-RPC name
	byGorilla map[string]*method // by "Service.Method"
}

// method is one registered XML-RPC method.
type method struct {
	name     string       // XML-RPC name
	gorilla  string       // "Service.Method"
	argsType reflect.Type // what *args points to
	help     string
}

// NewServer returns a Server with cfg, which it refuses when invalid (start
// from DefaultConfiguration).
func NewServer(cfg Configuration) (*Server, error) {
	c, err := NewCodec(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		codec:     c,
		rpc:       rpc.NewServer(),
		methods:   make(map[string]*method),
		byGorilla: make(map[string]*method),
	}
	// The empty type is registered too: gorilla only defaults to a codec
	// for a missing Content-Type when it has exactly one.
	for _, ct := range []string{"text/xml", "application/xml", ""} {
		s.rpc.RegisterCodec(c, ct)
	}
	var h http.Handler = http.HandlerFunc(s.dispatch)
	if c.cfg.Middleware != nil {
		h = c.cfg.Middleware(h)
	}
	s.handler = h
	return s, nil
}

// AppendValue appends v's <value> element to b, encoded as the server
// encodes replies: a ValueAppender reply encodes its parts with it.
func (s *Server) AppendValue(b []byte, v any) ([]byte, error) { return s.codec.AppendValue(b, v) }

// RPC returns the underlying gorilla server, to install its intercept,
// before and after hooks (they run for every call, multicall sub-calls
// included). Register services with Server.RegisterService, not on it.
func (s *Server) RPC() *rpc.Server { return s.rpc }

var (
	typeOfError   = reflect.TypeFor[error]()
	typeOfRequest = reflect.TypeFor[*http.Request]()
)

// RegisterService registers receiver's methods of the gorilla shape
// `func (*T) M(r *http.Request, args *Args, reply *Reply) error` as
// service name (the receiver's type name if empty). Methods of
// Configuration.DefaultService are called by their bare name ("M"), others as
// "name.M". The parameters of a call fill the exported fields of Args in
// order (a non-struct Args takes exactly one parameter; NoArgs takes none);
// the reply is *Reply. help maps Go method names to the text
// system.methodHelp returns; a key naming no method is an error.
func (s *Server) RegisterService(receiver any, name string, help map[string]string) error {
	rv := reflect.ValueOf(receiver)
	if !rv.IsValid() {
		return errors.New("xmlrpc: nil receiver")
	}
	svc := name
	if svc == "" {
		svc = reflect.Indirect(rv).Type().Name()
	}
	if svc == "system" {
		return errors.New("xmlrpc: service name \"system\" is reserved for introspection")
	}
	if strings.Contains(svc, ".") {
		return fmt.Errorf("xmlrpc: service name %q contains a dot", svc)
	}
	rt := rv.Type()
	var found []*method
	goNames := make(map[string]bool)
	for i := range rt.NumMethod() {
		m := rt.Method(i)
		mt := m.Type
		if !m.IsExported() || mt.NumIn() != 4 || mt.In(1) != typeOfRequest ||
			mt.NumOut() != 1 || mt.Out(0) != typeOfError {
			continue
		}
		args, reply := mt.In(2), mt.In(3)
		if args.Kind() != reflect.Pointer || reply.Kind() != reflect.Pointer ||
			!isExportedOrBuiltin(args) || !isExportedOrBuiltin(reply) {
			continue
		}
		xname := svc + "." + m.Name
		if svc == s.codec.cfg.DefaultService {
			xname = m.Name
		}
		goNames[m.Name] = true
		found = append(found, &method{
			name:     xname,
			gorilla:  svc + "." + m.Name,
			argsType: args.Elem(),
			help:     help[m.Name],
		})
	}
	for k := range help {
		if !goNames[k] {
			return fmt.Errorf("xmlrpc: help for %q, which is not a method of service %q", k, svc)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.rpc.RegisterService(receiver, svc); err != nil {
		return fmt.Errorf("xmlrpc: unable to register service %q: %w", svc, err)
	}
	for _, m := range found {
		s.methods[m.name] = m
		s.byGorilla[m.gorilla] = m
	}
	return nil
}

// isExportedOrBuiltin is gorilla's rule for args and reply types.
func isExportedOrBuiltin(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	r, _ := utf8.DecodeRuneInString(t.Name())
	return unicode.IsUpper(r) || t.PkgPath() == ""
}

// NoArgs is the args type of a method that takes no parameters.
type NoArgs struct{}

// lookup finds a method by XML-RPC name, or by "Service.Method" for the
// default service too.
func (s *Server) lookup(name string) *method {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.methods[name]; m != nil {
		return m
	}
	if g, ok := s.codec.gorillaName(name); ok {
		return s.byGorilla[g]
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "xmlrpc: POST required", http.StatusMethodNotAllowed)
		return
	}
	// Same parsing as gorilla's, so both agree on the codec.
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	switch strings.ToLower(ct) {
	case "text/xml", "application/xml", "":
	default:
		http.Error(w, "xmlrpc: unsupported Content-Type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	limit := s.codec.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		http.Error(w, fmt.Sprintf("xmlrpc: request body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("xmlrpc: request body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "xmlrpc: unable to read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	call, err := parseCall(body, s.codec.limits())
	if err != nil {
		WriteFault(w, Fault{Code: s.codec.cfg.Codes.ParseError, String: "parse error: " + err.Error()})
		return
	}
	st := &callState{method: call.method, params: call.params, budget: s.codec.cfg.MaxResponseBytes}
	s.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}

// dispatch serves the call in the request context: introspection here,
// everything else through gorilla once the parameters are decoded.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st == nil {
		http.Error(w, "xmlrpc: no call in context", http.StatusInternalServerError)
		return
	}
	codes := &s.codec.cfg.Codes
	switch st.method {
	case methodMulticall:
		if st.sub {
			s.respond(w, st, nil, &Fault{Code: codes.InvalidParams, String: "system.multicall cannot be nested"})
			return
		}
		s.multicall(w, r, st)
	case methodListMethods:
		if len(st.params) != 0 {
			s.respond(w, st, nil, &Fault{Code: codes.InvalidParams,
				String: fmt.Sprintf("system.listMethods: wrong number of parameters: got %d, want 0", len(st.params))})
			return
		}
		s.reply(w, st, s.listMethods())
	case methodMethodHelp:
		if len(st.params) != 1 || st.params[0].kind != kindString {
			s.respond(w, st, nil, &Fault{Code: codes.InvalidParams, String: "system.methodHelp takes one string, a method name"})
			return
		}
		help, ok := s.methodHelp(st.params[0].s)
		if !ok {
			s.respond(w, st, nil, &Fault{Code: codes.UnknownMethod, String: fmt.Sprintf("unknown method %q", st.params[0].s)})
			return
		}
		s.reply(w, st, help)
	default:
		m := s.lookup(st.method)
		if m == nil {
			s.respond(w, st, nil, &Fault{Code: codes.UnknownMethod, String: fmt.Sprintf("unknown method %q", st.method)})
			return
		}
		args := reflect.New(m.argsType)
		a := assigner{cache: &s.codec.cache, strict: true}
		if err := a.decodeParams(st.params, args); err != nil {
			s.respond(w, st, nil, &Fault{Code: codes.InvalidParams, String: st.method + ": " + err.Error()})
			return
		}
		st.gorilla, st.args = m.gorilla, args
		s.rpc.ServeHTTP(w, r)
	}
}

// reply encodes v as the call's result.
func (s *Server) reply(w http.ResponseWriter, st *callState, v any) {
	e := encoder{cache: &s.codec.cache, max: st.budget}
	if err := e.value(reflect.ValueOf(v)); err != nil {
		var f Fault
		f, st.overBudget = s.codec.encodeFault(err)
		s.respond(w, st, nil, &f)
		return
	}
	s.respond(w, st, e.b, nil)
}

// respond records the outcome of a sub-call, or writes the response of a
// top-level call.
func (s *Server) respond(w http.ResponseWriter, st *callState, encoded []byte, fault *Fault) {
	st.done, st.result, st.fault = true, encoded, fault
	if st.sub {
		return
	}
	if fault != nil {
		WriteFault(w, *fault)
		return
	}
	writeResponse(w, encoded)
}

// Methods returns every callable method name, sorted, introspection
// included (what system.listMethods answers): the bounded set metrics
// label calls with.
func (s *Server) Methods() []string { return s.listMethods() }

// KnownMethod returns the name system.listMethods gives to the method a
// call names ("Service.Method" of the default service is its bare name),
// and false for a name no method answers to. Metrics label calls with it,
// so that names sent by callers never become labels.
func (s *Server) KnownMethod(name string) (string, bool) {
	switch name {
	case methodListMethods, methodMethodHelp, methodMulticall:
		return name, true
	}
	if m := s.lookup(name); m != nil {
		return m.name, true
	}
	return "", false
}

// listMethods returns every callable method name, sorted.
func (s *Server) listMethods() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.methods)+3)
	for n := range s.methods {
		names = append(names, n)
	}
	s.mu.RUnlock()
	names = append(names, methodListMethods, methodMethodHelp, methodMulticall)
	slices.Sort(names)
	return names
}

// methodHelp returns the help text of a method.
func (s *Server) methodHelp(name string) (string, bool) {
	switch name {
	case methodListMethods:
		return "system.listMethods() returns the names of all methods.", true
	case methodMethodHelp:
		return "system.methodHelp(name) returns the help text of a method.", true
	case methodMulticall:
		return "system.multicall([{methodName, params}, ...]) runs each call in order and returns, " +
			"for each, an array holding its result or a {faultCode, faultString} struct.", true
	}
	m := s.lookup(name)
	if m == nil {
		return "", false
	}
	return m.help, true
}

// multicall runs each sub-call through the middleware and dispatcher with a
// synthetic request carrying the original headers and context.
func (s *Server) multicall(w http.ResponseWriter, r *http.Request, st *callState) {
	codes := &s.codec.cfg.Codes
	if len(st.params) != 1 || st.params[0].kind != kindArray {
		s.respond(w, st, nil, &Fault{Code: codes.InvalidParams,
			String: "system.multicall takes one array of {methodName, params} structs"})
		return
	}
	calls := st.params[0].elems
	if len(calls) > s.codec.cfg.MaxMulticall {
		s.respond(w, st, nil, &Fault{Code: codes.InvalidParams,
			String: fmt.Sprintf("system.multicall: %d calls, at most %d allowed", len(calls), s.codec.cfg.MaxMulticall)})
		return
	}
	out := []byte("<value><array><data>")
	spent := false // the budget is spent: the calls left are not run
	for i := range calls {
		sub, err := subCall(&calls[i])
		if err != nil {
			out = appendFaultValue(out, Fault{Code: codes.InvalidParams, String: fmt.Sprintf("system.multicall: call %d: %v", i+1, err)})
			continue
		}
		if err := r.Context().Err(); err != nil {
			out = appendFaultValue(out, Fault{Code: codes.Internal, String: fmt.Sprintf("%s: not run: %v", sub.method, err)})
			continue
		}
		// The sub-answers share the request's budget; fault entries, a
		// few hundred bytes each, count once written.
		sub.budget = st.budget - int64(len(out))
		if spent || sub.budget <= 0 {
			spent = true
			f := s.codec.tooLarge()
			f.String = sub.method + ": not run: " + f.String
			out = appendFaultValue(out, f)
			continue
		}
		req := r.Clone(context.WithValue(r.Context(), stateKey{}, sub))
		req.Body, req.ContentLength = http.NoBody, 0
		cw := &captureWriter{header: make(http.Header)}
		s.handler.ServeHTTP(cw, req)
		result, fault := s.outcome(sub, cw)
		if fault == nil && int64(len(result)) > sub.budget {
			f := s.codec.tooLarge()
			fault, sub.overBudget = &f, true
		}
		if fault != nil {
			// Once an answer did not fit, the calls after it are not run:
			// what is left of the budget is less than that answer.
			spent = spent || sub.overBudget
			out = appendFaultValue(out, *fault)
			continue
		}
		out = append(out, "<value><array><data>"...)
		out = append(out, result...)
		out = append(out, "</data></array></value>"...)
	}
	out = append(out, "</data></array></value>"...)
	s.respond(w, st, out, nil)
}

// subCall reads one {methodName, params} struct of a multicall.
func subCall(v *value) (*callState, error) {
	if v.kind != kindStruct {
		return nil, fmt.Errorf("got %s, want a {methodName, params} struct", v.kind)
	}
	sub := &callState{sub: true}
	var haveName bool
	for i, n := range v.names {
		m := &v.elems[i]
		switch n {
		case "methodName":
			if m.kind != kindString {
				return nil, fmt.Errorf("methodName is a %s, want string", m.kind)
			}
			if err := checkMethodName(m.s); err != nil {
				return nil, err
			}
			sub.method, haveName = m.s, true
		case "params":
			if m.kind != kindArray {
				return nil, fmt.Errorf("params is a %s, want array", m.kind)
			}
			sub.params = m.elems
		}
	}
	if !haveName {
		return nil, errors.New("missing methodName")
	}
	return sub, nil
}

// outcome is the result of a sub-call: what the codec or dispatcher
// recorded, else what a middleware wrote as an XML-RPC response.
func (s *Server) outcome(sub *callState, cw *captureWriter) ([]byte, *Fault) {
	if sub.done {
		return sub.result, sub.fault
	}
	if cw.status == 0 || cw.status == http.StatusOK {
		resp, err := parseResponse(cw.body.Bytes(), s.codec.limits())
		if err == nil {
			if resp.fault != nil {
				return nil, resp.fault
			}
			return encodeTree(nil, &resp.param), nil
		}
	}
	status := cw.status
	if status == 0 {
		status = http.StatusOK
	}
	return nil, &Fault{Code: s.codec.cfg.Codes.Internal, String: fmt.Sprintf("%s: no XML-RPC response (HTTP %d: %s)",
		sub.method, status, truncate(strings.TrimSpace(cw.body.String()), 200))}
}

// captureWriter records what a handler writes for a multicall sub-call.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// maxCapture bounds what a sub-call's middleware may write.
const maxCapture = 1 << 20

// Header implements http.ResponseWriter.
func (c *captureWriter) Header() http.Header { return c.header }

// WriteHeader implements http.ResponseWriter.
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// Write implements http.ResponseWriter.
func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if room := maxCapture - c.body.Len(); room > 0 {
		c.body.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
