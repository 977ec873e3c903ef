package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gimsproject/gims/amapi"
)

// resolve makes a result file URL absolute against the AM endpoint (a
// server may answer "/files/7/flows.ipfix") and tells whether it is on the
// AM itself, the only place the credentials are sent to.
func (c *client) resolve(raw string) (*url.URL, bool, error) {
	base, err := url.Parse(c.opts.url)
	if err != nil {
		return nil, false, fmt.Errorf("invalid -url: %w", err)
	}
	ref, err := url.Parse(raw)
	if err != nil {
		return nil, false, fmt.Errorf("invalid file URL %q: %w", redactURL(raw), err)
	}
	u := base.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, false, fmt.Errorf("file URL %s: only http and https are supported", u.Redacted())
	}
	same := u.Scheme == base.Scheme && u.Host == base.Host && u.User == nil
	return u, same, nil
}

// fetch GETs a result file into w with the Basic credentials (when the
// file is on the AM) and returns the number of bytes written. The
// -timeout bounds the wait for the response headers, not the transfer of
// a large file.
func (c *client) fetch(raw string, w io.Writer) (int64, error) {
	u, same, err := c.resolve(raw)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if same {
		for k, vs := range c.opts.authHeader() {
			req.Header[k] = vs
		}
	}
	req.Header.Set("User-Agent", "gimsctl/"+version)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = c.opts.timeout
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		// The *url.Error would repeat the URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		msg := strings.TrimSpace(string(body))
		if msg != "" {
			msg = ": " + cell(msg)
		}
		return 0, fmt.Errorf("GET %s: HTTP %d%s", u.Redacted(), resp.StatusCode, msg)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	return n, nil
}

// saveTo fetches raw into the file name, through a temporary file beside
// it so that a failed transfer leaves nothing half-written.
func (c *client) saveTo(raw, name string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return 0, fmt.Errorf("unable to create %s: %w", name, err)
	}
	n, err := c.fetch(raw, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("unable to write %s: %w", name, cerr)
	}
	if err == nil {
		if err = os.Rename(tmp.Name(), name); err != nil {
			err = fmt.Errorf("unable to write %s: %w", name, err)
		}
	}
	if err != nil {
		os.Remove(tmp.Name())
		return 0, err
	}
	return n, nil
}

// safeName checks that a file name from a reply stays inside the
// download directory.
func safeName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("refusing to write a file named %q", name)
	}
	return nil
}

// downloadFiles fetches every file of a GetExperimentResults kind:"files"
// reply into dir, reporting each on stderr.
func (c *client) downloadFiles(files []amapi.FileRow, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s: %w", dir, err)
	}
	for _, f := range files {
		name, raw := f.Name, f.URL
		if raw == "" {
			return fmt.Errorf("file %q has no url", name)
		}
		if err := safeName(name); err != nil {
			return err
		}
		dst := filepath.Join(dir, name)
		n, err := c.saveTo(raw, dst)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "downloaded %s (%s)\n", dst, humanBytes(n))
	}
	return nil
}

// downloadOne fetches one file to out: "-" is stdout, empty the last
// element of the URL's path in the current directory.
func (c *client) downloadOne(raw, out string, stdout io.Writer) error {
	if out == "-" {
		_, err := c.fetch(raw, stdout)
		return err
	}
	if out == "" {
		u, _, err := c.resolve(raw)
		if err != nil {
			return err
		}
		out = path.Base(u.Path)
		if err := safeName(out); err != nil {
			return fmt.Errorf("%w: give -o FILE", err)
		}
	}
	n, err := c.saveTo(raw, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "downloaded %s (%s)\n", out, humanBytes(n))
	return nil
}
