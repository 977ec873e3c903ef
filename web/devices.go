package web

import (
	"fmt"
	"net/http"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/deviceapi"
)

// newLocation is the location drop-down's value for "a new one".
const newLocation = "__new__"

// devicesData is the data of devices.html.
type devicesData struct {
	Approved []amapi.DeviceInfo
	Pending  []amapi.DeviceInfo
	// Activations are the usable activation codes (without the codes).
	Activations []amapi.Activation
	// NewActivation is the one just made, with its code: shown this once.
	NewActivation *amapi.Activation
	// ActivationError is why the last one could not be made.
	ActivationError string
	// Expiries are the choices of the activation form.
	Expiries []expiryChoice
}

// expiryChoice is one lifetime an activation code may be given.
type expiryChoice struct {
	Value string
	Label string
}

// activationExpiries are the lifetimes the GUI offers, the default first.
var activationExpiries = []struct {
	expiryChoice
	seconds int
}{
	{expiryChoice{"1d", "1 day"}, 86400},
	{expiryChoice{"1h", "1 hour"}, 3600},
	{expiryChoice{"7d", "7 days"}, 7 * 86400},
	{expiryChoice{"30d", "30 days"}, 30 * 86400},
}

// listDevices shows the devices with reachability and last seen, the
// self-registered ones waiting for approval and the activation codes
// (admins).
func (h *Handler) listDevices(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderDevices(w, r, s, http.StatusOK, devicesData{})
}

// renderDevices renders devices.html with d's activation members.
func (h *Handler) renderDevices(w http.ResponseWriter, r *http.Request, s *session, status int, d devicesData) {
	devs, err := h.m.ListDevices(r.Context(), s.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, dev := range devs {
		if dev.Pending {
			d.Pending = append(d.Pending, dev)
		} else {
			d.Approved = append(d.Approved, dev)
		}
	}
	if d.Activations, err = h.m.ListActivations(r.Context(), s.User); err != nil {
		h.fail(w, r, err)
		return
	}
	for _, e := range activationExpiries {
		d.Expiries = append(d.Expiries, e.expiryChoice)
	}
	h.render(w, r, status, "devices.html", "Capture devices", "devices", d)
}

// createActivation makes an activation code and shows it on the devices
// page, in this answer only (never stored in the session, never again).
func (h *Handler) createActivation(w http.ResponseWriter, r *http.Request, s *session) {
	if err := requireAdmin(s); err != nil {
		h.fail(w, r, err)
		return
	}
	var req amapi.ActivationRequest
	choice := r.PostFormValue("expires")
	for _, e := range activationExpiries {
		if e.Value == choice {
			req.ExpiresS = e.seconds
		}
	}
	uses, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("uses")))
	switch {
	case req.ExpiresS == 0:
		h.renderDevices(w, r, s, http.StatusBadRequest, devicesData{ActivationError: "choose how long the code works"})
		return
	case err != nil || uses < 1 || uses > amapi.MaxActivationUses:
		h.renderDevices(w, r, s, http.StatusBadRequest, devicesData{
			ActivationError: fmt.Sprintf("uses must be a whole number from 1 to %d", amapi.MaxActivationUses)})
		return
	}
	req.Uses = uses
	act, err := h.m.CreateActivation(r.Context(), s.User, req)
	if err != nil {
		if httpStatus(err) == http.StatusBadRequest {
			h.renderDevices(w, r, s, http.StatusBadRequest, devicesData{ActivationError: message(err)})
			return
		}
		h.fail(w, r, err)
		return
	}
	h.renderDevices(w, r, s, http.StatusOK, devicesData{NewActivation: &act})
}

// deleteActivation revokes an activation code.
func (h *Handler) deleteActivation(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, fmt.Errorf("%w: activation %q", am.ErrNotFound, r.PathValue("id")))
		return
	}
	if err := h.m.DeleteActivation(r.Context(), s.User, id); err != nil {
		h.fail(w, r, err)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("Activation %d revoked.", id))
	http.Redirect(w, r, "/devices#activations", http.StatusSeeOther)
}

// requireAdmin refuses a write of the devices page to non-admins before
// the form is read.
func requireAdmin(s *session) error {
	if !s.User.IsAdmin() {
		return fmt.Errorf("%w: device administration is for admins", am.ErrAuth)
	}
	return nil
}

