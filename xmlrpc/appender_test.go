package xmlrpc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// KeptService answers with replies that encode themselves.
type KeptService struct{ srv *Server }

// KeptReply is a reply kept as the encoding of Words, as a server keeps
// an answer that does not change.
type KeptReply struct {
	srv   *Server
	words []string
}

// AppendXMLRPCValue implements ValueAppender.
func (r *KeptReply) AppendXMLRPCValue(b []byte) ([]byte, error) { return r.srv.AppendValue(b, r.words) }

// WordsArgs is how many words to answer.
type WordsArgs struct{ N int }

// Words answers N words through a KeptReply.
func (s *KeptService) Words(r *http.Request, args *WordsArgs, reply *KeptReply) error {
	reply.srv = s.srv
	reply.words = strings.Fields(strings.Repeat("a<b&c ", args.N))
	return nil
}

// TestValueAppender checks that a reply implementing ValueAppender is
// answered with what it appends, alone and in a multicall, and that the
// response budget applies to it as to any reply.
func TestValueAppender(t *testing.T) {
	s, err := NewServer(with(func(c *Configuration) { c.MaxResponseBytes = 4000 }))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterService(&KeptService{srv: s}, "Kept", nil); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	for _, tc := range []struct {
		pos      string
		n        int
		tooLarge bool
	}{
		{"#0", 0, false},
		{"#1", 3, false},
		{"#2", 50, false},
		{"#3", 1000, true},
	} {
		for range 3 { // the pooled buffers are reused
			var got []string
			err := Call(ctx, nil, ts.URL, nil, "Kept.Words", []any{tc.n}, &got)
			var f *Fault
			if tc.tooLarge {
				if !errors.As(err, &f) || !strings.Contains(f.String, "response too large") {
					t.Fatalf("%s: %v, want the response too large fault", tc.pos, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.pos, err)
			}
			if len(got) != tc.n || (tc.n > 0 && got[tc.n-1] != "a<b&c") {
				t.Fatalf("%s: %d words (%q…), want %d a<b&c", tc.pos, len(got), got[:min(len(got), 2)], tc.n)
			}
		}
	}
	var multi []any
	calls := []any{map[string]any{"methodName": "Kept.Words", "params": []any{2}},
		map[string]any{"methodName": "Kept.Words", "params": []any{1}}}
	if err := Call(ctx, nil, ts.URL, nil, "system.multicall", []any{calls}, &multi); err != nil {
		t.Fatal(err)
	}
	if len(multi) != 2 {
		t.Fatalf("multicall: %v, want 2 answers", multi)
	}
	for i, want := range []int{2, 1} {
		a, ok := multi[i].([]any)
		if !ok || len(a) != 1 {
			t.Fatalf("multicall answer %d: %#v", i, multi[i])
		}
		if words, ok := a[0].([]any); !ok || len(words) != want {
			t.Errorf("multicall answer %d: %#v, want %d words", i, a[0], want)
		}
	}
}
