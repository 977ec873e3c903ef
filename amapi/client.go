package amapi

import (
	"context"
	"encoding/base64"
	"net/http"

	"github.com/gimsproject/gims/xmlrpc"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the XML-RPC endpoint, http://host:port/RPC2, without
	// credentials.
	URL string
	// User and Password are sent with HTTP Basic authentication (none
	// when Password is empty).
	User, Password string
	// HTTPClient makes the requests (nil means http.DefaultClient).
	HTTPClient *http.Client
}

// Client is a typed client of the AM's API: one method per XML-RPC
// method, with the request and reply types of this package. A fault
// comes back as *xmlrpc.Fault (errors.As), its Code one of the Fault
// constants or the codec's own; other failures (network, HTTP status,
// undecodable reply) are wrapped errors naming the method.
type Client struct {
	cfg    ClientConfig
	header http.Header
	// rpc keeps type descriptions and buffers across the calls.
	rpc xmlrpc.Caller
}

// NewClient returns a client of the AM at cfg.URL.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{cfg: cfg}
	if cfg.Password != "" {
		c.header = http.Header{}
		c.header.Set("Authorization", "Basic "+
			base64.StdEncoding.EncodeToString([]byte(cfg.User+":"+cfg.Password)))
	}
	return c
}

// Call calls any method with positional args and decodes the result into
// reply (a pointer; *any receives natural Go values; nil discards it).
// The typed methods use it; it serves the methods this package does not
// type (system.listMethods, system.methodHelp, methods of newer servers).
func (c *Client) Call(ctx context.Context, method string, args []any, reply any) error {
	return c.rpc.Call(ctx, c.cfg.HTTPClient, c.cfg.URL, c.header, method, args, reply)
}

// call is Call with a typed reply.
func call[T any](ctx context.Context, c *Client, method string, args ...any) (T, error) {
	var reply T
	err := c.Call(ctx, method, args, &reply)
	return reply, err
}

// CreateExperiment creates an experiment and returns its id.
func (c *Client) CreateExperiment(ctx context.Context, req CreateRequest) (int64, error) {
	return call[int64](ctx, c, "CreateExperiment", req)
}

// ConfigureExperiment stores an experiment's configuration and returns
// its settings.
func (c *Client) ConfigureExperiment(ctx context.Context, id int64, cfg ExperimentConfig) (Settings, error) {
	return call[Settings](ctx, c, "ConfigureExperiment", id, cfg)
}

// StartExperiment starts or resumes an experiment.
func (c *Client) StartExperiment(ctx context.Context, id int64) (Status, error) {
	return call[Status](ctx, c, "StartExperiment", id)
}

// PauseExperiment pauses a running experiment.
func (c *Client) PauseExperiment(ctx context.Context, id int64) (Status, error) {
	return call[Status](ctx, c, "PauseExperiment", id)
}

// StopExperiment ends a running or paused experiment.
func (c *Client) StopExperiment(ctx context.Context, id int64) (Status, error) {
	return call[Status](ctx, c, "StopExperiment", id)
}

// GetDeviceCapabilities returns what a device offers.
func (c *Client) GetDeviceCapabilities(ctx context.Context, device string) (Capabilities, error) {
	return call[Capabilities](ctx, c, "GetDeviceCapabilities", device)
}

// GetExperimentSettings returns an experiment's settings.
func (c *Client) GetExperimentSettings(ctx context.Context, id int64) (Settings, error) {
	return call[Settings](ctx, c, "GetExperimentSettings", id)
}

// GetExperimentStatus returns an experiment's status.
func (c *Client) GetExperimentStatus(ctx context.Context, id int64) (Status, error) {
	return call[Status](ctx, c, "GetExperimentStatus", id)
}

// GetExperimentCounters returns a page of counters (GetExperimentResults
// of kind "counters"; q.Kind is set here).
func (c *Client) GetExperimentCounters(ctx context.Context, id int64, q ResultsQuery) ([]CounterRow, error) {
	q.Kind = KindCounters
	return call[[]CounterRow](ctx, c, "GetExperimentResults", id, q)
}

// GetExperimentFlows returns a page of flows, largest first
// (GetExperimentResults of kind "flows"; q.Kind is set here).
func (c *Client) GetExperimentFlows(ctx context.Context, id int64, q ResultsQuery) ([]FlowRow, error) {
	q.Kind = KindFlows
	return call[[]FlowRow](ctx, c, "GetExperimentResults", id, q)
}

// GetExperimentFiles returns the result files (GetExperimentResults of
// kind "files"); their URLs are absolute, fetched with the same Basic
// authentication.
func (c *Client) GetExperimentFiles(ctx context.Context, id int64) ([]FileRow, error) {
	return call[[]FileRow](ctx, c, "GetExperimentResults", id, ResultsQuery{Kind: KindFiles})
}