// deviceForm is the data of device_form.html (add and edit) and of the
// re-create form of device_deleted.html. The token is never filled in.
type deviceForm struct {
	// Edit is set when editing Original.
	Edit     bool
	Original string
	Name     string
	Location string
	Type     string
	Hostname string
	Port     string
	// Interfaces is the comma-separated list of allowed interfaces.
	Interfaces  string
	Description string
	// TLS and CertSHA256: HTTPS, and the pin of the daemon's certificate.
	TLS        bool
	CertSHA256 string
	// Locations are the existing locations for the drop-down.
	Locations []string
	// Errors are the server's messages per field, Error the others.
	Errors map[string]string
	Error  string
	// ErrorDetail is the manager's own text of Error, folded.
	ErrorDetail string
	// TokenAgain marks the token field after a refused form: the token
	// typed is never sent back, so it must be typed again.
	TokenAgain bool
	// Device is the stored record (edit): capabilities, reachability.
	Device *amapi.DeviceInfo
	// Policy is the device policy (SPEC §9) as typed: PolicyUsers is the
	// comma-separated users, the bounds are typed numbers ("" or 0: none).
	Policy             amapi.DevicePolicy
	PolicyUsers        string
	PolicyMaxSnaplen   string
	PolicyMaxDurationS string
	PolicyMaxStorage   string
	// PolicyGiven tells that the posted form had the policy fields (a
	// form without them leaves the policy as it is, or the default).
	PolicyGiven bool
}

// setPolicy fills the policy fields from p.
func (f *deviceForm) setPolicy(p amapi.DevicePolicy) {
	f.Policy, f.PolicyUsers = p, strings.Join(p.Users, ", ")
	f.PolicyMaxSnaplen = strconv.Itoa(p.MaxSnaplen)
	f.PolicyMaxDurationS = strconv.FormatInt(p.MaxDurationS, 10)
	f.PolicyMaxStorage = strconv.FormatInt(p.MaxStorageBytes, 10)
}

// AllowsOutput tells whether the form's policy allows output (a
// template helper).
func (f deviceForm) AllowsOutput(output string) bool {
	return slices.Contains(f.Policy.Outputs, output)
}

// policyInput is the typed policy, every member set; a bound that is not
// a whole number is an error naming the field.
func (f *deviceForm) policyInput() (*amapi.PolicyInput, error) {
	if !f.PolicyGiven {
		return nil, nil
	}
	p := f.Policy
	p.Users = splitComma(f.PolicyUsers)
	for _, b := range []struct {
		field, text string
		set         func(int64)
	}{
		{"max_snaplen", f.PolicyMaxSnaplen, func(n int64) { p.MaxSnaplen = int(n) }},
		{"max_duration_s", f.PolicyMaxDurationS, func(n int64) { p.MaxDurationS = n }},
		{"max_storage_bytes", f.PolicyMaxStorage, func(n int64) { p.MaxStorageBytes = n }},
	} {
		if b.text == "" {
			b.set(0)
			continue
		}
		n, err := strconv.ParseInt(b.text, 10, 64)
		if err != nil || n > 1<<62 {
			return nil, fmt.Errorf("%w: policy %s must be a whole number (0: no bound), not %q", am.ErrInvalid, b.field, b.text)
		}
		b.set(n)
	}
	return amapi.PolicyInputOf(p), nil
}

// splitComma splits a comma-separated list, dropping empty items.
func splitComma(s string) []string {
	out := []string{}
	for _, i := range strings.Split(s, ",") {
		if i = strings.TrimSpace(i); i != "" {
			out = append(out, i)
		}
	}
	return out
}

// NewLocation tells whether the form's location is not an existing one.
func (f deviceForm) NewLocation() bool {
	return f.Location != "" && !slices.Contains(f.Locations, f.Location)
}

// locations lists the locations of the existing devices.
func (h *Handler) locations(r *http.Request, s *session) ([]string, []amapi.DeviceInfo, error) {
	devs, err := h.m.ListDevices(r.Context(), s.User)
	if err != nil {
		return nil, nil, err
	}
	var locs []string
	for _, d := range devs {
		if d.Location != "" && !slices.Contains(locs, d.Location) {
			locs = append(locs, d.Location)
		}
	}
	slices.Sort(locs)
	return locs, devs, nil
}

// formOf fills a form from a stored device.
func formOf(d *amapi.DeviceInfo) deviceForm {
	f := deviceForm{Name: d.Name, Location: d.Location, Type: d.Type, Hostname: d.Hostname,
		Port: strconv.Itoa(d.Port), Interfaces: strings.Join(d.Interfaces, ", "), Description: d.Description,
		TLS: d.TLS, CertSHA256: d.CertSHA256}
	f.setPolicy(d.Policy)
	return f
}

