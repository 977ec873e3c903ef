package xmlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// Limits of responses read by Call: results pages (up to 10000 flows)
// are far larger than requests.
const (
	clientMaxResponseBytes = 64 << 20
	clientMaxValues        = 2 << 20
	clientMaxDepth         = 64
)

// HTTPError is returned by Call when the server answers with an HTTP
// status other than 200 (no XML-RPC response at all).
type HTTPError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body.
	Body string
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Body)
}

// Call calls method on the XML-RPC server at url with positional args and
// decodes the result into reply (a pointer; nil discards the result).
// header is added to the request (for example "Authorization: Bearer …");
// user:password in url becomes Basic authentication. A fault answer is
// returned as *Fault; an HTTP status other than 200 as a wrapped
// *HTTPError. Unknown struct members in the result are ignored, so a newer
// server may add fields. httpClient nil means http.DefaultClient.
func Call(ctx context.Context, httpClient *http.Client, url string, header http.Header,
	method string, args []any, reply any) error {
	var c Caller
	return c.Call(ctx, httpClient, url, header, method, args, reply)
}

// Caller makes calls as Call does, and keeps across them what it learned
// of the Go types it encoded and decoded (their struct members) and its
// buffers: a client that makes many calls (a device client, a load
// generator) does not describe the same types again, nor grow new
// buffers, for each one (issue 15). The zero Caller is ready to use; it
// is safe for concurrent use.
type Caller struct {
	cache typeCache
	// bufs holds request and response buffers for reuse.
	bufs sync.Pool
}

// maxPooledCallBuffer is the largest buffer a Caller keeps for reuse.
const maxPooledCallBuffer = 1 << 20

// buffer returns an empty buffer of the pool.
func (c *Caller) buffer() *bytes.Buffer {
	if b, ok := c.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

// release gives back a buffer nothing refers to any more.
func (c *Caller) release(b *bytes.Buffer) {
	if b.Cap() <= maxPooledCallBuffer {
		c.bufs.Put(b)
	}
}

// Call is the package's Call, with c's type descriptions and buffers.
func (c *Caller) Call(ctx context.Context, httpClient *http.Client, url string, header http.Header,
	method string, args []any, reply any) error {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	if err := checkMethodName(method); err != nil {
		return fmt.Errorf("xmlrpc call %s: %w", method, err)
	}
	reqBuf := c.buffer()
	e := encoder{cache: &c.cache, b: reqBuf.AvailableBuffer()}
	if err := e.appendCall(method, args); err != nil {
		return fmt.Errorf("xmlrpc call %s: unable to encode: %w", method, err)
	}
	reqBuf.Write(e.b) // no copy when the encoding fit the buffer: the same bytes
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(reqBuf.Bytes()))
	if err != nil {
		return fmt.Errorf("xmlrpc call %s: %w", method, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "text/xml")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gims-xmlrpc")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("xmlrpc call %s: %w", method, err)
	}
	// The transport may read the request until the answer's body is
	// closed: the request's buffer is reused after that only.
	defer c.release(reqBuf)
	defer resp.Body.Close()
	respBuf := c.buffer()
	defer c.release(respBuf)
	if resp.ContentLength > 0 && resp.ContentLength <= clientMaxResponseBytes {
		respBuf.Grow(int(resp.ContentLength))
	}
	if _, err := respBuf.ReadFrom(io.LimitReader(resp.Body, clientMaxResponseBytes+1)); err != nil {
		return fmt.Errorf("xmlrpc call %s: unable to read response: %w", method, err)
	}
	body := respBuf.Bytes()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("xmlrpc call %s: %w", method,
			&HTTPError{StatusCode: resp.StatusCode, Body: truncate(strings.TrimSpace(string(body)), 200)})
	}
	if len(body) > clientMaxResponseBytes {
		return fmt.Errorf("xmlrpc call %s: response larger than %d bytes", method, clientMaxResponseBytes)
	}
	// The decoded values copy what they keep of body (strings), so the
	// buffer is reused after.
	if err := decodeResponse(body, reply, &c.cache); err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return f
		}
		return fmt.Errorf("xmlrpc call %s: %w", method, err)
	}
	return nil
}

// DecodeResponse decodes a methodResponse document into reply (a non-nil
// pointer, or nil to discard the result), as Call does: a fault is
// returned as *Fault; unknown struct members are ignored.
func DecodeResponse(body []byte, reply any) error {
	return decodeResponse(body, reply, &typeCache{})
}

func decodeResponse(body []byte, reply any, cache *typeCache) error {
	r, err := parseResponse(body, limits{maxDepth: clientMaxDepth, maxValues: clientMaxValues})
	if err != nil {
		return fmt.Errorf("invalid response: %w", err)
	}
	if r.fault != nil {
		return r.fault
	}
	if reply == nil {
		return nil
	}
	dst := reflect.ValueOf(reply)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return fmt.Errorf("reply must be a non-nil pointer, not %T", reply)
	}
	a := assigner{cache: cache}
	if err := a.assign(&r.param, dst.Elem()); err != nil {
		return fmt.Errorf("unable to decode the result: %w", err)
	}
	return nil
}
