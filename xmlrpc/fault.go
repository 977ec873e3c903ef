package xmlrpc

import (
	"errors"
	"fmt"

	"github.com/gimsproject/gims/internal/check"
)

// Standard fault codes. The negative ones come from the XML-RPC "fault code
// interoperability" convention (specs.xmlrpc.com/spec/fault_code_interop);
// CodeInvalidParams is the GIMS "invalid argument" code (SPEC §3), which
// the daemons' clients test for.
const (
	// CodeParseError answers a request that is not well-formed XML-RPC
	// (malformed XML, DOCTYPE, invalid UTF-8, limits exceeded).
	CodeParseError = -32700
	// CodeUnknownMethod answers a call to a method nobody registered.
	CodeUnknownMethod = -32601
	// CodeInvalidParams answers wrong parameter counts, wrong types and
	// unknown struct members. The method does not run.
	CodeInvalidParams = 3
	// CodeInternal answers failures of the server itself, such as a reply
	// that cannot be encoded.
	CodeInternal = -32603
	// CodeApplication answers a method error that the fault mapper does not
	// know.
	CodeApplication = -32500
)

// Fault is an XML-RPC fault: what a method returns to make the client see
// a given faultCode and faultString, and what Call returns (as *Fault) when
// the server answers with a fault. Both Fault and *Fault implement error.
type Fault struct {
	// Code is the faultCode member.
	Code int
	// String is the faultString member, a message a person can act on.
	String string
}

// Error implements error.
func (f Fault) Error() string {
	return fmt.Sprintf("xmlrpc fault %d: %s", f.Code, f.String)
}

// AsFault finds a Fault or *Fault in err's chain (errors.As), so a method
// may return a Fault wrapped with context and still choose its code.
func AsFault(err error) (Fault, bool) {
	var pf *Fault
	if errors.As(err, &pf) && pf != nil {
		return *pf, true
	}
	var f Fault
	if errors.As(err, &f) {
		return f, true
	}
	return Fault{}, false
}

// FaultCodes are the codes the server uses for faults it raises itself.
// DefaultFaultCodes holds the defaults named in the comments.
type FaultCodes struct {
	// ParseError is for malformed requests (default CodeParseError, -32700).
	ParseError int
	// UnknownMethod is for calls to unregistered methods (default
	// CodeUnknownMethod, -32601).
	UnknownMethod int
	// InvalidParams is for parameters that do not fit the method (default
	// CodeInvalidParams, 3).
	InvalidParams int
	// Internal is for replies that cannot be encoded and similar server
	// failures (default CodeInternal, -32603).
	Internal int
	// Application is for method errors that hold no Fault, when no
	// FaultMapper is configured (default CodeApplication, -32500).
	Application int
	// TooLarge is for answers beyond Configuration.MaxResponseBytes
	// (default CodeInvalidParams, 3: the caller has to ask for less).
	TooLarge int
}

// DefaultFaultCodes returns the standard codes: CodeParseError,
// CodeUnknownMethod, CodeInvalidParams, CodeInternal and CodeApplication,
// and CodeInvalidParams for answers too large.
func DefaultFaultCodes() FaultCodes {
	return FaultCodes{
		ParseError:    CodeParseError,
		UnknownMethod: CodeUnknownMethod,
		InvalidParams: CodeInvalidParams,
		Internal:      CodeInternal,
		Application:   CodeApplication,
		TooLarge:      CodeInvalidParams,
	}
}

// validate refuses a zero code: a fault with code 0 reads as no fault to
// many clients.
func (c FaultCodes) validate() error {
	return check.First(
		nonZero("Codes.ParseError", c.ParseError),
		nonZero("Codes.UnknownMethod", c.UnknownMethod),
		nonZero("Codes.InvalidParams", c.InvalidParams),
		nonZero("Codes.Internal", c.Internal),
		nonZero("Codes.Application", c.Application),
		nonZero("Codes.TooLarge", c.TooLarge),
	)
}

// nonZero checks that a fault code is set.
func nonZero(field string, code int) error {
	if code != 0 {
		return nil
	}
	return &check.FieldError{Field: field, Rule: "a non-zero fault code", Value: code}
}