// newDeviceForm shows the add form; query parameters pre-fill it (the
// re-create link of a deleted device).
func (h *Handler) newDeviceForm(w http.ResponseWriter, r *http.Request, s *session) {
	locs, _, err := h.locations(r, s)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := deviceForm{Name: q.Get("name"), Location: q.Get("location"), Type: q.Get("type"), Hostname: q.Get("hostname"),
		Port: q.Get("port"), Interfaces: q.Get("interfaces"), Description: q.Get("description"), Locations: locs,
		TLS: q.Get("tls") == "on", CertSHA256: q.Get("cert_sha256")}
	if f.Type == "" {
		f.Type = "gims-capd"
	}
	if f.Port == "" {
		f.Port = "8081"
	}
	f.setPolicy(amapi.DefaultDevicePolicy())
	h.render(w, r, http.StatusOK, "device_form.html", "Add a capture device", "devices", &f)
}

// readDeviceForm reads the posted fields.
func readDeviceForm(r *http.Request) deviceForm {
	f := deviceForm{
		Name: strings.TrimSpace(r.PostFormValue("name")), Location: r.PostFormValue("location"),
		Type: strings.TrimSpace(r.PostFormValue("type")), Hostname: strings.TrimSpace(r.PostFormValue("hostname")),
		Port: strings.TrimSpace(r.PostFormValue("port")), Interfaces: r.PostFormValue("interfaces"),
		Description: strings.TrimSpace(r.PostFormValue("description")),
		CertSHA256:  strings.TrimSpace(r.PostFormValue("cert_sha256")),
	}
	// A pin implies HTTPS.
	f.TLS = r.PostFormValue("tls") == "on" || f.CertSHA256 != ""
	if f.Location == newLocation {
		f.Location = r.PostFormValue("new_location")
	}
	f.Location = strings.TrimSpace(f.Location)
	f.Policy = amapi.DevicePolicy{
		Policy: deviceapi.Policy{RequireAnonymization: r.PostFormValue("policy_require_anonymization") == "on",
			Payload: r.PostFormValue("policy_payload"), Outputs: []string{},
			KeyHolder: r.PostFormValue("policy_key_holder")}}
	if r.PostForm != nil {
		f.Policy.Outputs = append(f.Policy.Outputs, r.PostForm["policy_outputs"]...)
		_, f.PolicyGiven = r.PostForm["policy_payload"]
	}
	f.PolicyUsers = r.PostFormValue("policy_users")
	f.PolicyMaxSnaplen = strings.TrimSpace(r.PostFormValue("policy_max_snaplen"))
	f.PolicyMaxDurationS = strings.TrimSpace(r.PostFormValue("policy_max_duration_s"))
	f.PolicyMaxStorage = strings.TrimSpace(r.PostFormValue("policy_max_storage_bytes"))
	return f
}

// port parses the port field as the browser does: not a number is 0,
// which the manager refuses with its message.
func (f *deviceForm) port() int {
	n, err := strconv.Atoi(f.Port)
	if err != nil {
		return 0
	}
	return n
}

// interfaces splits the interfaces field.
func (f *deviceForm) interfaces() []string {
	out := []string{}
	for _, i := range strings.Split(f.Interfaces, ",") {
		if i = strings.TrimSpace(i); i != "" {
			out = append(out, i)
		}
	}
	return out
}

// fieldOf tells which form field a manager message is about, so that it
// shows beside it (the browser's checks put the same message there).
func fieldOf(msg string) string {
	switch {
	case strings.Contains(msg, "policy "):
		return "policy"
	case strings.Contains(msg, "device name"):
		return "name"
	case strings.Contains(msg, ": hostname "):
		return "hostname"
	case strings.Contains(msg, ": port "):
		return "port"
	case strings.Contains(msg, ": token "):
		return "token"
	case strings.Contains(msg, "interface"):
		return "interfaces"
	case strings.Contains(msg, "cert_sha256"):
		return "cert_sha256"
	}
	return ""
}

// setError places a manager error on the form.
func (f *deviceForm) setError(err error) {
	msg := message(err)
	if field := fieldOf(msg); field != "" && am.FaultOf(err).Code == amapi.FaultInvalid {
		f.Errors = map[string]string{field: msg}
		return
	}
	f.Error, f.ErrorDetail = humanize(err)
}

