package am

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/xmlrpc"
)

func TestFaultOf(t *testing.T) {
	for i, tc := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("%w: experiment 3", ErrNotFound), amapi.FaultNotFound},
		{fmt.Errorf("get: %w", db.ErrNotFound), amapi.FaultNotFound},
		{stateError(3, StateDone, "StartExperiment"), amapi.FaultState},
		{invalidf("bad"), amapi.FaultInvalid},
		{fmt.Errorf("%w: nope", ErrAuth), amapi.FaultAuth},
		{deviceError("tap1", errors.New("dial tcp: refused")), amapi.FaultDevice},
		{deviceError("tap1", &xmlrpc.Fault{Code: 3, String: "bad job"}), amapi.FaultDevice},
		{fmt.Errorf("x: %w", db.ErrLastAdmin), amapi.FaultConflict},
		{fmt.Errorf("delete key: %w: used by experiment 3 (running)", db.ErrKeyInUse), amapi.FaultState},
		{fmt.Errorf("%w: taken", ErrConflict), amapi.FaultConflict},
		{xmlrpc.Fault{Code: 42, String: "as is"}, 42},
		{errors.New("disk on fire"), xmlrpc.CodeApplication},
	} {
		if got := FaultOf(tc.err); got.Code != tc.code || got.String != tc.err.Error() && tc.code != 42 {
			t.Errorf("row %d: FaultOf(%v) = %+v, want code %d with the error's text", i, tc.err, got, tc.code)
		}
	}
	if s := deviceError("tap1", &xmlrpc.Fault{Code: 3, String: "bad job"}).Error(); s != "capture device failed: device tap1 refused: bad job" {
		t.Errorf("device refusal reads %q", s)
	}
}

func TestCheckName(t *testing.T) {
	for i, tc := range []struct {
		name string
		ok   bool
	}{{"tap1", true}, {"a.b_c-D9", true}, {"", false}, {"a b", false}, {"a/b", false}, {"é", false},
		{string(make([]byte, 65)), false}} {
		if err := checkName("name", tc.name); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("row %d: checkName(%q) = %v, want ok %v", i, tc.name, err, tc.ok)
		}
	}
}
