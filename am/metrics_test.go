package am

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// sampleLine is one sample of the text exposition format.
var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [0-9.e+-]+$`)

func TestMetricsFormat(t *testing.T) {
	x := newMetrics()
	x.CountCall("GetExperimentStatus", 0)
	x.CountCall("GetExperimentStatus", 1)
	x.CountCall(`Weird"Name\`, 4)
	x.setExperiment(&db.Experiment{ID: 7, Name: "e\"1", Owner: "bob", State: StateRunning},
		&amapi.Status{Packets: 10, Bytes: 1500, Dropped: 1, FlowsExported: 2})
	x.setExperiment(&db.Experiment{ID: 8, Name: "gone", State: StateDone}, &amapi.Status{})
	var b bytes.Buffer
	x.write(&b)
	out := b.String()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		if !sampleLine.MatchString(line) {
			t.Errorf("not an exposition sample: %q", line)
		}
	}
	for _, want := range []string{
		`gims_api_calls_total{method="GetExperimentStatus"} 2`,
		`gims_api_faults_total{method="GetExperimentStatus",code="1"} 1`,
		`gims_api_calls_total{method="Weird\"Name\\"} 1`,
		`gims_experiment_packets{id="7",name="e\"1",owner="bob",state="running"} 10`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gone") {
		t.Error("a done experiment is still exported")
	}
}
