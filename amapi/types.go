package amapi

import (
	"time"

	"github.com/gimsproject/gims/deviceapi"
)

// The structs of this file are the wire shapes of the AM's API (SPEC §3):
// the server, the web GUI and gimsctl all use them, so member names are
// fixed here once. Struct members a caller leaves out stay zero; the
// server checks what is required.

// CreateRequest is the struct parameter of CreateExperiment.
type CreateRequest struct {
	Name        string `xmlrpc:"name"`
	Description string `xmlrpc:"description,omitempty"`
	// Devices are "name" or "name:interface".
	Devices []string `xmlrpc:"devices"`
}

// ExperimentConfig is the struct parameter of ConfigureExperiment.
// Pointers mark members whose default is not Go's zero value; a client
// sends only the members it sets (omitempty), and the server reads an
// absent member as its default.
type ExperimentConfig struct {
	Filter      string           `xmlrpc:"filter,omitempty"`
	Snaplen     int              `xmlrpc:"snaplen,omitempty"`     // default 65535
	Promiscuous *bool            `xmlrpc:"promiscuous,omitempty"` // default true
	Counters    *CountersConfig  `xmlrpc:"counters,omitempty"`
	Flows       *FlowsConfig     `xmlrpc:"flows,omitempty"`
	Anonymize   *AnonymizeConfig `xmlrpc:"anonymize,omitempty"`
	Pcap        bool             `xmlrpc:"pcap,omitempty"`
	Storage     string           `xmlrpc:"storage,omitempty"` // default "remote"
	DurationS   int              `xmlrpc:"duration_s,omitempty"`
	// ReplaySpeed paces file: sources (1 = as recorded; 0 = as fast as
	// possible). An extension of SPEC §3, passed to the devices' jobs.
	ReplaySpeed float64 `xmlrpc:"replay_speed,omitempty"`
	// RotateMB and RotateS split each device's pcap and IPFIX files into
	// parts (SPEC §13): a part is closed, a complete file, when it holds
	// RotateMB megabytes (10^6 bytes) or RotateS seconds of capture, and
	// the files list every part (packets-00001.pcap…). 0 leaves that
	// bound out; at most 1000000 MB and 604800 s.
	RotateMB int `xmlrpc:"rotate_mb,omitempty"`
	RotateS  int `xmlrpc:"rotate_s,omitempty"`
	// Schedule makes the AM start and stop the experiment itself (SPEC
	// §13); absent, it is started and stopped by hand.
	Schedule *ScheduleConfig `xmlrpc:"schedule,omitempty"`
}

// ScheduleConfig is the schedule member of ExperimentConfig (SPEC §13):
// one run from StartAt (default: at once) to StopAt or for RunS seconds
// (open-ended without either), or runs of RunS seconds every EveryS
// seconds, Count times or until StopAt. Times are dateTime.iso8601 (an
// ISO 8601 string is accepted too); zero members are absent.
type ScheduleConfig struct {
	StartAt time.Time `xmlrpc:"start_at,omitempty"`
	StopAt  time.Time `xmlrpc:"stop_at,omitempty"`
	EveryS  int       `xmlrpc:"every_s,omitempty"`
	RunS    int       `xmlrpc:"run_s,omitempty"`
	Count   int       `xmlrpc:"count,omitempty"`
}

// ScheduleView is a stored schedule as the API shows it: StartAt is
// always set (the configuration time when it was absent); StopAt is
// absent when there is none; Runs is the number of runs (0: one
// open-ended run).
type ScheduleView struct {
	StartAt time.Time `xmlrpc:"start_at" json:"start_at"`
	StopAt  time.Time `xmlrpc:"stop_at,omitempty" json:"stop_at,omitzero"`
	EveryS  int       `xmlrpc:"every_s" json:"every_s"`
	RunS    int       `xmlrpc:"run_s" json:"run_s"`
	Count   int       `xmlrpc:"count" json:"count"`
	Runs    int       `xmlrpc:"runs" json:"runs"`
}

