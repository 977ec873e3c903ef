package deviceapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

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
	// HTTP is the client used (default: a client of its own).
	HTTP *http.Client
}

// Client calls one capture daemon's device API; the aggregate manager holds
// one per device. It is safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	rpcURL string
	header http.Header
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
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	h := http.Header{}
	h.Set("Authorization", "Bearer "+cfg.Token)
	return &Client{cfg: cfg, rpcURL: cfg.BaseURL + RPCPath, header: h}, nil
}

// call runs one XML-RPC call with the client's timeout.
func (c *Client) call(ctx context.Context, method string, args []any, reply any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return xmlrpc.Call(ctx, c.cfg.HTTP, c.rpcURL, c.header, method, args, reply)
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

// ErrNoFile is returned by OpenFile for a file the daemon does not have.
var ErrNoFile = errors.New("no such result file")

// OpenFile starts the download of a job's result file; the caller reads
// and closes the body. Large files take as long as ctx allows: the
// client's Timeout does not apply.
func (c *Client) OpenFile(ctx context.Context, id, name string) (io.ReadCloser, int64, error) {
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
		return nil, 0, fmt.Errorf("file %s/%s: HTTP %s", id, name, resp.Status)
	}
}
