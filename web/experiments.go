package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/deviceapi"
)

// experimentsData is the data of experiments.html.
type experimentsData struct {
	List []amapi.ExperimentSummary
	// Any tells that there are experiments before the filters.
	Any bool
	// State and Owner are the filters ("" for all); Owners are the
	// owners to choose from (admins).
	State, Owner string
	Owners       []string
	States       []string
	// Query is the filters as a query string, for the live refresh.
	Query      string
	IntervalMS int
}

// listExperiments shows the user's experiments (every one for admins),
// filtered by state and owner; the table refreshes itself (an htmx
// request gets the table only), so a finished experiment does not keep
// showing "running".
func (h *Handler) listExperiments(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := h.m.ListExperiments(r.Context(), s.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	slices.SortFunc(list, func(a, b amapi.ExperimentSummary) int { return int(b.ID - a.ID) })
	q := r.URL.Query()
	d := experimentsData{Any: len(list) > 0, State: q.Get("state"), Owner: q.Get("owner"),
		States:     []string{am.StateInstantiated, am.StateConfigured, am.StateRunning, am.StatePaused, am.StateDone},
		IntervalMS: int(h.cfg.StatusInterval.Milliseconds()) * 2}
	qs := neturl.Values{}
	if d.State != "" {
		qs.Set("state", d.State)
	}
	if d.Owner != "" {
		qs.Set("owner", d.Owner)
	}
	d.Query = qs.Encode()
	for _, e := range list {
		if !slices.Contains(d.Owners, e.Owner) {
			d.Owners = append(d.Owners, e.Owner)
		}
		if (d.State == "" || e.State == d.State) && (d.Owner == "" || e.Owner == d.Owner) {
			d.List = append(d.List, e)
		}
	}
	slices.Sort(d.Owners)
	if r.Header.Get("HX-Request") != "" {
		v := view{User: s.User, CSRF: s.CSRF, Data: d}
		h.execute(w, http.StatusOK, h.pages["experiments.html"], "experiments-table", v)
		return
	}
	h.render(w, r, http.StatusOK, "experiments.html", "Experiments", "experiments", d)
}

// sourceChoice is one device interface offered by the create form.
type sourceChoice struct {
	// Value is "device:interface".
	Value       string
	Device      string
	Interface   string
	LinkType    string
	Description string
	Location    string
	Reachable   bool
	Checked     bool
	// Pseudo marks interfaces nobody measures traffic on (bluetooth,
	// D-Bus, netfilter queues, USB monitors): hidden unless asked.
	Pseudo bool
}

// pseudoInterface tells whether an interface is a pseudo-interface of
// libpcap rather than a network (or a capture file).
func pseudoInterface(name string) bool {
	for _, p := range []string{"bluetooth", "dbus", "nflog", "nfqueue", "usbmon", "can", "vcan"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// sourceGroup is one device's interfaces in the create form.
type sourceGroup struct {
	Device    string
	Location  string
	Reachable bool
	Sources   []sourceChoice
}

// newExperimentData is the data of experiment_new.html.
type newExperimentData struct {
	Name        string
	Description string
	Sources     []sourceChoice
	Error       string
	Detail      string
}

// Groups are the sources by device, in order.
func (d newExperimentData) Groups() []sourceGroup {
	var out []sourceGroup
	for _, s := range d.Sources {
		if len(out) == 0 || out[len(out)-1].Device != s.Device {
			out = append(out, sourceGroup{Device: s.Device, Location: s.Location, Reachable: s.Reachable})
		}
		out[len(out)-1].Sources = append(out[len(out)-1].Sources, s)
	}
	return out
}

// AnyPseudo tells whether some source is a pseudo-interface.
func (d newExperimentData) AnyPseudo() bool {
	for _, s := range d.Sources {
		if s.Pseudo {
			return true
		}
	}
	return false
}

// sources lists every interface of the approved devices that p may use
// (a device's allowed interfaces when it lists some).
func (h *Handler) sources(r *http.Request, p am.Principal, checked []string) ([]sourceChoice, error) {
	devs, err := h.m.DeviceNames(r.Context(), p)
	if err != nil {
		return nil, err
	}
	var out []sourceChoice
	for _, d := range devs {
		if d.Capabilities == nil {
			continue
		}
		for _, i := range d.Capabilities.Interfaces {
			if len(d.Interfaces) > 0 && !slices.Contains(d.Interfaces, i.Name) {
				continue
			}
			v := d.Name + ":" + i.Name
			out = append(out, sourceChoice{Value: v, Device: d.Name, Interface: i.Name, LinkType: i.LinkType,
				Description: i.Description, Location: d.Location, Reachable: d.Reachable,
				Checked: slices.Contains(checked, v), Pseudo: pseudoInterface(i.Name)})
		}
	}
	return out, nil
}

// newExperimentForm shows the create form.
func (h *Handler) newExperimentForm(w http.ResponseWriter, r *http.Request, s *session) {
	src, err := h.sources(r, s.User, nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "experiment_new.html", "New experiment", "experiments", newExperimentData{Sources: src})
}

// createExperiment creates the experiment and opens its page.
func (h *Handler) createExperiment(w http.ResponseWriter, r *http.Request, s *session) {
	d := newExperimentData{Name: strings.TrimSpace(r.PostFormValue("name")),
		Description: strings.TrimSpace(r.PostFormValue("description"))}
	devices := r.PostForm["devices"]
	id, err := h.m.CreateExperiment(r.Context(), s.User, amapi.CreateRequest{Name: d.Name, Description: d.Description,
		Devices: devices})
	if err != nil {
		d.Error, d.Detail = humanize(err)
		d.Sources, _ = h.sources(r, s.User, devices)
		h.render(w, r, httpStatus(err), "experiment_new.html", "New experiment", "experiments", d)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("Experiment %s created: configure it below.", d.Name))
	http.Redirect(w, r, fmt.Sprintf("/experiments/%d", id), http.StatusSeeOther)
}

// experimentID reads the {id} of the path.
func experimentID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: experiment %q", am.ErrNotFound, r.PathValue("id"))
	}
	return id, nil
}

// configForm is the configure form, tailored to the experiment's devices:
// only the transforms every one of them offers, the replay speed only
// when every source is a file, the snaplen bounded by the smallest
// maximum. Values are strings as typed; the secret is never filled in.
type configForm struct {
	Transforms  map[string]bool
	FilesOnly   bool
	AnyLive     bool
	MaxSnaplen  int
	Filter      string
	Snaplen     string
	Promiscuous bool
	Counters    bool
	IntervalMS  string
	Flows       bool
	ActiveS     string
	IdleS       string
	Biflow      bool
	Collector   string
	Anonymize   bool
	// Payload and MAC are the sanitization modes of an anonymized
	// experiment (SPEC §8), strip and keyed by default.
	Payload string
	MAC     string
	// Fingerprint is the current key's (re-configuring needs the secret
	// again).
	Fingerprint string
	// Key is the operator-held key chosen instead of a secret ("" for
	// a secret); Keys are those the experiment's owner may use.
	Key         string
	Keys        []amapi.KeyInfo
	Pcap        bool
	Storage     string
	DurationS   string
	ReplaySpeed string
	// RotateMB and RotateS split the pcap and IPFIX files into parts
	// (SPEC §13); empty for no bound.
	RotateMB string
	RotateS  string
	// StartAt, StopAt (UTC, as typed: 2026-12-01T18:00 or RFC 3339),
	// EveryS, RunS and Count are the schedule (SPEC §13); all empty: none.
	StartAt string
	StopAt  string
	EveryS  string
	RunS    string
	Count   string
	Error   string
	// Policy is what the policies of the experiment's devices allow
	// together (SPEC §9).
	Policy policyLimits
}

// policyLimits are the rules of the experiment's device policies taken
// together: the configure form offers only what they allow and says why.
type policyLimits struct {
	RequireAnonymization bool
	// Payload is the lowest payload ceiling.
	Payload string
	// Outputs are the outputs every policy allows.
	Outputs map[string]bool
	// MaxSnaplen and MaxDurationS are the smallest bounds (0: none).
	MaxSnaplen   int
	MaxDurationS int64
	// OperatorKeys: some policy wants operator-held keys, no secret.
	OperatorKeys bool
	// Why are the lines that say what the policies limit.
	Why []string
}

// PayloadAllowed tells whether payload mode is within the ceiling (a
// template helper).
func (l policyLimits) PayloadAllowed(mode string) bool {
	p := amapi.DevicePolicy{Policy: deviceapi.Policy{Payload: l.Payload}}
	return p.PayloadAllowed(mode)
}

// limitsOf takes the policies of the experiment's devices together.
func limitsOf(pairs []pairView) policyLimits {
	l := policyLimits{Payload: deviceapi.PayloadKeep,
		Outputs: map[string]bool{deviceapi.OutputCounters: true, deviceapi.OutputFlows: true, deviceapi.OutputPcap: true}}
	for _, p := range pairs {
		if p.Device == nil {
			continue
		}
		pol := &p.Device.Policy
		l.RequireAnonymization = l.RequireAnonymization || pol.RequireAnonymization
		if !pol.PayloadAllowed(l.Payload) {
			l.Payload = pol.Payload
		}
		for o := range l.Outputs {
			if !pol.AllowsOutput(o) {
				delete(l.Outputs, o)
			}
		}
		if pol.MaxSnaplen > 0 && (l.MaxSnaplen == 0 || pol.MaxSnaplen < l.MaxSnaplen) {
			l.MaxSnaplen = pol.MaxSnaplen
		}
		if pol.MaxDurationS > 0 && (l.MaxDurationS == 0 || pol.MaxDurationS < l.MaxDurationS) {
			l.MaxDurationS = pol.MaxDurationS
		}
		l.OperatorKeys = l.OperatorKeys || pol.KeyHolder == deviceapi.KeyHolderOperator
	}
	const why = " (device policy)"
	if l.RequireAnonymization {
		l.Why = append(l.Why, "anonymization: required"+why)
	}
	if l.OperatorKeys {
		l.Why = append(l.Why, "keys: operator-held only, a secret is refused"+why)
	}
	switch l.Payload {
	case deviceapi.PayloadStrip:
		l.Why = append(l.Why, "payload: strip only"+why)
	case deviceapi.PayloadZero:
		l.Why = append(l.Why, "payload: strip or zero"+why)
	}
	if len(l.Outputs) < 3 {
		var allowed []string
		for _, o := range []string{deviceapi.OutputCounters, deviceapi.OutputFlows, deviceapi.OutputPcap} {
			if l.Outputs[o] {
				allowed = append(allowed, o)
			}
		}
		text := "none"
		if len(allowed) > 0 {
			text = strings.Join(allowed, ", ") + " only"
		}
		l.Why = append(l.Why, "outputs: "+text+why)
	}
	if l.MaxSnaplen > 0 {
		l.Why = append(l.Why, fmt.Sprintf("snaplen: at most %d%s", l.MaxSnaplen, why))
	}
	if l.MaxDurationS > 0 {
		l.Why = append(l.Why, fmt.Sprintf("stop after: required, at most %d s%s", l.MaxDurationS, why))
	}
	return l
}

// formTime is how the schedule's times fill the form's datetime-local
// inputs, in UTC.
const formTime = "2006-01-02T15:04:05"

// parseFormTime reads a schedule time of the form: a datetime-local
// value (taken as UTC) or RFC 3339.
func parseFormTime(field, s string) (time.Time, error) {
	for _, layout := range []string{formTime, "2006-01-02T15:04", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s must be a date and time such as 2026-12-01T18:00 (UTC), not %q", field, s)
}

// pairView is one device interface of an experiment with its device.
type pairView struct {
	Name   string
	Device *amapi.DeviceInfo
}

// experimentData is the data of experiment.html.
type experimentData struct {
	S            amapi.Settings
	Pairs        []pairView
	Configurable bool
	Form         configForm
	Status       statusView
	Results      resultsView
	Interval     int
	// Policies are the policies of the experiment's devices, one per
	// device.
	Policies []devicePolicyView
}

// devicePolicyView is one device's policy on the experiment page.
type devicePolicyView struct {
	Device string
	Policy amapi.DevicePolicy
}

// CountersOff tells that the experiment was configured without the
// counters transform: no charts (rather than two empty ones).
func (d *experimentData) CountersOff() bool {
	return d.S.Config != nil && d.S.Config.Counters == nil
}

// Averages are the packet and bit rates over the whole run of a finished
// experiment (zero otherwise): the charts' summary once done.
func (d *experimentData) Averages() (pps, bps float64) {
	st := d.Status.S
	if st.State != am.StateDone || st.ElapsedS <= 0 {
		return 0, 0
	}
	return float64(st.Packets) / st.ElapsedS, 8 * float64(st.Bytes) / st.ElapsedS
}

// AvgPPS and AvgBPS are Averages' two members, for the template.
func (d *experimentData) AvgPPS() float64 { p, _ := d.Averages(); return p }

// AvgBPS is the average bit rate of a finished experiment.
func (d *experimentData) AvgBPS() float64 { _, b := d.Averages(); return b }

// TraceTime tells that every source is a pcap file: the charts' times are
// the packets' recorded timestamps.
func (d *experimentData) TraceTime() bool {
	if len(d.S.Devices) == 0 {
		return false
	}
	for _, name := range d.S.Devices {
		if !strings.Contains(name, ":file:") {
			return false
		}
	}
	return true
}

// tailor fills the parts of a configure form that depend on the devices.
func tailor(f *configForm, pairs []pairView) {
	f.Transforms = map[string]bool{"counters": true, "flows": true, "anonymize": true, "pcap": true}
	f.FilesOnly = len(pairs) > 0
	f.MaxSnaplen = 262144
	for _, p := range pairs {
		iface := p.Name[strings.Index(p.Name, ":")+1:]
		if !strings.HasPrefix(iface, "file:") {
			f.FilesOnly, f.AnyLive = false, true
		}
		if p.Device == nil || p.Device.Capabilities == nil {
			f.Transforms = map[string]bool{}
			continue
		}
		c := p.Device.Capabilities
		for t := range f.Transforms {
			if !slices.Contains(c.Transforms, t) {
				delete(f.Transforms, t)
			}
		}
		if c.MaxSnaplen > 0 && c.MaxSnaplen < f.MaxSnaplen {
			f.MaxSnaplen = c.MaxSnaplen
		}
	}
	l := limitsOf(pairs)
	f.Policy = l
	if l.MaxSnaplen > 0 && l.MaxSnaplen < f.MaxSnaplen {
		f.MaxSnaplen = l.MaxSnaplen
	}
	if n, err := strconv.Atoi(f.Snaplen); err == nil && n > f.MaxSnaplen {
		f.Snaplen = strconv.Itoa(f.MaxSnaplen)
	}
	// What the policies do not allow is not on.
	f.Counters = f.Counters && l.Outputs[deviceapi.OutputCounters]
	f.Flows = f.Flows && l.Outputs[deviceapi.OutputFlows]
	f.Pcap = f.Pcap && l.Outputs[deviceapi.OutputPcap]
	f.Anonymize = f.Anonymize || l.RequireAnonymization
	if !l.PayloadAllowed(f.Payload) {
		f.Payload = l.Payload
	}
}

// formFromConfig fills a configure form from the stored configuration, or
// with the defaults.
func formFromConfig(c *amapi.ConfigView) configForm {
	// A new experiment starts safe (issue 18): addresses anonymized,
	// payloads stripped, MACs keyed.
	f := configForm{Snaplen: "65535", Promiscuous: true, Counters: true, IntervalMS: "1000", Flows: true,
		ActiveS: "1800", IdleS: "300", Biflow: true, Pcap: true, Storage: am.StorageRemote,
		Anonymize: true, Payload: deviceapi.DefaultPayload, MAC: deviceapi.DefaultMAC}
	if c == nil {
		return f
	}
	f.Filter, f.Snaplen, f.Promiscuous, f.Pcap, f.Storage = c.Filter, strconv.Itoa(c.Snaplen), c.Promiscuous, c.Pcap, c.Storage
	f.Counters = c.Counters != nil
	if c.Counters != nil {
		f.IntervalMS = strconv.Itoa(c.Counters.IntervalMS)
	}
	f.Flows = c.Flows != nil
	if c.Flows != nil {
		f.ActiveS, f.IdleS = strconv.Itoa(c.Flows.ActiveTimeoutS), strconv.Itoa(c.Flows.IdleTimeoutS)
		f.Biflow, f.Collector = c.Flows.Biflow, c.Flows.Collector
	}
	if c.Anonymize != nil {
		f.Anonymize, f.Fingerprint, f.Key = true, c.Anonymize.SecretFingerprint, c.Anonymize.Key
		f.Payload, f.MAC = c.Anonymize.Payload, c.Anonymize.MAC
	}
	if c.DurationS > 0 {
		f.DurationS = strconv.Itoa(c.DurationS)
	}
	if c.ReplaySpeed > 0 {
		f.ReplaySpeed = strconv.FormatFloat(c.ReplaySpeed, 'g', -1, 64)
	}
	if c.RotateMB > 0 {
		f.RotateMB = strconv.Itoa(c.RotateMB)
	}
	if c.RotateS > 0 {
		f.RotateS = strconv.Itoa(c.RotateS)
	}
	if sc := c.Schedule; sc != nil {
		f.StartAt = sc.StartAt.UTC().Format(formTime)
		if !sc.StopAt.IsZero() {
			f.StopAt = sc.StopAt.UTC().Format(formTime)
		}
		for _, x := range []struct {
			v  int
			to *string
		}{{sc.EveryS, &f.EveryS}, {sc.RunS, &f.RunS}, {sc.Count, &f.Count}} {
			if x.v > 0 {
				*x.to = strconv.Itoa(x.v)
			}
		}
	}
	return f
}

// readConfigForm reads the posted configure form.
func readConfigForm(r *http.Request) configForm {
	on := func(k string) bool { return r.PostFormValue(k) != "" }
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return configForm{Filter: v("filter"), Snaplen: v("snaplen"), Promiscuous: on("promiscuous"),
		Counters: on("counters"), IntervalMS: v("interval_ms"), Flows: on("flows"), ActiveS: v("active_timeout_s"),
		IdleS: v("idle_timeout_s"), Biflow: on("biflow"), Collector: v("collector"), Anonymize: on("anonymize"),
		Key: v("key"), Payload: v("payload"), MAC: v("mac"), Pcap: on("pcap"), Storage: v("storage"), DurationS: v("duration_s"), ReplaySpeed: v("replay_speed"),
		RotateMB: v("rotate_mb"), RotateS: v("rotate_s"),
		StartAt: v("start_at"), StopAt: v("stop_at"), EveryS: v("every_s"), RunS: v("run_s"), Count: v("count")}
}

// config turns the form into the manager's struct; the manager checks
// the values, the form only their types.
func (f *configForm) config(secret string) (amapi.ExperimentConfig, error) {
	var firstErr error
	num := func(field, s string) int {
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s must be a whole number, not %q", field, s)
		}
		return n
	}
	prom := f.Promiscuous
	c := amapi.ExperimentConfig{Filter: f.Filter, Snaplen: num("snaplen", f.Snaplen), Promiscuous: &prom, Pcap: f.Pcap,
		Storage: f.Storage, DurationS: num("duration_s", f.DurationS),
		RotateMB: num("rotate_mb", f.RotateMB), RotateS: num("rotate_s", f.RotateS)}
	if f.Counters {
		c.Counters = &amapi.CountersConfig{IntervalMS: num("interval_ms", f.IntervalMS)}
	}
	if f.Flows {
		biflow := f.Biflow
		c.Flows = &amapi.FlowsConfig{ActiveTimeoutS: num("active_timeout_s", f.ActiveS),
			IdleTimeoutS: num("idle_timeout_s", f.IdleS), Biflow: &biflow, Collector: f.Collector}
	}
	if f.Anonymize {
		c.Anonymize = &amapi.AnonymizeConfig{Secret: secret, Key: f.Key, Payload: f.Payload, MAC: f.MAC}
	}
	if f.ReplaySpeed != "" {
		x, err := strconv.ParseFloat(f.ReplaySpeed, 64)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("replay_speed must be a number, not %q", f.ReplaySpeed)
		}
		c.ReplaySpeed = x
	}
	if f.StartAt != "" || f.StopAt != "" || f.EveryS != "" || f.RunS != "" || f.Count != "" {
		sc := &amapi.ScheduleConfig{EveryS: num("every_s", f.EveryS), RunS: num("run_s", f.RunS), Count: num("count", f.Count)}
		for _, x := range []struct {
			field, v string
			to       *time.Time
		}{{"start_at", f.StartAt, &sc.StartAt}, {"stop_at", f.StopAt, &sc.StopAt}} {
			if x.v == "" {
				continue
			}
			t, err := parseFormTime(x.field, x.v)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			*x.to = t
		}
		c.Schedule = sc
	}
	return c, firstErr
}

