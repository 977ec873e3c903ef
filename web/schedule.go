package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gimsproject/gims/amapi"
)

// timelineSpan is what the Schedule page shows: the next 24 hours.
const timelineSpan = 24 * time.Hour

// timelineWidth is the width of a timeline's SVG user space: bars are
// placed in it (CSS forbids inline styles here, see the CSP).
const timelineWidth = 1000.0

// timelineData is the data of schedule.html: a row per device interface
// holding windows in the span, with the bars of its windows.
type timelineData struct {
	From, To time.Time
	Width    float64
	Ticks    []timelineTick
	Rows     []timelineRow
}

// timelineTick is an hour mark of the axis.
type timelineTick struct {
	X     float64
	Label string
}

// timelineRow is one device interface.
type timelineRow struct {
	Name string
	Bars []timelineBar
}

// timelineBar is one window of an experiment on the row's interface.
type timelineBar struct {
	X, W       float64
	Experiment int64
	// Name is empty for another user's experiment (shown as busy).
	Name       string
	State      string
	Start, End time.Time
}

// showSchedule shows, per device interface, the windows experiments hold
// it during the next 24 hours: scheduled runs, and running experiments
// until they are due to stop.
func (h *Handler) showSchedule(w http.ResponseWriter, r *http.Request, s *session) {
	now := h.cfg.Now()
	d := timelineData{From: now, To: now.Add(timelineSpan), Width: timelineWidth}
	runs, err := h.m.GetScheduleTimeline(r.Context(), s.User, amapi.TimelineQuery{From: d.From, To: d.To})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	x := func(t time.Time) float64 {
		switch {
		case t.Before(d.From):
			return 0
		case t.After(d.To):
			return timelineWidth
		}
		return timelineWidth * float64(t.Sub(d.From)) / float64(timelineSpan)
	}
	// Hour marks every 3 hours, on the hour (UTC).
	for t := d.From.UTC().Truncate(time.Hour).Add(time.Hour); t.Before(d.To); t = t.Add(time.Hour) {
		if t.Hour()%3 == 0 {
			d.Ticks = append(d.Ticks, timelineTick{X: x(t), Label: t.Format("15:04")})
		}
	}
	index := map[string]int{}
	for _, run := range runs {
		name := run.Device + ":" + run.Interface
		i, ok := index[name]
		if !ok {
			i = len(d.Rows)
			index[name] = i
			d.Rows = append(d.Rows, timelineRow{Name: name})
		}
		end := run.End
		if end.IsZero() {
			end = d.To
		}
		b := timelineBar{X: x(run.Start), Experiment: run.Experiment, Name: run.Name, State: run.State,
			Start: run.Start, End: run.End}
		// At least a visible sliver, however short the run.
		b.W = max(x(end)-b.X, 2)
		d.Rows[i].Bars = append(d.Rows[i].Bars, b)
	}
	h.render(w, r, http.StatusOK, "schedule.html", "Schedule", "schedule", d)
}

// barTitle is the tooltip of a timeline bar.
func barTitle(b timelineBar) string {
	who := fmt.Sprintf("experiment %d %s", b.Experiment, b.Name)
	if b.Name == "" {
		who = "another user's experiment"
	}
	end := "until stopped"
	if !b.End.IsZero() {
		end = "to " + b.End.UTC().Format("15:04:05") + " UTC"
	}
	return fmt.Sprintf("%s (%s): from %s UTC %s", who, b.State, b.Start.UTC().Format("2006-01-02 15:04:05"), end)
}
