package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gimsproject/gims/amapi"
)

// TestPolicyUsers checks that a device whose policy does not list an
// experimenter is not among its choices for a new experiment, that a
// form naming it anyway is refused with the policy's message, and that
// admins see every device.
func TestPolicyUsers(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "policy-users-token-3c1d")
	pol := amapi.DefaultDevicePolicy()
	pol.Users = []string{bob}
	e.addDeviceWith(t, "tap1", cd, amapi.PolicyInputOf(pol))
	choice := `value="tap1:file:` + sampleName + `"`

	a := e.login(t, alice, alicePass)
	if _, body := a.get("/experiments/new"); strings.Contains(body, choice) {
		t.Errorf("alice is offered bob's device:\n%s", body)
	}
	status, body, _ := a.postForm("/experiments/new", url.Values{"name": {"sneaky"}, "devices": {"tap1:file:" + sampleName}})
	if status != http.StatusForbidden || !strings.Contains(body, "device tap1: policy does not allow user alice") {
		t.Errorf("alice's create on bob's device: status %d, body:\n%s", status, body)
	}
	b := e.login(t, bob, bobPass)
	if _, body := b.get("/experiments/new"); !strings.Contains(body, choice) {
		t.Errorf("bob is not offered his device:\n%s", body)
	}
	admin := e.login(t, adminName, adminPass)
	if _, body := admin.get("/experiments/new"); !strings.Contains(body, choice) {
		t.Errorf("the admin is not offered every device:\n%s", body)
	}
	if _, body := admin.get("/devices"); !strings.Contains(body, "users bob") {
		t.Errorf("the devices list does not show the policy's users:\n%s", body)
	}
}
