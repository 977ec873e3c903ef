package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gimsproject/gims/amapi"
)

// TestDeleteExperimentPage: the experiment page links to a confirmation
// step; confirming deletes the experiment (recorded in the audit log with
// the browser's address); another experimenter gets 404.
func TestDeleteExperimentPage(t *testing.T) {
	e := newEnv(t)
	cd := startCapd(t, "del-device-token")
	e.addDevice(t, "tap1", cd)
	a := e.login(t, alice, alicePass)
	b := e.login(t, bob, bobPass)
	status, _, hdr := a.postForm("/experiments/new", url.Values{"name": {"to-delete"}, "devices": {"tap1:file:" + sampleName}})
	var id int64
	if _, err := fmt.Sscanf(hdr.Get("Location"), "/experiments/%d", &id); status != http.StatusSeeOther || err != nil {
		t.Fatalf("create: status %d, location %q", status, hdr.Get("Location"))
	}
	page := fmt.Sprintf("/experiments/%d", id)
	if _, body := a.get(page); !strings.Contains(body, `href="`+page+`/delete"`) {
		t.Fatalf("the experiment page has no delete link:\n%s", body)
	}
	if status, _ := b.get(page + "/delete"); status != http.StatusNotFound {
		t.Errorf("bob GET delete: status %d, want 404", status)
	}
	if status, _, _ := b.postForm(page+"/delete", url.Values{}); status != http.StatusNotFound {
		t.Errorf("bob POST delete: status %d, want 404", status)
	}
	status, body := a.get(page + "/delete")
	if status != http.StatusOK || !strings.Contains(body, `id="confirm"`) || !strings.Contains(body, "to-delete") {
		t.Fatalf("confirmation step: status %d\n%s", status, body)
	}
	status, _, hdr = a.postForm(page+"/delete", url.Values{})
	if status != http.StatusSeeOther || hdr.Get("Location") != "/experiments" {
		t.Fatalf("confirm: status %d, location %q", status, hdr.Get("Location"))
	}
	if _, body := a.get("/experiments"); strings.Contains(body, "to-delete") || !strings.Contains(body, "deleted") {
		t.Errorf("the list after the delete:\n%s", body)
	}
	log, err := e.m.GetAuditLog(context.Background(), e.admin, amapi.AuditQuery{User: alice})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) < 2 || log[0].Method != "DeleteExperiment" || log[0].Result != "ok" || log[0].Remote != "127.0.0.1" ||
		log[1].Method != "CreateExperiment" || log[1].Target != "to-delete" {
		t.Errorf("alice's audit log = %+v", log)
	}
	var bobs int
	bl, _ := e.m.GetAuditLog(context.Background(), e.admin, amapi.AuditQuery{User: bob})
	for _, x := range bl {
		if x.Method == "DeleteExperiment" && strings.HasPrefix(x.Result, "fault 1:") {
			bobs++
		}
	}
	if bobs != 1 {
		t.Errorf("bob's refused delete in the audit log %d times, want 1: %+v", bobs, bl)
	}
}