// ScheduleRun is one run of a schedule as recorded by the AM's scheduler
// (GetExperimentSettings): its planned window (PlannedEnd absent for an
// open-ended run), when it really started and ended, and its outcome:
// "running", "done", "skipped" (its window passed while the AM was not
// running, or the experiment had ended) or "failed" (the devices refused
// the start, or the AM stopped during it); Note says more (a late start).
type ScheduleRun struct {
	Run          int       `xmlrpc:"run"`
	PlannedStart time.Time `xmlrpc:"planned_start"`
	PlannedEnd   time.Time `xmlrpc:"planned_end,omitempty"`
	Started      time.Time `xmlrpc:"started,omitempty"`
	Ended        time.Time `xmlrpc:"ended,omitempty"`
	Outcome      string    `xmlrpc:"outcome"`
	Note         string    `xmlrpc:"note,omitempty"`
}

// CountersConfig enables counter aggregation.
type CountersConfig struct {
	IntervalMS int `xmlrpc:"interval_ms,omitempty"` // default 1000
}

// FlowsConfig enables flow aggregation.
type FlowsConfig struct {
	ActiveTimeoutS int    `xmlrpc:"active_timeout_s,omitempty"` // default 1800
	IdleTimeoutS   int    `xmlrpc:"idle_timeout_s,omitempty"`   // default 300
	Biflow         *bool  `xmlrpc:"biflow,omitempty"`           // default true
	Collector      string `xmlrpc:"collector,omitempty"`
}

// AnonymizeConfig enables Crypto-PAn with a secret (64 hex digits: the key
// itself; anything else: a passphrase for argon2id) and the sanitization
// of SPEC §8: Payload is "strip" (the default), "zero" or "keep"; MAC is
// "keyed" (the default), "zero" or "keep".
//
// Key names an operator-held key (CreateKey) instead of a secret: exactly
// one of Secret and Key is given.
type AnonymizeConfig struct {
	Secret  string `xmlrpc:"secret,omitempty"`
	Key     string `xmlrpc:"key,omitempty"`
	Payload string `xmlrpc:"payload,omitempty"`
	MAC     string `xmlrpc:"mac,omitempty"`
}

// ConfigView is a stored configuration as the API shows it: defaults
// applied, the secret replaced by its fingerprint.
type ConfigView struct {
	Filter      string         `xmlrpc:"filter" json:"filter"`
	Snaplen     int            `xmlrpc:"snaplen" json:"snaplen"`
	Promiscuous bool           `xmlrpc:"promiscuous" json:"promiscuous"`
	Counters    *CountersView  `xmlrpc:"counters,omitempty" json:"counters,omitempty"`
	Flows       *FlowsView     `xmlrpc:"flows,omitempty" json:"flows,omitempty"`
	Anonymize   *AnonymizeView `xmlrpc:"anonymize,omitempty" json:"anonymize,omitempty"`
	Pcap        bool           `xmlrpc:"pcap" json:"pcap"`
	Storage     string         `xmlrpc:"storage" json:"storage"`
	DurationS   int            `xmlrpc:"duration_s" json:"duration_s"`
	ReplaySpeed float64        `xmlrpc:"replay_speed" json:"replay_speed"`
	// RotateMB and RotateS: see ExperimentConfig (0: no bound).
	RotateMB int           `xmlrpc:"rotate_mb" json:"rotate_mb,omitempty"`
	RotateS  int           `xmlrpc:"rotate_s" json:"rotate_s,omitempty"`
	Schedule *ScheduleView `xmlrpc:"schedule,omitempty" json:"schedule,omitempty"`
}

// CountersView is the counters member of ConfigView.
type CountersView struct {
	IntervalMS int `xmlrpc:"interval_ms" json:"interval_ms"`
}

// FlowsView is the flows member of ConfigView.
type FlowsView struct {
	ActiveTimeoutS int    `xmlrpc:"active_timeout_s" json:"active_timeout_s"`
	IdleTimeoutS   int    `xmlrpc:"idle_timeout_s" json:"idle_timeout_s"`
	Biflow         bool   `xmlrpc:"biflow" json:"biflow"`
	Collector      string `xmlrpc:"collector" json:"collector"`
}

