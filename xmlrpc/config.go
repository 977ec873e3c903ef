package xmlrpc

import (
	"net/http"

	"github.com/gimsproject/gims/internal/check"
)

// Configuration configures a Codec and a Server. Start from
// DefaultConfiguration: NewServer and NewCodec take every field as given
// and refuse invalid values (see Validate).
type Configuration struct {
	// DefaultService is the registered service that answers unqualified
	// method names: with "AM", the XML-RPC call "CreateExperiment" runs the
	// Go method AM.CreateExperiment. Qualified names ("Svc.Method") always
	// address service Svc. Empty means every name must be qualified.
	DefaultService string
	// MaxBodyBytes bounds a request body (default 1 MiB). A larger body is
	// answered with HTTP 413 and no XML-RPC response, as an HTTP client
	// or proxy expects.
	MaxBodyBytes int64
	// MaxDepth bounds how deeply arrays and structs nest in a request
	// (default 64); deeper is a parse-error fault.
	MaxDepth int
	// MaxValues bounds the number of <value> elements in a request
	// (default 100000); more is a parse-error fault.
	MaxValues int
	// MaxMulticall bounds the number of calls in one system.multicall
	// (default 100); more is an invalid-parameters fault.
	MaxMulticall int
	// MaxResponseBytes is the response budget of one HTTP request (default
	// 16 MiB): an answer whose encoding grows beyond it is the fault
	// Codes.TooLarge instead, and so is every sub-call of a
	// system.multicall once the sub-answers together have spent it (the
	// calls left are not run). Answers are encoded whole in memory, so
	// this bounds what one request holds.
	MaxResponseBytes int64
	// Codes are the fault codes the server raises itself (default
	// DefaultFaultCodes); none may be 0.
	Codes FaultCodes
	// FaultMapper turns a method's error into the fault the client sees;
	// the daemons map their sentinel errors to SPEC codes here. Nil means:
	// a Fault found with AsFault is answered as is, anything else as
	// Codes.Application with the error's text.
	FaultMapper func(error) Fault
	// Middleware, when set, wraps the dispatcher: it runs for every call,
	// including each call inside a system.multicall (with the original
	// request's headers and context), after the body is parsed, so
	// MethodName works in it. It may answer by itself with WriteFault, for
	// example fault 4 for a missing credential.
	Middleware func(http.Handler) http.Handler
}

// DefaultConfiguration returns the documented defaults: 1 MiB bodies,
// nesting 64, 100000 values, 100 calls per multicall, 16 MiB answers, the
// standard fault codes, and no default service, mapper or middleware.
func DefaultConfiguration() Configuration {
	return Configuration{
		MaxBodyBytes:     1 << 20,
		MaxDepth:         64,
		MaxValues:        100000,
		MaxMulticall:     100,
		MaxResponseBytes: 16 << 20,
		Codes:            DefaultFaultCodes(),
	}
}

// Validate checks the limits and the fault codes and names the field that
// is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Positive("MaxBodyBytes", c.MaxBodyBytes),
		check.Positive("MaxDepth", c.MaxDepth),
		check.Positive("MaxValues", c.MaxValues),
		check.Positive("MaxMulticall", c.MaxMulticall),
		check.Positive("MaxResponseBytes", c.MaxResponseBytes),
		c.Codes.validate(),
	)
}

// mapFault turns a method error into a fault, through the configured
// mapper or the default rule.
func (c *Configuration) mapFault(err error) Fault {
	if c.FaultMapper != nil {
		return c.FaultMapper(err)
	}
	if f, ok := AsFault(err); ok {
		return f
	}
	return Fault{Code: c.Codes.Application, String: err.Error()}
}
