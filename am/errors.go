package am

import (
	"errors"
	"fmt"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/xmlrpc"
)

// Sentinel errors of the manager. Methods wrap them with context; FaultOf
// maps them to fault codes.
var (
	// ErrNotFound: no such experiment, device, user or file (also what an
	// experimenter gets for another's experiment).
	ErrNotFound = errors.New("not found")
	// ErrState: the transition is not allowed from the current state.
	ErrState = errors.New("invalid state transition")
	// ErrInvalid: an argument is wrong.
	ErrInvalid = errors.New("invalid argument")
	// ErrAuth: not authenticated, or not allowed.
	ErrAuth = errors.New("not allowed")
	// ErrDevice: a capture device could not be reached or refused.
	ErrDevice = errors.New("capture device failed")
	// ErrConflict: a name is taken, a device is in use, or an experiment
	// would hold a device interface while another does (schedules).
	ErrConflict = errors.New("conflict")
	// ErrPolicy: a device's policy (SPEC §9) refuses the experiment; it
	// is an ErrAuth (fault 4).
	ErrPolicy = fmt.Errorf("%w by the device policy", ErrAuth)
)

// invalidf returns an ErrInvalid error with a message a person can act on.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// FaultOf maps an error of the manager to the fault the API answers: the
// one place where errors become fault codes. The fault string is the
// error's text, which never holds a secret.
func FaultOf(err error) xmlrpc.Fault {
	if f, ok := xmlrpc.AsFault(err); ok {
		return f
	}
	code := xmlrpc.CodeApplication
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, db.ErrNotFound):
		code = amapi.FaultNotFound
	case errors.Is(err, ErrState), errors.Is(err, db.ErrKeyInUse):
		code = amapi.FaultState
	case errors.Is(err, ErrInvalid):
		code = amapi.FaultInvalid
	case errors.Is(err, ErrAuth):
		code = amapi.FaultAuth
	case errors.Is(err, ErrDevice):
		code = amapi.FaultDevice
	case errors.Is(err, ErrConflict), errors.Is(err, db.ErrConflict):
		code = amapi.FaultConflict
	}
	return xmlrpc.Fault{Code: code, String: err.Error()}
}