// AnonymizeView is the anonymize member of ConfigView: the secret's
// fingerprint and the effective sanitization modes (defaults applied;
// "keep" is worth a warning, SPEC §8).
//
// SecretFingerprint is the fingerprint of the Crypto-PAn key in use,
// whether it came from the secret or is the operator-held key named by
// Key (Key is empty with a secret).
type AnonymizeView struct {
	SecretFingerprint string `xmlrpc:"secret_fingerprint" json:"secret_fingerprint"`
	Key               string `xmlrpc:"key,omitempty" json:"key,omitempty"`
	Payload           string `xmlrpc:"payload" json:"payload"`
	MAC               string `xmlrpc:"mac" json:"mac"`
}

// TransitionView is one recorded transition.
type TransitionView struct {
	From string    `xmlrpc:"from"`
	To   string    `xmlrpc:"to"`
	By   string    `xmlrpc:"by"`
	At   time.Time `xmlrpc:"at"`
}

// Settings is the reply of GetExperimentSettings and ConfigureExperiment.
type Settings struct {
	ID          int64            `xmlrpc:"id"`
	Name        string           `xmlrpc:"name"`
	Description string           `xmlrpc:"description"`
	Owner       string           `xmlrpc:"owner"`
	State       string           `xmlrpc:"state"`
	Devices     []string         `xmlrpc:"devices"`
	Config      *ConfigView      `xmlrpc:"config,omitempty"`
	Created     time.Time        `xmlrpc:"created"`
	Transitions []TransitionView `xmlrpc:"transitions"`
	// Runs are the runs of the schedule recorded so far (SPEC §13),
	// oldest first; empty without a schedule.
	Runs []ScheduleRun `xmlrpc:"runs"`
}

// ExperimentSummary is one row of ListExperiments.
type ExperimentSummary struct {
	ID      int64     `xmlrpc:"id"`
	Name    string    `xmlrpc:"name"`
	Owner   string    `xmlrpc:"owner"`
	State   string    `xmlrpc:"state"`
	Devices []string  `xmlrpc:"devices"`
	Created time.Time `xmlrpc:"created"`
	// Packets and ElapsedS are the totals the AM last stored (its
	// monitor polls running experiments), for lists: no device is asked.
	Packets  uint64  `xmlrpc:"packets,omitempty"`
	ElapsedS float64 `xmlrpc:"elapsed_s,omitempty"`
}

// DeviceStatus is one (device, interface) of an experiment's status.
type DeviceStatus struct {
	Device    string `xmlrpc:"device" json:"device"`
	Interface string `xmlrpc:"interface" json:"interface"`
	Job       string `xmlrpc:"job" json:"job"`
	// State is the job's state on the device ("" before it started).
	State string `xmlrpc:"state" json:"state"`
	// Reachable is false when the device did not answer; the counters
	// are then the last ones seen (Updated tells when).
	Reachable bool `xmlrpc:"reachable" json:"reachable"`
	// StopPending is true when the experiment ended while this device
	// did not answer StopJob: the AM stops the job when it answers again
	// (SPEC §9).
	StopPending   bool   `xmlrpc:"stop_pending" json:"stop_pending"`
	Packets       uint64 `xmlrpc:"packets" json:"packets"`
	Bytes         uint64 `xmlrpc:"bytes" json:"bytes"`
	Dropped       uint64 `xmlrpc:"dropped" json:"dropped"`
	FlowsExported uint64 `xmlrpc:"flows_exported" json:"flows_exported"`
	CollectorLost uint64 `xmlrpc:"collector_lost" json:"collector_lost"`
	Malformed     uint64 `xmlrpc:"malformed" json:"malformed"`
	Truncated     uint64 `xmlrpc:"truncated" json:"truncated"`
	// SanitizedDrops counts packets left out of the pcap because
	// sanitization left nothing safe of them (SPEC §8).
	SanitizedDrops   uint64    `xmlrpc:"sanitized_drops" json:"sanitized_drops"`
	ElapsedS         float64   `xmlrpc:"elapsed_s" json:"elapsed_s"`
	Progress         float64   `xmlrpc:"progress" json:"progress"`
	InterruptedS     float64   `xmlrpc:"interrupted_s" json:"interrupted_s"`
	CPUPercent       float64   `xmlrpc:"cpu_percent" json:"cpu_percent"`
	StorageUsedBytes uint64    `xmlrpc:"storage_used_bytes" json:"storage_used_bytes"`
	StorageFreeBytes uint64    `xmlrpc:"storage_free_bytes" json:"storage_free_bytes"`
	Errors           []string  `xmlrpc:"errors" json:"errors"`
	Updated          time.Time `xmlrpc:"updated,omitempty" json:"updated"`
}

