package xmlrpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Sample exercises every type in one struct.
type Sample struct {
	Int      int            `xmlrpc:"int"`
	Big      int64          `xmlrpc:"big"`
	Unsigned uint64         `xmlrpc:"unsigned"`
	Flag     bool           `xmlrpc:"flag"`
	Ratio    float64        `xmlrpc:"ratio"`
	Name     string         `xmlrpc:"name"`
	When     time.Time      `xmlrpc:"when"`
	Blob     []byte         `xmlrpc:"blob"`
	List     []int          `xmlrpc:"list"`
	Extra    map[string]any `xmlrpc:"extra,omitempty"`
	Note     *string        `xmlrpc:"note"`
}

// EchoArgs is one Sample.
type EchoArgs struct{ S Sample }

// AddArgs are two ints.
type AddArgs struct{ A, B int }

// FailArgs choose the error Fail returns.
type FailArgs struct {
	Code    int
	Message string
	Wrap    bool `xmlrpc:",optional"`
}

// Counters are the per-interval counters of ConfigureArgs.
type Counters struct {
	IntervalMS int `xmlrpc:"interval_ms"`
}

// TestConfig looks like the SPEC's experiment configuration.
type TestConfig struct {
	Filter   string    `xmlrpc:"filter"`
	Snaplen  int       `xmlrpc:"snaplen"`
	Counters *Counters `xmlrpc:"counters"`
}

// ConfigureArgs are ConfigureExperiment(int id, struct config).
type ConfigureArgs struct {
	ID     int
	Config TestConfig
}

// BigCounters have values beyond 2^31.
type BigCounters struct {
	Packets int64  `xmlrpc:"packets"`
	Bytes   uint64 `xmlrpc:"bytes"`
	Small   int32  `xmlrpc:"small"`
}

// AnyArgs take a value of any type.
type AnyArgs struct{ V any }

// AnyReply describes what Any received.
type AnyReply struct {
	Type  string `xmlrpc:"type"`
	Value any    `xmlrpc:"value"`
}

// BadReply cannot be encoded.
type BadReply struct {
	C chan int `xmlrpc:"c"`
}

// errSentinel is mapped by the test fault mapper.
var errSentinel = errors.New("no such experiment")

// TestService is the sample service of the tests (default service "Test").
type TestService struct {
	calls atomic.Int64 // every method run
}

// Add returns A+B.
func (s *TestService) Add(r *http.Request, args *AddArgs, reply *int) error {
	s.calls.Add(1)
	*reply = args.A + args.B
	return nil
}

// Echo returns its argument.
func (s *TestService) Echo(r *http.Request, args *EchoArgs, reply *Sample) error {
	s.calls.Add(1)
	*reply = args.S
	return nil
}

// RowsArgs ask Rows for N rows.
type RowsArgs struct{ N int }

// Rows returns N strings of 100 bytes: an answer as large as asked.
func (s *TestService) Rows(r *http.Request, args *RowsArgs, reply *[]string) error {
	s.calls.Add(1)
	row := strings.Repeat("r", 100)
	*reply = make([]string, args.N)
	for i := range *reply {
		(*reply)[i] = row
	}
	return nil
}

// Counters returns ints beyond 32 bits.
func (s *TestService) Counters(r *http.Request, args *NoArgs, reply *BigCounters) error {
	s.calls.Add(1)
	*reply = BigCounters{Packets: 5_000_000_000, Bytes: 1 << 40, Small: -7}
	return nil
}

// Fail returns a Fault (Code != 0), the sentinel (Code == -1) or a plain
// error (Code == 0).
func (s *TestService) Fail(r *http.Request, args *FailArgs, reply *bool) error {
	s.calls.Add(1)
	var err error
	switch args.Code {
	case 0:
		err = errors.New(args.Message)
	case -1:
		err = errSentinel
	default:
		err = &Fault{Code: args.Code, String: args.Message}
	}
	if args.Wrap {
		err = fmt.Errorf("while failing: %w", err)
	}
	return err
}

// Configure counts its runs and returns the snaplen.
func (s *TestService) Configure(r *http.Request, args *ConfigureArgs, reply *int) error {
	s.calls.Add(1)
	*reply = args.Config.Snaplen
	return nil
}

// Whoami returns the Authorization header and the context value.
func (s *TestService) Whoami(r *http.Request, args *NoArgs, reply *map[string]string) error {
	s.calls.Add(1)
	user, _ := r.Context().Value(userKey{}).(string)
	*reply = map[string]string{"authorization": r.Header.Get("Authorization"), "user": user}
	return nil
}

// Any describes what it received.
func (s *TestService) Any(r *http.Request, args *AnyArgs, reply *AnyReply) error {
	s.calls.Add(1)
	*reply = AnyReply{Type: fmt.Sprintf("%T", args.V), Value: args.V}
	return nil
}

// Bad returns a reply that cannot be encoded.
func (s *TestService) Bad(r *http.Request, args *NoArgs, reply *BadReply) error {
	s.calls.Add(1)
	reply.C = make(chan int)
	return nil
}

// Admin is refused by the test middleware without the X-Admin header.
func (s *TestService) Admin(r *http.Request, args *NoArgs, reply *string) error {
	s.calls.Add(1)
	*reply = "granted"
	return nil
}

// OtherService is registered under its own name.
type OtherService struct{}

// Ping answers "pong".
func (OtherService) Ping(r *http.Request, args *NoArgs, reply *string) error {
	*reply = "pong"
	return nil
}

// userKey is the context key the test middleware sets.
type userKey struct{}

// testMiddleware puts a user in the context from X-User, refuses Admin
// without X-Admin (fault 4), and answers Forbidden with a plain HTTP 403.
func testMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch MethodName(r.Context()) {
		case "Admin":
			if r.Header.Get("X-Admin") == "" {
				WriteFault(w, Fault{Code: 4, String: "admin only"})
				return
			}
		case "Forbidden":
			http.Error(w, "go away", http.StatusForbidden)
			return
		}
		if u := r.Header.Get("X-User"); u != "" {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		}
		next.ServeHTTP(w, r)
	})
}

// testHelp is the help text of the sample service.
func testHelp() map[string]string {
	return map[string]string{"Add": "Add(a, b) returns a+b.", "Echo": "Echo(sample) returns sample."}
}

// newTestServer returns a server with the sample services and middleware.
func newTestServer(cfg Configuration) (*Server, *TestService, error) {
	if cfg.DefaultService == "" {
		cfg.DefaultService = "Test"
	}
	if cfg.Middleware == nil {
		cfg.Middleware = testMiddleware
	}
	s, err := NewServer(cfg)
	if err != nil {
		return nil, nil, err
	}
	svc := &TestService{}
	if err := s.RegisterService(svc, "Test", testHelp()); err != nil {
		return nil, nil, err
	}
	if err := s.RegisterService(OtherService{}, "", nil); err != nil {
		return nil, nil, err
	}
	return s, svc, nil
}