// pairs joins an experiment's device interfaces with the devices.
func (h *Handler) pairs(r *http.Request, p am.Principal, s *amapi.Settings) ([]pairView, error) {
	devs, err := h.m.DeviceNames(r.Context(), p)
	if err != nil {
		return nil, err
	}
	out := make([]pairView, len(s.Devices))
	for i, name := range s.Devices {
		out[i].Name = name
		dev, _, _ := strings.Cut(name, ":")
		for j := range devs {
			if devs[j].Name == dev {
				out[i].Device = &devs[j]
			}
		}
	}
	return out, nil
}

// experimentPage gathers an experiment's page; form, when given, is the
// configure form as posted (with its error).
func (h *Handler) experimentPage(r *http.Request, s *session, id int64, form *configForm) (*experimentData, error) {
	set, err := h.m.GetExperimentSettings(r.Context(), s.User, id)
	if err != nil {
		return nil, err
	}
	pairs, err := h.pairs(r, s.User, &set)
	if err != nil {
		return nil, err
	}
	d := &experimentData{S: set, Pairs: pairs,
		Configurable: set.State == am.StateInstantiated || set.State == am.StateConfigured}
	if form != nil {
		d.Form = *form
	} else {
		d.Form = formFromConfig(set.Config)
	}
	tailor(&d.Form, pairs)
	for _, p := range pairs {
		if p.Device != nil && !slices.ContainsFunc(d.Policies, func(v devicePolicyView) bool { return v.Device == p.Device.Name }) {
			d.Policies = append(d.Policies, devicePolicyView{Device: p.Device.Name, Policy: p.Device.Policy})
		}
	}
	if d.Configurable {
		if d.Form.Keys, err = h.usableKeys(r, s, set.Owner); err != nil {
			return nil, err
		}
		// A policy that refuses secrets: the first key, not "none".
		if d.Form.Policy.OperatorKeys && d.Form.Key == "" && len(d.Form.Keys) > 0 {
			d.Form.Key = d.Form.Keys[0].Name
		}
	}
	st, err := h.status(r, s, id)
	if err != nil {
		return nil, err
	}
	d.Status = st
	d.Results = h.results(r, s, &set, r.URL.Query().Get("sort"), r.URL.Query().Get("dir"))
	return d, nil
}