// Status is the reply of GetExperimentStatus and of the lifecycle calls.
type Status struct {
	ID    int64  `xmlrpc:"id"`
	State string `xmlrpc:"state"`
	// Packets, Bytes, Dropped, SanitizedDrops and FlowsExported sum the
	// devices'.
	Packets        uint64 `xmlrpc:"packets"`
	Bytes          uint64 `xmlrpc:"bytes"`
	Dropped        uint64 `xmlrpc:"dropped"`
	SanitizedDrops uint64 `xmlrpc:"sanitized_drops"`
	FlowsExported  uint64 `xmlrpc:"flows_exported"`
	// ElapsedS is the experiment's running time, pauses excluded.
	ElapsedS float64 `xmlrpc:"elapsed_s"`
	// Errors gathers the devices' errors (prefixed with the device) and
	// the AM's own (unreachable devices, failed pulls).
	Errors []string `xmlrpc:"errors"`
	// CPUPercent is the busiest device's.
	CPUPercent float64 `xmlrpc:"cpu_percent"`
	// RunningExperiments counts the AM's running experiments.
	RunningExperiments int `xmlrpc:"running_experiments"`
	// StorageUsedBytes sums the devices'; StorageFreeBytes is the
	// smallest free space among them.
	StorageUsedBytes uint64 `xmlrpc:"storage_used_bytes"`
	StorageFreeBytes uint64 `xmlrpc:"storage_free_bytes"`
	// ResultsPulled tells, for storage "remote", that the final copies
	// of the result files are in the AM's data folder.
	ResultsPulled bool           `xmlrpc:"results_pulled"`
	Devices       []DeviceStatus `xmlrpc:"devices"`
	// Expires is when the files of a done experiment will be deleted
	// (gims-am -retention); zero otherwise. FilesExpired tells that they
	// were: the record and its counters stay.
	Expires      time.Time `xmlrpc:"expires,omitempty"`
	FilesExpired bool      `xmlrpc:"files_expired,omitempty"`
	// NextStart is when the schedule starts its next run (SPEC §13);
	// absent without a schedule or once no run is left. RunEnd is when
	// the schedule ends the run under way (absent when none is, or when
	// it is open-ended).
	NextStart time.Time `xmlrpc:"next_start,omitempty"`
	RunEnd    time.Time `xmlrpc:"run_end,omitempty"`
}

// TimelineQuery is GetScheduleTimeline's struct parameter: the scheduled
// runs between From (default: now) and To (default: From + 24 h; at most
// 7 days after From).
type TimelineQuery struct {
	From time.Time `xmlrpc:"from,omitempty"`
	To   time.Time `xmlrpc:"to,omitempty"`
}

// TimelineRun is one window of an experiment on one device interface in
// GetScheduleTimeline: a scheduled run, or the time a running experiment
// holds the interface (End absent: until stopped by hand). Name is empty
// for another user's experiment, which an experimenter sees only as busy.
type TimelineRun struct {
	Device     string    `xmlrpc:"device"`
	Interface  string    `xmlrpc:"interface"`
	Experiment int64     `xmlrpc:"experiment"`
	Name       string    `xmlrpc:"name"`
	State      string    `xmlrpc:"state"`
	Start      time.Time `xmlrpc:"start"`
	End        time.Time `xmlrpc:"end,omitempty"`
}

// ResultsQuery is the struct parameter of GetExperimentResults.
type ResultsQuery struct {
	Kind   string `xmlrpc:"kind"`
	Offset int    `xmlrpc:"offset,omitempty"`
	Limit  int    `xmlrpc:"limit,omitempty"` // default 100, at most 10000
}

// CounterRow is one interval of one device (kind "counters"): the
// device's counters and which device it is. The bytes per protocol class
// add up to Bytes; they are zero for counters recorded before they
// existed (older devices, older counters.csv files). The members are
// the device API's counter entry and which device it came from.
type CounterRow struct {
	deviceapi.CounterEntry
	Device    string `xmlrpc:"device"`
	Interface string `xmlrpc:"interface"`
}

