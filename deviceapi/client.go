package deviceapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gimsproject/gims/internal/servertiming"
	"github.com/gimsproject/gims/xmlrpc"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the daemon's address, "http://host:port" (RPCPath and
	// FilesPath are added to it).
	BaseURL string
	// Token is the bearer token the daemon expects. Never logged.
	Token string
	// Timeout bounds every call (default 10 s); a context deadline that
	// comes sooner wins.
	Timeout time.Duration
	// HTTP is the client used (default: a client of its own). The Client
	// works on a copy that never follows redirects, whatever HTTP's
	// CheckRedirect: the bearer token goes to the daemon's address only.
	HTTP *http.Client
}

// ErrNotDevice is returned for an answer that is not the device API's: a
// redirect, another HTTP status than 200, or a body that is not an
// XML-RPC response of the expected shape. The error never holds the
// body: a device address pointing at another service must not make the
// AM read that service for its callers (issue 20).
var ErrNotDevice = errors.New("not a GIMS capture daemon")

// ErrTokenRefused is returned when the daemon answers HTTP 401 or 403:
// the bearer token is not the one it expects.
var ErrTokenRefused = errors.New("the bearer token was refused")

// Client calls one capture daemon's device API; the aggregate manager holds
// one per device. It is safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	rpcURL string
	header http.Header
	// rpc keeps type descriptions and buffers across the calls.
	rpc xmlrpc.Caller
}

// NewClient returns a client of the daemon at cfg.BaseURL.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("device URL %q: want http://host:port", cfg.BaseURL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	hc := &http.Client{}
	if cfg.HTTP != nil {
		cp := *cfg.HTTP
		hc = &cp
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.HTTP = hc
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	h := http.Header{}
	h.Set("Authorization", "Bearer "+cfg.Token)
	return &Client{cfg: cfg, rpcURL: cfg.BaseURL + RPCPath, header: h}, nil
}

// call runs one XML-RPC call with the client's timeout. Faults and
// transport errors are returned as they are; any other failure becomes
// ErrNotDevice with the HTTP status at most.
//
// The call is a device span of the request timer ctx may carry
// (servertiming): the AM reports its device time per API request.
func (c *Client) call(ctx context.Context, method string, args []any, reply any) error {
	defer servertiming.Begin(ctx)()
	ctx, endPool := poolTrace(ctx)
	defer endPool()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	err := c.rpc.Call(ctx, c.cfg.HTTP, c.rpcURL, c.header, method, args, reply)
	if err == nil {
		return nil
	}
	if _, ok := xmlrpc.AsFault(err); ok {
		return err
	}
	var he *xmlrpc.HTTPError
	if errors.As(err, &he) {
		if he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden {
			return fmt.Errorf("%s: %w (HTTP %d)", method, ErrTokenRefused, he.StatusCode)
		}
		return fmt.Errorf("%s: %w (HTTP %d)", method, ErrNotDevice, he.StatusCode)
	}
	var ue *url.Error
	if errors.As(err, &ue) || ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%s: %w (not an answer of the device API)", method, ErrNotDevice)
}

// poolTrace returns ctx with an HTTP trace that opens a pool span of the
// request timer ctx carries (servertiming) while the call waits for a
// connection to the device (ctx itself without a timer), and what closes
// a span still open (a call that failed before it got a connection).
func poolTrace(ctx context.Context) (context.Context, func()) {
	t := servertiming.From(ctx)
	if t == nil {
		return ctx, func() {}
	}
	var (
		mu  sync.Mutex
		end func()
	)
	closeSpan := func() {
		mu.Lock()
		defer mu.Unlock()
		if end != nil {
			end()
			end = nil
		}
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) {
			mu.Lock()
			defer mu.Unlock()
			if end == nil {
				end = t.BeginKind(servertiming.KindPool)
			}
		},
		GotConn: func(httptrace.GotConnInfo) { closeSpan() },
	}), closeSpan
}

// Capabilities fetches the device's capabilities.
func (c *Client) Capabilities(ctx context.Context) (Capabilities, error) {
	var caps Capabilities
	err := c.call(ctx, "Capabilities", nil, &caps)
	return caps, err
}

// StartJob starts a job and returns its id.
func (c *Client) StartJob(ctx context.Context, spec JobSpec) (string, error) {
	var id string
	err := c.call(ctx, "StartJob", []any{spec}, &id)
	return id, err
}

