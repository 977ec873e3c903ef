package api

import (
	"net/http"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// Service holds the XML-RPC methods of SPEC §3. It is the default
// service, so the methods are called by their bare names.
type Service struct {
	m         *am.Manager
	statuses  *statusEncodings
	summaries *summaryEncodings
}

// IDArgs is the parameter list of the methods taking an experiment id.
type IDArgs struct {
	ID int64
}

// NameArgs is the parameter list of the methods taking a name.
type NameArgs struct {
	Name string
}

// CreateArgs are CreateExperiment's parameters.
type CreateArgs struct {
	Req amapi.CreateRequest
}

// ConfigureArgs are ConfigureExperiment's parameters.
type ConfigureArgs struct {
	ID     int64
	Config amapi.ExperimentConfig
}

// ResultsArgs are GetExperimentResults' parameters.
type ResultsArgs struct {
	ID    int64
	Query amapi.ResultsQuery
}

// QueryArgs are QueryFlows' parameters.
type QueryArgs struct {
	ID    int64
	Query amapi.FlowQuery
}

// AddDeviceArgs are AddDevice's parameters.
type AddDeviceArgs struct {
	Device amapi.DeviceInput
}

// EditDeviceArgs are EditDevice's parameters.
type EditDeviceArgs struct {
	Name    string
	Changes amapi.DeviceChanges
}

// AddUserArgs are AddUser's parameters.
type AddUserArgs struct {
	User amapi.UserInput
}

// RoleArgs are SetUserRole's parameters.
type RoleArgs struct {
	Name string
	Role string
}

// RegisterArgs are RegisterDevice's parameters.
type RegisterArgs struct {
	Registration amapi.Registration
}

// ActivationArgs are CreateActivation's parameters.
type ActivationArgs struct {
	Req amapi.ActivationRequest
}

// ActivationIDArgs are DeleteActivation's parameters.
type ActivationIDArgs struct {
	ID int64
}

// AuditArgs are GetAuditLog's parameters.
type AuditArgs struct {
	Query amapi.AuditQuery
}

// KeyArgs are CreateKey's parameters.
type KeyArgs struct {
	Req amapi.KeyRequest
}

// TimelineArgs are GetScheduleTimeline's parameters (the query may be
// left out).
type TimelineArgs struct {
	Query amapi.TimelineQuery `xmlrpc:",optional"`
}

// serviceHelp is the system.methodHelp text of each method.
func serviceHelp() map[string]string {
	return map[string]string{
		"CreateExperiment":      "CreateExperiment({name, description?, devices: [\"name\" | \"name:interface\"]}) returns the new experiment's id.",
		"ConfigureExperiment":   "ConfigureExperiment(id, {filter, snaplen, promiscuous, counters: {interval_ms}, flows: {active_timeout_s, idle_timeout_s, biflow, collector}, anonymize: {secret | key, payload: strip|zero|keep, mac: keyed|zero|keep}, pcap, storage: local|remote, duration_s, replay_speed, schedule: {start_at?, stop_at?, every_s?, run_s?, count?}}) checks and stores the configuration and returns the settings. A schedule makes the AM start the experiment at start_at (default now) and stop it at stop_at or after run_s, or run it run_s every every_s, count times or until stop_at (pausing between runs); overlapping another experiment's schedule on a device interface is fault 6.",
		"StartExperiment":       "StartExperiment(id) starts (configured) or resumes (paused) the experiment on all its devices, or none, and returns its status.",
		"PauseExperiment":       "PauseExperiment(id) pauses a running experiment on all its devices, or none, and returns its status.",
		"StopExperiment":        "StopExperiment(id) ends a running or paused experiment on all its devices and returns its status.",
		"GetDeviceCapabilities": "GetDeviceCapabilities(device) returns {interfaces: [{name, link_type, description}], max_snaplen, transforms, storage_free_bytes, version}.",
		"GetExperimentSettings": "GetExperimentSettings(id) returns {id, name, description, owner, state, devices, config (secret as secret_fingerprint), created, transitions: [{from, to, by, at}], runs: [{run, planned_start, planned_end?, started?, ended?, outcome, note?}] (schedules)}.",
		"GetExperimentStatus":   "GetExperimentStatus(id) returns {state, packets, bytes, dropped, sanitized_drops, elapsed_s, flows_exported, errors, cpu_percent, running_experiments, storage_used_bytes, storage_free_bytes, devices: [per-device counters with reachable], next_start?, run_end? (schedules)}.",
		"GetScheduleTimeline":   "GetScheduleTimeline({from?, to?}) returns [{device, interface, experiment, name, state, start, end?}]: when experiments hold each device interface between from (default now) and to (default 24 h later, at most 7 days): their scheduled runs, and running ones until they are due to stop (no end: until stopped by hand). Other users' experiments are shown without their name to experimenters.",
		"GetExperimentResults":  "GetExperimentResults(id, {kind: counters|flows|files, offset?, limit? (default 100, at most 10000)}) returns a page of counters (by time), flows (largest first) or files ({name, size, url}; GET url with the same Basic auth).",
		"QueryFlows":            "QueryFlows(id, {filter?, from?, to?, group_by?, order_by?, offset?, limit? (default 100, at most 10000)}) returns {rows, total}: flows, or groups of them by src, dst, sport, dport, proto, device with flows, packets, bytes (both directions); filter is nfdump-style (proto tcp and dst port 443 and src net 10.0.0.0/8 and bytes > 1000), a bad one is fault 3 with its position; order_by a field with optional '-' (default -bytes) (owner or admin).",
		"ListExperiments":       "ListExperiments() returns [{id, name, owner, state, devices, created, packets?, elapsed_s?}] (packets and elapsed time as the AM last stored them): one's own, or every one for an admin.",
		"AddDevice":             "AddDevice({name, location, type, hostname, port, description, token, interfaces?, tls?, cert_sha256?}) adds a capture device, fetching its capabilities (admin); tls: true reaches it over HTTPS, verified by the AM's device CA or by the cert_sha256 pin (a mismatch is fault 5).",
		"EditDevice":            "EditDevice(name, {changed members; approved: true approves a registered device}) returns the device (admin).",
		"DeleteDevice":          "DeleteDevice(name) removes a device not used by a running or paused experiment and returns the deleted record (admin).",
		"ListDevices":           "ListDevices() returns every device with reachable, capabilities and last_seen (admin).",
		"AddUser":               "AddUser({name, password (8 to 72 bytes), role: admin|experimenter, cert_uri?}) creates a user (admin); a client certificate whose CN is the name, or with cert_uri as a SAN URI, logs in without a password.",
		"DeleteUser":            "DeleteUser(name) removes a user; their experiments stay (admin).",
		"ListUsers":             "ListUsers() returns [{name, role, created}] (admin).",
		"SetUserRole":           "SetUserRole(name, role: admin|experimenter) changes a user's role and returns the user (admin); the last admin stays an admin (fault 6).",
		"RegisterDevice":        "RegisterDevice({name, hostname, port, token, activation, tls?, cert_sha256?}) announces a capture daemon with an activation code from CreateActivation; it stays pending until an admin approves it with EditDevice(name, {approved: true}). It never replaces an existing device.",
		"CreateActivation":      "CreateActivation({expires_s? (default 86400, at most 30 days), uses? (default 1, at most 1000)}) returns {id, code, created_by, created, expires, uses_left}: the code lets capture daemons RegisterDevice; it is shown only now (admin).",
		"ListActivations":       "ListActivations() returns the usable activations [{id, created_by, created, expires, uses_left}], without their codes (admin).",
		"DeleteActivation":      "DeleteActivation(id) revokes an activation (admin).",
		"DeleteExperiment":      "DeleteExperiment(id) deletes an experiment that is not running or paused, with its results on the AM and on the devices, and returns true (owner or admin). A device that cannot be reached is fault 5 naming it: the AM's copies are gone, the record stays, and calling again finishes.",
		"CreateKey":             "CreateKey({name, users: [user names] or [\"*\"]}) makes a random Crypto-PAn key at the AM, sealed and never shown, and returns {name, fingerprint, users, created_by, created} (admin); experiments of those users name it in anonymize: {key: name}.",
		"ListKeys":              "ListKeys() returns the operator-held keys [{name, fingerprint, users, created_by, created}] (admin: every key; experimenter: the keys it may use, without users).",
		"DeleteKey":             "DeleteKey(name) deletes an operator-held key that no configured, running or paused experiment uses (else fault 2 naming them) and returns its record (admin).",
		"GetAuditLog":           "GetAuditLog({user?, since? (dateTime), limit? (default 100, at most 10000)}) returns [{at, user, remote, method, target, result}], newest first: every call that changed something, or tried to, with result \"ok\" or \"fault N: message\" (admin).",
	}
}

// CreateExperiment creates an experiment and returns its id.
func (s *Service) CreateExperiment(r *http.Request, a *CreateArgs, reply *int64) (err error) {
	*reply, err = s.m.CreateExperiment(r.Context(), principal(r), a.Req)
	return err
}

// ConfigureExperiment stores a configuration.
func (s *Service) ConfigureExperiment(r *http.Request, a *ConfigureArgs, reply *amapi.Settings) (err error) {
	*reply, err = s.m.ConfigureExperiment(r.Context(), principal(r), a.ID, a.Config)
	return err
}

// StartExperiment starts or resumes an experiment.
func (s *Service) StartExperiment(r *http.Request, a *IDArgs, reply *amapi.Status) (err error) {
	*reply, err = s.m.StartExperiment(r.Context(), principal(r), a.ID)
	return err
}

// PauseExperiment pauses an experiment.
func (s *Service) PauseExperiment(r *http.Request, a *IDArgs, reply *amapi.Status) (err error) {
	*reply, err = s.m.PauseExperiment(r.Context(), principal(r), a.ID)
	return err
}

// StopExperiment ends an experiment.
func (s *Service) StopExperiment(r *http.Request, a *IDArgs, reply *amapi.Status) (err error) {
	*reply, err = s.m.StopExperiment(r.Context(), principal(r), a.ID)
	return err
}

// GetDeviceCapabilities returns a device's capabilities.
func (s *Service) GetDeviceCapabilities(r *http.Request, a *NameArgs, reply *amapi.Capabilities) (err error) {
	*reply, err = s.m.GetDeviceCapabilities(r.Context(), principal(r), a.Name)
	return err
}

// GetExperimentSettings returns an experiment's settings.
func (s *Service) GetExperimentSettings(r *http.Request, a *IDArgs, reply *amapi.Settings) (err error) {
	*reply, err = s.m.GetExperimentSettings(r.Context(), principal(r), a.ID)
	return err
}

// GetExperimentStatus returns an experiment's status (an amapi.Status on
// the wire), its encoding kept while it does not change (status.go).
func (s *Service) GetExperimentStatus(r *http.Request, a *IDArgs, reply *StatusReply) (err error) {
	p := principal(r)
	reply.status, reply.stamp, err = s.m.ExperimentStatus(r.Context(), p, a.ID)
	reply.key, reply.cache = statusKey{id: a.ID, admin: p.IsAdmin()}, s.statuses
	return err
}

// GetExperimentResults returns a page of results; file URLs are made
// absolute with the request's host.
func (s *Service) GetExperimentResults(r *http.Request, a *ResultsArgs, reply *any) error {
	res, err := s.m.GetExperimentResults(r.Context(), principal(r), a.ID, a.Query)
	if err != nil {
		return err
	}
	if files, ok := res.([]amapi.FileRow); ok {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		for i := range files {
			files[i].URL = scheme + r.Host + files[i].URL
		}
	}
	*reply = res
	return nil
}

// QueryFlows queries an experiment's flows.
func (s *Service) QueryFlows(r *http.Request, a *QueryArgs, reply *amapi.FlowQueryResult) (err error) {
	*reply, err = s.m.QueryFlows(r.Context(), principal(r), a.ID, a.Query)
	return err
}

// ListExperiments lists experiments (a []amapi.ExperimentSummary on the
// wire), each entry's encoding kept while it does not change (list.go).
func (s *Service) ListExperiments(r *http.Request, _ *xmlrpc.NoArgs, reply *ListReply) (err error) {
	reply.list, err = s.m.ListExperiments(r.Context(), principal(r))
	reply.cache = s.summaries
	return err
}

// AddDevice adds a device.
func (s *Service) AddDevice(r *http.Request, a *AddDeviceArgs, reply *amapi.DeviceInfo) (err error) {
	*reply, err = s.m.AddDevice(r.Context(), principal(r), a.Device)
	return err
}

// EditDevice changes a device.
func (s *Service) EditDevice(r *http.Request, a *EditDeviceArgs, reply *amapi.DeviceInfo) (err error) {
	*reply, err = s.m.EditDevice(r.Context(), principal(r), a.Name, a.Changes)
	return err
}

// DeleteDevice removes a device.
func (s *Service) DeleteDevice(r *http.Request, a *NameArgs, reply *amapi.DeviceInfo) (err error) {
	*reply, err = s.m.DeleteDevice(r.Context(), principal(r), a.Name)
	return err
}

// ListDevices lists devices.
func (s *Service) ListDevices(r *http.Request, _ *xmlrpc.NoArgs, reply *[]amapi.DeviceInfo) (err error) {
	*reply, err = s.m.ListDevices(r.Context(), principal(r))
	return err
}

// AddUser creates a user.
func (s *Service) AddUser(r *http.Request, a *AddUserArgs, reply *amapi.UserInfo) (err error) {
	*reply, err = s.m.AddUser(r.Context(), principal(r), a.User)
	return err
}

// DeleteUser removes a user.
func (s *Service) DeleteUser(r *http.Request, a *NameArgs, reply *amapi.UserInfo) (err error) {
	*reply, err = s.m.DeleteUser(r.Context(), principal(r), a.Name)
	return err
}

// SetUserRole changes a user's role.
func (s *Service) SetUserRole(r *http.Request, a *RoleArgs, reply *amapi.UserInfo) (err error) {
	*reply, err = s.m.SetUserRole(r.Context(), principal(r), a.Name, a.Role)
	return err
}

// ListUsers lists users.
func (s *Service) ListUsers(r *http.Request, _ *xmlrpc.NoArgs, reply *[]amapi.UserInfo) (err error) {
	*reply, err = s.m.ListUsers(r.Context(), principal(r))
	return err
}

// RegisterDevice records a self-registering capture daemon as pending.
func (s *Service) RegisterDevice(r *http.Request, a *RegisterArgs, reply *amapi.DeviceInfo) (err error) {
	*reply, err = s.m.RegisterDevice(r.Context(), principal(r), a.Registration)
	return err
}

// CreateActivation makes an activation code for RegisterDevice.
func (s *Service) CreateActivation(r *http.Request, a *ActivationArgs, reply *amapi.Activation) (err error) {
	*reply, err = s.m.CreateActivation(r.Context(), principal(r), a.Req)
	return err
}

// ListActivations lists the usable activations, without their codes.
func (s *Service) ListActivations(r *http.Request, _ *xmlrpc.NoArgs, reply *[]amapi.Activation) (err error) {
	*reply, err = s.m.ListActivations(r.Context(), principal(r))
	return err
}

// DeleteActivation revokes an activation.
func (s *Service) DeleteActivation(r *http.Request, a *ActivationIDArgs, reply *bool) error {
	if err := s.m.DeleteActivation(r.Context(), principal(r), a.ID); err != nil {
		return err
	}
	*reply = true
	return nil
}

// GetAuditLog returns the audit log (admin).
func (s *Service) GetAuditLog(r *http.Request, a *AuditArgs, reply *[]amapi.AuditEntry) (err error) {
	*reply, err = s.m.GetAuditLog(r.Context(), principal(r), a.Query)
	return err
}

// GetScheduleTimeline lists when experiments hold the device interfaces.
func (s *Service) GetScheduleTimeline(r *http.Request, a *TimelineArgs, reply *[]amapi.TimelineRun) (err error) {
	*reply, err = s.m.GetScheduleTimeline(r.Context(), principal(r), a.Query)
	return err
}

// DeleteExperiment deletes an experiment and its results.
func (s *Service) DeleteExperiment(r *http.Request, a *IDArgs, reply *bool) error {
	if err := s.m.DeleteExperiment(r.Context(), principal(r), a.ID); err != nil {
		return err
	}
	*reply = true
	return nil
}

// CreateKey makes an operator-held Crypto-PAn key (admin).
func (s *Service) CreateKey(r *http.Request, a *KeyArgs, reply *amapi.KeyInfo) (err error) {
	*reply, err = s.m.CreateKey(r.Context(), principal(r), a.Req)
	return err
}

// ListKeys lists the operator-held keys the caller may see.
func (s *Service) ListKeys(r *http.Request, _ *xmlrpc.NoArgs, reply *[]amapi.KeyInfo) (err error) {
	*reply, err = s.m.ListKeys(r.Context(), principal(r))
	return err
}

// DeleteKey deletes an operator-held key (admin).
func (s *Service) DeleteKey(r *http.Request, a *NameArgs, reply *amapi.KeyInfo) (err error) {
	*reply, err = s.m.DeleteKey(r.Context(), principal(r), a.Name)
	return err
}
