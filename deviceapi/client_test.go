package deviceapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewClientURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8081", true},
		{"https://tap.example:8081/", true},
		{"127.0.0.1:8081", false},
		{"ftp://127.0.0.1:8081", false},
		{"http://", false},
	} {
		if _, err := NewClient(ClientConfig{BaseURL: tc.url}); (err == nil) != tc.ok {
			t.Errorf("NewClient(%q) error = %v, want ok %t", tc.url, err, tc.ok)
		}
	}
}

// TestOpenFile checks the download of a result file: the bearer token is
// sent, and a file the daemon does not have is ErrNoFile.
func TestOpenFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer secret":
			http.Error(w, "wrong token", http.StatusForbidden)
		case r.URL.Path == FileURL("0123456789abcdef", "counters.csv"):
			_, _ = io.WriteString(w, "time,packets\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{BaseURL: srv.URL + "/", Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body, _, err := c.OpenFile(ctx, "0123456789abcdef", "counters.csv")
	if err != nil {
		t.Fatalf("OpenFile() error: %v", err)
	}
	data, _ := io.ReadAll(body)
	body.Close()
	if string(data) != "time,packets\n" {
		t.Errorf("OpenFile() read %q", data)
	}
	if _, _, err := c.OpenFile(ctx, "0123456789abcdef", "packets.pcap"); !errors.Is(err, ErrNoFile) {
		t.Errorf("OpenFile(missing) error = %v, want ErrNoFile", err)
	}
	wrong, _ := NewClient(ClientConfig{BaseURL: srv.URL, Token: "wrong"})
	if _, _, err := wrong.OpenFile(ctx, "0123456789abcdef", "counters.csv"); err == nil || errors.Is(err, ErrNoFile) {
		t.Errorf("OpenFile() with a wrong token error = %v, want an HTTP error", err)
	}
}

// TestForeignAnswers is issue 20 finding 8: a device address that points
// at another service (a redirect, an HTML page, a JSON API) gives
// ErrNotDevice with the HTTP status only: the client follows no redirect
// (the token stays with the daemon's address) and echoes no body.
func TestForeignAnswers(t *testing.T) {
	const secretBody = "internal-admin-page-do-not-leak"
	var followed, tokenSeen int
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed++
		if r.Header.Get("Authorization") != "" {
			tokenSeen++
		}
		_, _ = io.WriteString(w, "<methodResponse><params><param><value>"+secretBody+"</value></param></params></methodResponse>")
	}))
	defer elsewhere.Close()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/RPC2", http.StatusTemporaryRedirect)
		}, ErrNotDevice},
		{"html page", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>"+secretBody+"</html>", http.StatusNotFound)
		}, ErrNotDevice},
		{"200 but not XML-RPC", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"hello": "`+secretBody+`"}`)
		}, ErrNotDevice},
		{"XML-RPC of another shape", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<methodResponse><params><param><value><int>7</int></value></param></params></methodResponse>"+
				"<!-- "+secretBody+" -->")
		}, ErrNotDevice},
		{"forbidden", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, secretBody, http.StatusForbidden)
		}, ErrTokenRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c, err := NewClient(ClientConfig{BaseURL: srv.URL, Token: "secret-token",
				HTTP: &http.Client{}}) // a caller's client that would follow redirects
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Capabilities(context.Background())
			if !errors.Is(err, tc.want) || strings.Contains(err.Error(), secretBody) {
				t.Errorf("Capabilities() error = %v; want %v without the body", err, tc.want)
			}
			// A download answered 200 is a file; any other answer is an
			// error without the body.
			body, _, err := c.OpenFile(context.Background(), "0123456789abcdef", "counters.csv")
			if err == nil {
				body.Close()
			} else if strings.Contains(err.Error(), secretBody) {
				t.Errorf("OpenFile() error = %v; want an error without the body", err)
			}
		})
	}
	if followed != 0 || tokenSeen != 0 {
		t.Errorf("the redirect was followed %d times (%d with the token)", followed, tokenSeen)
	}
}
