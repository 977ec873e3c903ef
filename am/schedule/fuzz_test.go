package schedule

import (
	"testing"
	"time"

	"github.com/gimsproject/gims/amapi"
)

// FuzzCheck: whatever a client sends, Check either refuses it or returns
// a plan of at most MaxRuns runs, in order, each ending after it starts
// and before the next starts, none before the configuration time.
func FuzzCheck(f *testing.F) {
	f.Add(int64(10), int64(0), 6, 3, 2)
	f.Add(int64(0), int64(30), 0, 0, 0)
	f.Add(int64(5), int64(14), 6, 3, 0)
	f.Add(int64(-60), int64(0), 0, 3, 1)
	f.Add(int64(0), int64(0), 2, 1, 10001)
	f.Add(int64(0), int64(0), 31622400, 31622399, 10000)
	f.Fuzz(func(t *testing.T, startS, stopS int64, everyS, runS, count int) {
		var c amapi.ScheduleConfig
		const far = 1 << 40
		if startS != 0 && startS > -far && startS < far {
			c.StartAt = t0.Add(time.Duration(startS) * time.Second)
		}
		if stopS != 0 && stopS > -far && stopS < far {
			c.StopAt = t0.Add(time.Duration(stopS) * time.Second)
		}
		c.EveryS, c.RunS, c.Count = everyS, runS, count
		p, err := Check(c, t0)
		if err != nil {
			return
		}
		n := p.Runs()
		if n < 1 || n > MaxRuns {
			t.Fatalf("%+v: %d runs", c, n)
		}
		var prev Window
		for i := range n {
			w := p.Window(i)
			if w.Start.Before(t0) || (!w.Open() && !w.End.After(w.Start)) {
				t.Fatalf("%+v: run %d is %v", c, i, w)
			}
			if i > 0 && (prev.Open() || prev.End.After(w.Start)) {
				t.Fatalf("%+v: run %d %v overlaps run %d %v", c, i, w, i-1, prev)
			}
			prev = w
		}
		if ws := p.Windows(0, t0, 0); len(ws) != n {
			t.Fatalf("%+v: Windows lists %d of %d runs", c, len(ws), n)
		}
	})
}