// PauseJob pauses a running job.
func (c *Client) PauseJob(ctx context.Context, id string) error {
	return c.call(ctx, "PauseJob", []any{id}, nil)
}

// ResumeJob resumes a paused job.
func (c *Client) ResumeJob(ctx context.Context, id string) error {
	return c.call(ctx, "ResumeJob", []any{id}, nil)
}

// StopJob ends a job.
func (c *Client) StopJob(ctx context.Context, id string) error {
	return c.call(ctx, "StopJob", []any{id}, nil)
}

// DeleteJob removes a done job and its files from the device.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	return c.call(ctx, "DeleteJob", []any{id}, nil)
}

// JobStatus returns a job's status.
func (c *Client) JobStatus(ctx context.Context, id string) (JobStatus, error) {
	var st JobStatus
	err := c.call(ctx, "JobStatus", []any{id}, &st)
	return st, err
}

// Counters returns a page of a job's interval counters.
func (c *Client) Counters(ctx context.Context, id string, offset, limit int) ([]CounterEntry, error) {
	var rows []CounterEntry
	err := c.call(ctx, "JobResults", []any{id, ResultsQuery{Kind: "counters", Offset: offset, Limit: limit}}, &rows)
	return rows, err
}

// Flows returns a page of a job's flows, largest first.
func (c *Client) Flows(ctx context.Context, id string, offset, limit int) ([]FlowEntry, error) {
	var rows []FlowEntry
	err := c.call(ctx, "JobResults", []any{id, ResultsQuery{Kind: "flows", Offset: offset, Limit: limit}}, &rows)
	return rows, err
}

// Files lists a job's result files; their URL is a path on the daemon.
func (c *Client) Files(ctx context.Context, id string) ([]FileEntry, error) {
	var rows []FileEntry
	err := c.call(ctx, "JobResults", []any{id, ResultsQuery{Kind: "files"}}, &rows)
	return rows, err
}

// ListJobs lists the daemon's jobs.
func (c *Client) ListJobs(ctx context.Context) ([]JobSummary, error) {
	var rows []JobSummary
	err := c.call(ctx, "ListJobs", nil, &rows)
	return rows, err
}

// OpenFileFrom starts the download of a job's result file from byte
// offset from on (an HTTP Range request), for a copy that only needs what
// the file grew by. partial tells whether the body starts at from (the
// device honoured the range); otherwise it is the whole file. A from at
// or past the file's end gives an empty partial body.
func (c *Client) OpenFileFrom(ctx context.Context, id, name string, from int64) (body io.ReadCloser, partial bool, err error) {
	defer servertiming.Begin(ctx)() // until the answer's header
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+FileURL(id, name), nil)
	if err != nil {
		return nil, false, fmt.Errorf("file %s/%s: %w", id, name, err)
	}
	req.Header = c.header.Clone()
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("file %s/%s: %w", id, name, err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		var start int64 = -1
		fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start)
		if start != from {
			resp.Body.Close()
			return nil, false, fmt.Errorf("file %s/%s: %w (Content-Range %q for bytes %d-)", id, name, ErrNotDevice,
				resp.Header.Get("Content-Range"), from)
		}
		return resp.Body, true, nil
	case http.StatusOK:
		return resp.Body, false, nil
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		return io.NopCloser(strings.NewReader("")), true, nil
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, false, fmt.Errorf("file %s/%s: %w", id, name, ErrNoFile)
	default:
		resp.Body.Close()
		return nil, false, fmt.Errorf("file %s/%s: %w (HTTP %d)", id, name, ErrNotDevice, resp.StatusCode)
	}
}

// ErrNoFile is returned by OpenFile for a file the daemon does not have.
var ErrNoFile = errors.New("no such result file")

// OpenFile starts the download of a job's result file; the caller reads
// and closes the body. Large files take as long as ctx allows: the
// client's Timeout does not apply.
func (c *Client) OpenFile(ctx context.Context, id, name string) (io.ReadCloser, int64, error) {
	defer servertiming.Begin(ctx)() // until the answer's header
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+FileURL(id, name), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("file %s/%s: %w", id, name, err)
	}
	req.Header = c.header.Clone()
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("file %s/%s: %w", id, name, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, resp.ContentLength, nil
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("file %s/%s: %w", id, name, ErrNoFile)
	default:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("file %s/%s: %w (HTTP %d)", id, name, ErrNotDevice, resp.StatusCode)
	}
}