// showExperiment shows an experiment: lifecycle, configuration, live
// status, charts, flows and files.
func (h *Handler) showExperiment(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.experimentPage(r, s, id, nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "experiment.html", "Experiment "+d.S.Name, "experiments", d)
}

// configureExperiment stores the configuration through the manager; its
// refusal (a bad filter with libpcap's message, a transform a device
// lacks) shows on the form, which keeps what was typed but the secret.
func (h *Handler) configureExperiment(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := readConfigForm(r)
	secret := r.PostFormValue("secret")
	if f.Anonymize && secret == "" && f.Key == "" {
		// Anonymization on (the default) and nothing typed: a random key
		// that nobody holds, so that the safe default saves as it is.
		secret = randomSecret()
	}
	cfg, err := f.config(secret)
	var set amapi.Settings
	if err == nil {
		set, err = h.m.ConfigureExperiment(r.Context(), s.User, id, cfg)
	}
	if err != nil {
		status := http.StatusBadRequest
		if am.FaultOf(err).Code != 0 && am.FaultOf(err).Code <= amapi.FaultConflict {
			status = httpStatus(err)
		}
		if status == http.StatusNotFound || status == http.StatusForbidden && !errors.Is(err, am.ErrPolicy) {
			h.fail(w, r, err)
			return
		}
		f.Error = message(err)
		d, perr := h.experimentPage(r, s, id, &f)
		if perr != nil {
			h.fail(w, r, perr)
			return
		}
		h.render(w, r, status, "experiment.html", "Experiment "+d.S.Name, "experiments", d)
		return
	}
	if c := set.Config; c != nil && c.Schedule != nil {
		h.sessions.setFlash(s, "Configuration saved: the schedule starts the experiment at "+
			c.Schedule.StartAt.UTC().Format("2006-01-02 15:04:05")+" UTC.")
	} else {
		h.sessions.setFlash(s, "Configuration saved: the experiment can start.")
	}
	http.Redirect(w, r, fmt.Sprintf("/experiments/%d", id), http.StatusSeeOther)
}