// FlowRow is one flow (kind "flows") and which device it is: Start and
// End with whole seconds (dateTime.iso8601), StartMS and EndMS with the
// milliseconds since the Unix epoch. The members are the device API's
// flow entry and which device it came from.
type FlowRow struct {
	deviceapi.FlowEntry
	Device    string `xmlrpc:"device"`
	Interface string `xmlrpc:"interface"`
}

// FileRow is one result file (kind "files"). URL is a path on the AM
// until the API layer makes it absolute.
type FileRow struct {
	Name      string `xmlrpc:"name"`
	Size      int64  `xmlrpc:"size"`
	URL       string `xmlrpc:"url"`
	Device    string `xmlrpc:"device"`
	Interface string `xmlrpc:"interface"`
	// Local tells that the AM holds a copy (storage "remote").
	Local bool `xmlrpc:"local"`
	// Complete tells that the file will not change any more: a part
	// closed by rotation (rotate_mb, rotate_s), or any file once the
	// device's job is done. The parts of a rotated file are listed in
	// order, each with its own row.
	Complete bool `xmlrpc:"complete"`
}

// DeviceInput is the struct parameter of AddDevice.
type DeviceInput struct {
	Name        string   `xmlrpc:"name"`
	Location    string   `xmlrpc:"location"`
	Type        string   `xmlrpc:"type"`
	Hostname    string   `xmlrpc:"hostname"`
	Port        int      `xmlrpc:"port"`
	Description string   `xmlrpc:"description"`
	Token       string   `xmlrpc:"token"`
	Interfaces  []string `xmlrpc:"interfaces,omitempty"` // default: all the device offers
	// TLS: the device serves HTTPS (SPEC §10), verified by the AM's
	// -device-ca or, when CertSHA256 is set, by that pin of its leaf
	// certificate (64 hex digits).
	TLS        bool   `xmlrpc:"tls,omitempty"`
	CertSHA256 string `xmlrpc:"cert_sha256,omitempty"`
	// Policy limits the experiments on the device (SPEC §9); absent
	// members take DefaultDevicePolicy's values.
	Policy *PolicyInput `xmlrpc:"policy,omitempty"`
}

// DeviceChanges is the struct parameter of EditDevice: only the members
// given change.
type DeviceChanges struct {
	Name        *string   `xmlrpc:"name"`
	Location    *string   `xmlrpc:"location"`
	Type        *string   `xmlrpc:"type"`
	Hostname    *string   `xmlrpc:"hostname"`
	Port        *int      `xmlrpc:"port"`
	Description *string   `xmlrpc:"description"`
	Token       *string   `xmlrpc:"token"`
	Interfaces  *[]string `xmlrpc:"interfaces"`
	TLS         *bool     `xmlrpc:"tls"`
	// CertSHA256 sets the pin; "" removes it.
	CertSHA256 *string `xmlrpc:"cert_sha256"`
	// Approved: true approves a pending (self-registered) device.
	Approved *bool `xmlrpc:"approved"`
	// Policy changes the members of the device's policy it gives.
	Policy *PolicyInput `xmlrpc:"policy"`
}

// Capabilities is what a device offers (GetDeviceCapabilities).
type Capabilities struct {
	Interfaces       []InterfaceInfo `xmlrpc:"interfaces" json:"interfaces"`
	MaxSnaplen       int             `xmlrpc:"max_snaplen" json:"max_snaplen"`
	Transforms       []string        `xmlrpc:"transforms" json:"transforms"`
	StorageFreeBytes uint64          `xmlrpc:"storage_free_bytes" json:"storage_free_bytes"`
	Version          string          `xmlrpc:"version" json:"version"`
	// Policy is the aggregate manager's policy of the device as it
	// applies to the caller (SPEC §9): for an experimenter, users is
	// ["*"] or just the caller.
	Policy *DevicePolicy `xmlrpc:"policy,omitempty" json:"policy,omitempty"`
	// DevicePolicy is the device owner's own limit (gims-capd -policy)
	// as the daemon reports it: a job must satisfy both.
	DevicePolicy *deviceapi.Policy `xmlrpc:"device_policy,omitempty" json:"device_policy,omitempty"`
}

// InterfaceInfo is one capture source of a device.
type InterfaceInfo struct {
	Name        string `xmlrpc:"name" json:"name"`
	LinkType    string `xmlrpc:"link_type" json:"link_type"`
	Description string `xmlrpc:"description" json:"description"`
}

