package amapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// ConfigureArgs is what the stub receives: the wire value of the
// configuration, to see which members a client sends.
type ConfigureArgs struct {
	ID     int64
	Config map[string]any
}

// NameArgs takes a name.
type NameArgs struct{ Name string }

// stub answers two methods of the API as the AM would.
type stub struct{ got map[string]any }

func (s *stub) ConfigureExperiment(r *http.Request, a *ConfigureArgs, reply *amapi.Settings) error {
	s.got = a.Config
	*reply = amapi.Settings{ID: a.ID, State: "configured", Devices: []string{"tap1"},
		Config:  &amapi.ConfigView{Snaplen: 96, Counters: &amapi.CountersView{IntervalMS: 1000}},
		Created: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	return nil
}

func (s *stub) DeleteUser(r *http.Request, a *NameArgs, reply *amapi.UserInfo) error {
	return xmlrpc.Fault{Code: amapi.FaultNotFound, String: "user " + a.Name + " not found"}
}

func TestClient(t *testing.T) {
	s := &stub{}
	xcfg := xmlrpc.DefaultConfiguration()
	xcfg.DefaultService = "AM"
	srv, err := xmlrpc.NewServer(xcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterService(s, "AM", nil); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := amapi.NewClient(amapi.ClientConfig{URL: ts.URL, User: "admin", Password: "pw"})
	ctx := context.Background()

	// Only the members set are sent; the reply comes back typed.
	no := false
	got, err := c.ConfigureExperiment(ctx, 7, amapi.ExperimentConfig{Snaplen: 96, Promiscuous: &no,
		Counters: &amapi.CountersConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	wantSent := map[string]any{"snaplen": 96, "promiscuous": false, "counters": map[string]any{}}
	if !reflect.DeepEqual(s.got, wantSent) {
		t.Errorf("sent %#v, want %#v", s.got, wantSent)
	}
	if got.ID != 7 || got.Config == nil || got.Config.Counters == nil || got.Config.Counters.IntervalMS != 1000 ||
		!got.Created.Equal(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("reply %+v", got)
	}

	// A fault keeps its code.
	_, err = c.DeleteUser(ctx, "bob")
	var f *xmlrpc.Fault
	if !errors.As(err, &f) || f.Code != amapi.FaultNotFound {
		t.Errorf("DeleteUser: %v, want fault %d", err, amapi.FaultNotFound)
	}
}