// filterCheck is the data of the "filtercheck" fragment.
type filterCheck struct {
	Filter string
	OK     bool
	Error  string
	// Down are the devices of the experiment that do not answer: the
	// filter was compiled for their last known link types only, so the
	// check is not a success.
	Down []string
}

// checkFilter compiles the typed filter for every device interface of
// the experiment (as ConfigureExperiment will) and answers the inline
// message.
func (h *Handler) checkFilter(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	fc := filterCheck{Filter: strings.TrimSpace(r.PostFormValue("filter"))}
	snaplen, _ := strconv.Atoi(strings.TrimSpace(r.PostFormValue("snaplen")))
	err = h.m.CheckConfig(r.Context(), s.User, id, amapi.ExperimentConfig{Filter: fc.Filter, Snaplen: snaplen})
	switch {
	case err == nil:
		fc.OK = true
		if set, serr := h.m.GetExperimentSettings(r.Context(), s.User, id); serr == nil {
			if pairs, perr := h.pairs(r, s.User, &set); perr == nil {
				for _, p := range pairs {
					if dev := p.Name[:strings.Index(p.Name+":", ":")]; (p.Device == nil || !p.Device.Reachable) && !slices.Contains(fc.Down, dev) {
						fc.Down = append(fc.Down, dev)
					}
				}
			}
		}
	case am.FaultOf(err).Code == amapi.FaultInvalid:
		fc.Error = message(err)
	default:
		h.fail(w, r, err)
		return
	}
	h.fragment(w, r, "filtercheck", fc)
}