// DeviceInfo is a device as the API shows it; the token is never shown,
// only whether one is set.
type DeviceInfo struct {
	Name         string        `xmlrpc:"name"`
	Location     string        `xmlrpc:"location"`
	Type         string        `xmlrpc:"type"`
	Hostname     string        `xmlrpc:"hostname"`
	Port         int           `xmlrpc:"port"`
	Description  string        `xmlrpc:"description"`
	Interfaces   []string      `xmlrpc:"interfaces"`
	Pending      bool          `xmlrpc:"pending"`
	Reachable    bool          `xmlrpc:"reachable"`
	LastSeen     time.Time     `xmlrpc:"last_seen,omitempty"`
	LastError    string        `xmlrpc:"last_error"`
	Capabilities *Capabilities `xmlrpc:"capabilities,omitempty"`
	Created      time.Time     `xmlrpc:"created"`
	// TLS and CertSHA256: HTTPS and the pinned certificate (SPEC §10);
	// for a pending device, the fingerprint it announced, to compare
	// with the device's own before approving it.
	TLS        bool   `xmlrpc:"tls,omitempty"`
	CertSHA256 string `xmlrpc:"cert_sha256,omitempty"`
	// Policy limits the experiments on the device (SPEC §9).
	Policy DevicePolicy `xmlrpc:"policy"`
}

// Registration is the struct parameter of RegisterDevice.
type Registration struct {
	Name     string `xmlrpc:"name"`
	Hostname string `xmlrpc:"hostname"`
	Port     int    `xmlrpc:"port"`
	Token    string `xmlrpc:"token"`
	// TLS and CertSHA256: the device serves HTTPS with the certificate
	// of that fingerprint (kept as the pin once approved).
	TLS        bool   `xmlrpc:"tls,omitempty"`
	CertSHA256 string `xmlrpc:"cert_sha256,omitempty"`
	// Activation is a code from CreateActivation (required).
	Activation string `xmlrpc:"activation"`
}

// Bounds and defaults of CreateActivation.
const (
	DefaultActivationExpiresS = 24 * 3600
	MaxActivationExpiresS     = 30 * 24 * 3600
	DefaultActivationUses     = 1
	MaxActivationUses         = 1000
)

// ActivationRequest is the struct parameter of CreateActivation. Zero
// members take their defaults (a day, one use).
type ActivationRequest struct {
	// ExpiresS is how long the code works, in seconds (at most 30 days).
	ExpiresS int `xmlrpc:"expires_s,omitempty"`
	// Uses is how many registrations it allows (at most 1000).
	Uses int `xmlrpc:"uses,omitempty"`
}

// Activation is an activation code as CreateActivation answers it (with
// the code, shown this once) and ListActivations lists it (without).
type Activation struct {
	ID        int64     `xmlrpc:"id"`
	Code      string    `xmlrpc:"code,omitempty"`
	CreatedBy string    `xmlrpc:"created_by"`
	Created   time.Time `xmlrpc:"created"`
	Expires   time.Time `xmlrpc:"expires"`
	UsesLeft  int       `xmlrpc:"uses_left"`
}

// UserInput is the struct parameter of AddUser.
type UserInput struct {
	Name     string `xmlrpc:"name"`
	Password string `xmlrpc:"password"`
	Role     string `xmlrpc:"role"`
	// CertURI is a SAN URI (such as a GENI URN) of a client certificate
	// that names this user, besides its CN (SPEC §10).
	CertURI string `xmlrpc:"cert_uri,omitempty"`
}

// UserInfo is a user as the API shows it (never the password hash).
type UserInfo struct {
	Name    string    `xmlrpc:"name"`
	Role    string    `xmlrpc:"role"`
	Created time.Time `xmlrpc:"created"`
	CertURI string    `xmlrpc:"cert_uri,omitempty"`
}

// AuditQuery is GetAuditLog's struct parameter: entries of User (every
// user when empty) at or after Since (all when zero), at most Limit
// (default 100, at most 10000), newest first.
type AuditQuery struct {
	User  string    `xmlrpc:"user,omitempty"`
	Since time.Time `xmlrpc:"since,omitempty"`
	Limit int       `xmlrpc:"limit,omitempty"`
}

