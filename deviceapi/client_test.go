package deviceapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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