// transition runs a lifecycle button: start, resume, pause or stop.
func (h *Handler) transition(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var call func(context.Context, am.Principal, int64) (amapi.Status, error)
	var done string
	switch r.PathValue("action") {
	case "start":
		call, done = h.m.StartExperiment, "started"
	case "resume":
		call, done = h.m.StartExperiment, "resumed"
	case "pause":
		call, done = h.m.PauseExperiment, "paused"
	case "stop":
		call, done = h.m.StopExperiment, "stopped"
	default:
		http.NotFound(w, r)
		return
	}
	st, err := call(r.Context(), s.User, id)
	var pending []string
	for _, d := range st.Devices {
		if d.StopPending {
			pending = append(pending, d.Device)
		}
	}
	if err != nil {
		if code := am.FaultOf(err).Code; code == amapi.FaultNotFound || code == amapi.FaultAuth {
			h.fail(w, r, err)
			return
		}
		msg, detail := humanize(err)
		h.sessions.setErrorFlash(s, "The experiment was not "+done+". "+msg, detail)
	} else if len(pending) > 0 {
		// Stopped at the AM, but a device did not answer: it may still
		// be capturing. That is not a success message.
		h.sessions.setErrorFlash(s, "The experiment is "+done+", but "+strings.Join(pending, ", ")+
			" did not answer and may still be capturing: the AM stops the job when the device answers again.", "")
	} else {
		h.sessions.setFlash(s, "Experiment "+done+".")
	}
	http.Redirect(w, r, fmt.Sprintf("/experiments/%d", id), http.StatusSeeOther)
}