// check returns every error of the fields the manager checks, all at
// once and with the manager's messages (the browser's checks give the
// same), so that one post shows them all rather than one at a time.
func (f *deviceForm) check(token string, editing bool) map[string]string {
	errs := map[string]string{}
	if f.Name == "" || len(f.Name) > 64 {
		errs["name"] = "device name must have 1 to 64 characters"
	} else if strings.Trim(f.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		errs["name"] = fmt.Sprintf("device name %q: use only letters, digits, '.', '_' and '-'", f.Name)
	}
	if !am.ValidHost(f.Hostname) {
		errs["hostname"] = fmt.Sprintf("device %s: hostname %q is not a host name or address", f.Name, f.Hostname)
	}
	if p := f.port(); p < 1 || p > 65535 {
		errs["port"] = fmt.Sprintf("device %s: port must be between 1 and 65535, got %d", f.Name, p)
	}
	if !editing && token == "" {
		errs["token"] = fmt.Sprintf("device %s: token is required (the daemon's bearer token)", f.Name)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// addDevice adds a device through the manager, which checks the fields
// and fetches the capabilities.
func (h *Handler) addDevice(w http.ResponseWriter, r *http.Request, s *session) {
	f := readDeviceForm(r)
	f.TokenAgain = r.PostFormValue("token") != ""
	if errs := f.check(r.PostFormValue("token"), false); errs != nil {
		if err := requireAdmin(s); err != nil {
			h.fail(w, r, err)
			return
		}
		f.Locations, _, _ = h.locations(r, s)
		f.Errors = errs
		h.render(w, r, http.StatusBadRequest, "device_form.html", "Add a capture device", "devices", &f)
		return
	}
	in := amapi.DeviceInput{Name: f.Name, Location: f.Location, Type: f.Type, Hostname: f.Hostname, Port: f.port(),
		Description: f.Description, Token: r.PostFormValue("token"), Interfaces: f.interfaces(), TLS: f.TLS, CertSHA256: f.CertSHA256}
	pol, err := f.policyInput()
	var d amapi.DeviceInfo
	if err == nil {
		in.Policy = pol
		d, err = h.m.AddDevice(r.Context(), s.User, in)
	}
	if err != nil {
		if httpStatus(err) == http.StatusForbidden {
			h.fail(w, r, err)
			return
		}
		f.Locations, _, _ = h.locations(r, s)
		if !f.PolicyGiven {
			f.setPolicy(amapi.DefaultDevicePolicy())
		}
		f.setError(err)
		h.render(w, r, httpStatus(err), "device_form.html", "Add a capture device", "devices", &f)
		return
	}
	h.sessions.setFlash(s, "Device "+d.Name+" added; capabilities fetched."+transportNote(&d))
	http.Redirect(w, r, "/devices/"+esc(d.Name)+"/edit", http.StatusSeeOther)
}

// findDevice returns the stored device name.
func (h *Handler) findDevice(r *http.Request, s *session, name string) (*amapi.DeviceInfo, []string, error) {
	locs, devs, err := h.locations(r, s)
	if err != nil {
		return nil, nil, err
	}
	for i := range devs {
		if devs[i].Name == name {
			return &devs[i], locs, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: device %q", am.ErrNotFound, name)
}

// editDeviceForm shows the edit form with the device's capabilities.
func (h *Handler) editDeviceForm(w http.ResponseWriter, r *http.Request, s *session) {
	d, locs, err := h.findDevice(r, s, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := formOf(d)
	f.Edit, f.Original, f.Locations, f.Device = true, d.Name, locs, d
	h.render(w, r, http.StatusOK, "device_form.html", "Device "+d.Name, "devices", &f)
}

// editDevice saves the changes; an empty token keeps the current one.
func (h *Handler) editDevice(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	f := readDeviceForm(r)
	f.TokenAgain = r.PostFormValue("token") != ""
	if errs := f.check("", true); errs != nil {
		cur, locs, ferr := h.findDevice(r, s, name)
		if ferr != nil {
			h.fail(w, r, ferr)
			return
		}
		f.Edit, f.Original, f.Locations, f.Device, f.Errors = true, name, locs, cur, errs
		h.render(w, r, http.StatusBadRequest, "device_form.html", "Device "+name, "devices", &f)
		return
	}
	port, ifaces := f.port(), f.interfaces()
	ch := amapi.DeviceChanges{Name: &f.Name, Location: &f.Location, Type: &f.Type, Hostname: &f.Hostname, Port: &port,
		Description: &f.Description, Interfaces: &ifaces, TLS: &f.TLS, CertSHA256: &f.CertSHA256}
	if tok := r.PostFormValue("token"); tok != "" {
		ch.Token = &tok
	}
	pol, err := f.policyInput()
	var d amapi.DeviceInfo
	if err == nil {
		ch.Policy = pol
		d, err = h.m.EditDevice(r.Context(), s.User, name, ch)
	}
	if err != nil {
		cur, locs, ferr := h.findDevice(r, s, name)
		if ferr != nil || httpStatus(err) == http.StatusForbidden {
			h.fail(w, r, err)
			return
		}
		f.Edit, f.Original, f.Locations, f.Device = true, name, locs, cur
		if !f.PolicyGiven {
			f.setPolicy(cur.Policy)
		}
		f.setError(err)
		h.render(w, r, httpStatus(err), "device_form.html", "Device "+name, "devices", &f)
		return
	}
	h.sessions.setFlash(s, "Device "+d.Name+" saved.")
	http.Redirect(w, r, "/devices/"+esc(d.Name)+"/edit", http.StatusSeeOther)
}

// fetchCapabilities asks the device for its capabilities now.
func (h *Handler) fetchCapabilities(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	_, err := h.m.GetDeviceCapabilities(r.Context(), s.User, name)
	if err == nil {
		// The manager answers the last capabilities it knows when the
		// device does not answer: that is not a fetch.
		if d, _, ferr := h.findDevice(r, s, name); ferr == nil && !d.Reachable {
			msg := "The capabilities of " + name + " were not fetched: the device did not answer. The page shows the last ones known."
			h.sessions.setErrorFlash(s, msg, d.LastError)
			http.Redirect(w, r, "/devices/"+esc(name)+"/edit", http.StatusSeeOther)
			return
		}
	}
	if err != nil {
		msg, detail := humanize(err)
		if detail == "" {
			detail = message(err)
		}
		h.sessions.setErrorFlash(s, "The capabilities of "+name+" were not fetched. "+msg, detail)
	} else {
		h.sessions.setFlash(s, "Capabilities of "+name+" fetched.")
	}
	http.Redirect(w, r, "/devices/"+esc(name)+"/edit", http.StatusSeeOther)
}

// approveDevice approves a self-registered device.
func (h *Handler) approveDevice(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	yes := true
	if d, err := h.m.EditDevice(r.Context(), s.User, name, amapi.DeviceChanges{Approved: &yes}); err != nil {
		if httpStatus(err) == http.StatusForbidden {
			h.fail(w, r, err)
			return
		}
		msg, detail := humanize(err)
		h.sessions.setErrorFlash(s, "Device "+name+" was not approved. "+msg, detail)
	} else {
		h.sessions.setFlash(s, "Device "+name+" approved; capabilities fetched."+transportNote(&d))
	}
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

// deleteDeviceForm is the confirmation step: the full record.
func (h *Handler) deleteDeviceForm(w http.ResponseWriter, r *http.Request, s *session) {
	d, _, err := h.findDevice(r, s, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "device_delete.html", "Delete device "+d.Name+"?", "devices", d)
}

// deletedData is the data of device_deleted.html.
type deletedData struct {
	Device amapi.DeviceInfo
	// Form re-creates it (the token must be typed again).
	Form deviceForm
}

// deleteDevice deletes the device and shows the deleted record.
func (h *Handler) deleteDevice(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.m.DeleteDevice(r.Context(), s.User, r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := formOf(&d)
	f.Locations, _, _ = h.locations(r, s)
	h.render(w, r, http.StatusOK, "device_deleted.html", "Device "+d.Name+" deleted", "devices", deletedData{Device: d, Form: f})
}

// transportNote says how the AM reaches a device, with the fingerprint
// it pins (as SSH shows a host key at first contact), for the flash of
// add and approve.
func transportNote(d *amapi.DeviceInfo) string {
	switch {
	case d.TLS && d.CertSHA256 != "":
		return " HTTPS, certificate SHA-256 " + d.CertSHA256 + "."
	case d.TLS:
		return " HTTPS, certificate verified by the AM's device CA."
	}
	return ""
}

// esc escapes a name for a URL path segment.
func esc(name string) string { return neturl.PathEscape(name) }