// QueryFlows queries an experiment's flows (SPEC §12): a page of flows
// or of groups of them, and how many there are. A filter that does not
// parse is fault 3 naming the position of the error.
func (c *Client) QueryFlows(ctx context.Context, id int64, q FlowQuery) (FlowQueryResult, error) {
	return call[FlowQueryResult](ctx, c, "QueryFlows", id, q)
}

// ListExperiments lists one's own experiments, or every one for an admin.
func (c *Client) ListExperiments(ctx context.Context) ([]ExperimentSummary, error) {
	return call[[]ExperimentSummary](ctx, c, "ListExperiments")
}

// AddDevice adds a capture device (admin).
func (c *Client) AddDevice(ctx context.Context, in DeviceInput) (DeviceInfo, error) {
	return call[DeviceInfo](ctx, c, "AddDevice", in)
}

// EditDevice changes the given members of a device (admin).
func (c *Client) EditDevice(ctx context.Context, name string, ch DeviceChanges) (DeviceInfo, error) {
	return call[DeviceInfo](ctx, c, "EditDevice", name, ch)
}

// DeleteDevice removes a device and returns the deleted record (admin).
func (c *Client) DeleteDevice(ctx context.Context, name string) (DeviceInfo, error) {
	return call[DeviceInfo](ctx, c, "DeleteDevice", name)
}

// ListDevices lists every device (admin).
func (c *Client) ListDevices(ctx context.Context) ([]DeviceInfo, error) {
	return call[[]DeviceInfo](ctx, c, "ListDevices")
}

// AddUser creates a user (admin).
func (c *Client) AddUser(ctx context.Context, in UserInput) (UserInfo, error) {
	return call[UserInfo](ctx, c, "AddUser", in)
}

// SetUserRole changes a user's role and returns the user (admin).
func (c *Client) SetUserRole(ctx context.Context, name, role string) (UserInfo, error) {
	return call[UserInfo](ctx, c, "SetUserRole", name, role)
}

// DeleteUser removes a user and returns the deleted record (admin).
func (c *Client) DeleteUser(ctx context.Context, name string) (UserInfo, error) {
	return call[UserInfo](ctx, c, "DeleteUser", name)
}

// ListUsers lists the users (admin).
func (c *Client) ListUsers(ctx context.Context) ([]UserInfo, error) {
	return call[[]UserInfo](ctx, c, "ListUsers")
}

// RegisterDevice announces a capture daemon; it stays pending until an
// admin approves it.
func (c *Client) RegisterDevice(ctx context.Context, r Registration) (DeviceInfo, error) {
	return call[DeviceInfo](ctx, c, "RegisterDevice", r)
}

// CreateActivation makes an activation code for RegisterDevice (admin);
// the reply holds the code, which no later call shows again.
func (c *Client) CreateActivation(ctx context.Context, r ActivationRequest) (Activation, error) {
	return call[Activation](ctx, c, "CreateActivation", r)
}

// ListActivations lists the usable activations, without their codes
// (admin).
func (c *Client) ListActivations(ctx context.Context) ([]Activation, error) {
	return call[[]Activation](ctx, c, "ListActivations")
}

// DeleteActivation revokes an activation by its id (admin).
func (c *Client) DeleteActivation(ctx context.Context, id int64) (bool, error) {
	return call[bool](ctx, c, "DeleteActivation", id)
}

// GetAuditLog returns the audit log, newest first (admin).
func (c *Client) GetAuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	return call[[]AuditEntry](ctx, c, "GetAuditLog", q)
}

// DeleteExperiment deletes an experiment that is not running or paused,
// with its results on the AM and on the devices, and returns true.
func (c *Client) DeleteExperiment(ctx context.Context, id int64) (bool, error) {
	return call[bool](ctx, c, "DeleteExperiment", id)
}

// CreateKey makes an operator-held Crypto-PAn key at the AM (admin); the
// reply has its fingerprint, never the key.
func (c *Client) CreateKey(ctx context.Context, r KeyRequest) (KeyInfo, error) {
	return call[KeyInfo](ctx, c, "CreateKey", r)
}

// ListKeys lists the operator-held keys: every one for an admin, the ones
// the caller may use for an experimenter.
func (c *Client) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	return call[[]KeyInfo](ctx, c, "ListKeys")
}

// DeleteKey deletes an operator-held key that no configured, running or
// paused experiment uses, and returns its record (admin).
func (c *Client) DeleteKey(ctx context.Context, name string) (KeyInfo, error) {
	return call[KeyInfo](ctx, c, "DeleteKey", name)
}

// GetScheduleTimeline lists when experiments hold the device interfaces
// (scheduled runs and running experiments) between q.From and q.To.
func (c *Client) GetScheduleTimeline(ctx context.Context, q TimelineQuery) ([]TimelineRun, error) {
	return call[[]TimelineRun](ctx, c, "GetScheduleTimeline", q)
}
