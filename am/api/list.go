package api

import (
	"errors"
	"slices"
	"sync"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// ListExperiments answers with the XML-RPC encoding of each experiment
// kept while its summary does not change (issue 15): an admin's list
// holds every experiment, hundreds under make load, and encoding all of
// them for every call made most of the call's cost. The answer is the
// same bytes the codec writes for []amapi.ExperimentSummary (checked by
// TestListReplyEncoding); a running experiment's entry, whose elapsed
// time changes from one call to the next, is encoded anew.

// maxEncodedSummaries bounds the encoded entries kept.
const maxEncodedSummaries = 1 << 16

// encodedSummary is an entry's encoding and the summary it encodes.
type encodedSummary struct {
	summary amapi.ExperimentSummary
	enc     []byte
}

// summaryEncodings keeps the encoded entries by experiment id.
type summaryEncodings struct {
	srv *xmlrpc.Server

	mu   sync.RWMutex
	kept map[int64]*encodedSummary
}

// newSummaryEncodings returns an empty cache encoding with srv.
func newSummaryEncodings(srv *xmlrpc.Server) *summaryEncodings {
	return &summaryEncodings{srv: srv, kept: make(map[int64]*encodedSummary)}
}

// sameSummary compares two summaries field by field.
func sameSummary(a, b *amapi.ExperimentSummary) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Owner == b.Owner && a.State == b.State &&
		slices.Equal(a.Devices, b.Devices) && a.Created.Equal(b.Created) &&
		a.Packets == b.Packets && a.ElapsedS == b.ElapsedS
}

// appendSummary appends the encoding of s, kept or made (and kept).
func (c *summaryEncodings) appendSummary(b []byte, s *amapi.ExperimentSummary) ([]byte, error) {
	c.mu.RLock()
	en := c.kept[s.ID]
	c.mu.RUnlock()
	if en != nil && sameSummary(&en.summary, s) {
		return append(b, en.enc...), nil
	}
	start := len(b)
	b, err := c.srv.AppendValue(b, s)
	if err != nil {
		return b, err
	}
	en = &encodedSummary{summary: *s, enc: slices.Clone(b[start:])}
	en.summary.Devices = slices.Clone(s.Devices)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.kept[s.ID]; !ok && len(c.kept) >= maxEncodedSummaries {
		for victim := range c.kept { // any other: it is encoded again when listed
			delete(c.kept, victim)
			break
		}
	}
	c.kept[s.ID] = en
	return b, nil
}

// ListReply is ListExperiments' reply: the summaries, encoded by the
// XML-RPC codec as []amapi.ExperimentSummary is, each from the encoding
// kept for it when it has not changed.
type ListReply struct {
	list  []amapi.ExperimentSummary
	cache *summaryEncodings
}

// AppendXMLRPCValue implements xmlrpc.ValueAppender.
func (r *ListReply) AppendXMLRPCValue(b []byte) ([]byte, error) {
	if r.cache == nil {
		return b, errors.New("a list reply without its encoder")
	}
	b = append(b, "<value><array><data>"...)
	for i := range r.list {
		var err error
		if b, err = r.cache.appendSummary(b, &r.list[i]); err != nil {
			return b, err
		}
	}
	return append(b, "</data></array></value>"...), nil
}