// experimentSettings reads the settings of the experiment the request's
// path names, as the session's user may see them; on an error it has
// answered the request and returns false.
func (h *Handler) experimentSettings(w http.ResponseWriter, r *http.Request, s *session) (amapi.Settings, bool) {
	id, err := experimentID(r)
	if err == nil {
		var set amapi.Settings
		if set, err = h.m.GetExperimentSettings(r.Context(), s.User, id); err == nil {
			return set, true
		}
	}
	h.fail(w, r, err)
	return amapi.Settings{}, false
}

// stopForm is the confirmation step of a stop: a stopped experiment
// cannot be started again.
func (h *Handler) stopForm(w http.ResponseWriter, r *http.Request, s *session) {
	set, ok := h.experimentSettings(w, r, s)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "experiment_stop.html", "Stop experiment "+set.Name+"?", "experiments", set)
}

// deleteExperimentForm is the confirmation step of a deletion.
func (h *Handler) deleteExperimentForm(w http.ResponseWriter, r *http.Request, s *session) {
	set, ok := h.experimentSettings(w, r, s)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "experiment_delete.html", "Delete experiment "+set.Name+"?", "experiments", set)
}

// deleteExperiment deletes the experiment with its results and goes back
// to the list; a refusal (running, a device that did not answer) is
// flashed on the experiment's page.
func (h *Handler) deleteExperiment(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := experimentID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.m.DeleteExperiment(r.Context(), s.User, id); err != nil {
		if code := am.FaultOf(err).Code; code == amapi.FaultNotFound || code == amapi.FaultAuth {
			h.fail(w, r, err)
			return
		}
		msg, detail := humanize(err)
		h.sessions.setErrorFlash(s, "The experiment was not deleted. "+msg, detail)
		http.Redirect(w, r, fmt.Sprintf("/experiments/%d", id), http.StatusSeeOther)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("Experiment %d deleted with its results.", id))
	http.Redirect(w, r, "/experiments", http.StatusSeeOther)
}

// randomSecret is a Crypto-PAn secret nobody knows: 32 random bytes in
// hex (cryptopan.KeyFromSecret takes 64 hex digits as the key itself).
func randomSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b[:])
}