// AuditEntry is one call of the audit log: who called what on which
// target, from where, and how it ended ("ok", or the fault code and its
// message).
type AuditEntry struct {
	At     time.Time `xmlrpc:"at"`
	User   string    `xmlrpc:"user"`
	Remote string    `xmlrpc:"remote"`
	Method string    `xmlrpc:"method"`
	Target string    `xmlrpc:"target"`
	Result string    `xmlrpc:"result"`
}

// KeyRequest is CreateKey's struct parameter: the new operator-held key's
// name and the users who may use it ("*": everyone).
type KeyRequest struct {
	Name  string   `xmlrpc:"name"`
	Users []string `xmlrpc:"users"`
}

// KeyInfo is an operator-held Crypto-PAn key as CreateKey and ListKeys
// show it: never the key itself, only its fingerprint (the first 8 hex
// digits of its SHA-256, as secret_fingerprint). An experimenter sees
// only the keys it may use, without their users.
type KeyInfo struct {
	Name        string    `xmlrpc:"name"`
	Fingerprint string    `xmlrpc:"fingerprint"`
	Users       []string  `xmlrpc:"users,omitempty"`
	CreatedBy   string    `xmlrpc:"created_by,omitempty"`
	Created     time.Time `xmlrpc:"created"`
}

// FlowQuery is the struct parameter of QueryFlows (SPEC §12). Filter is
// an nfdump-style expression (package flowfilter); From and To, when
// set, bound a flow's start and end; GroupBy keys are src, dst, sport,
// dport, proto and device; OrderBy is a field with an optional '-' for
// descending (default "-bytes").
type FlowQuery struct {
	Filter  string    `xmlrpc:"filter,omitempty"`
	From    time.Time `xmlrpc:"from,omitempty"`
	To      time.Time `xmlrpc:"to,omitempty"`
	GroupBy []string  `xmlrpc:"group_by,omitempty"`
	OrderBy string    `xmlrpc:"order_by,omitempty"`
	Offset  int       `xmlrpc:"offset,omitempty"`
	Limit   int       `xmlrpc:"limit,omitempty"` // default 100, at most 10000
}

// FlowQueryResult is QueryFlows' reply: a page of rows and how many rows
// the query has in all.
type FlowQueryResult struct {
	Rows  []FlowQueryRow `xmlrpc:"rows"`
	Total int64          `xmlrpc:"total"`
}

// FlowQueryRow is one flow, or one group of flows when the query groups.
// Flows, Packets and Bytes count both directions of the biflows (a flow
// row has Flows 1). A group row has only its group keys among device,
// src, dst, sport, dport and proto (the others are absent: empty or nil)
// and none of the flow-only members.
type FlowQueryRow struct {
	Device  string `xmlrpc:"device,omitempty"`
	Src     string `xmlrpc:"src,omitempty"`
	Dst     string `xmlrpc:"dst,omitempty"`
	SrcPort *int   `xmlrpc:"sport,omitempty"`
	DstPort *int   `xmlrpc:"dport,omitempty"`
	Proto   *int   `xmlrpc:"proto,omitempty"`
	Flows   int64  `xmlrpc:"flows"`
	Packets int64  `xmlrpc:"packets"`
	Bytes   int64  `xmlrpc:"bytes"`
	// Flow rows only: the interface, VLAN, each direction's counters,
	// start and end (dateTime, whole seconds, and milliseconds since the
	// Unix epoch) and why the flow ended.
	Interface  string    `xmlrpc:"interface,omitempty"`
	VLAN       int       `xmlrpc:"vlan,omitempty"`
	FwdPackets int64     `xmlrpc:"fwd_packets,omitempty"`
	FwdBytes   int64     `xmlrpc:"fwd_bytes,omitempty"`
	RevPackets int64     `xmlrpc:"rev_packets,omitempty"`
	RevBytes   int64     `xmlrpc:"rev_bytes,omitempty"`
	Start      time.Time `xmlrpc:"start,omitempty"`
	End        time.Time `xmlrpc:"end,omitempty"`
	StartMS    int64     `xmlrpc:"start_ms,omitempty"`
	EndMS      int64     `xmlrpc:"end_ms,omitempty"`
	EndReason  string    `xmlrpc:"end_reason,omitempty"`
}
