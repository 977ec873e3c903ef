package api

import (
	"bytes"
	"errors"
	"sync"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/xmlrpc"
)

// GetExperimentStatus answers encoded from memory (SPEC §11: thousands of
// calls per second). The manager keeps each experiment's answer until it
// changes and stamps it (am.Manager.ExperimentStatus); the API keeps the
// XML-RPC encoding of the answer under that stamp, for admins and for
// experimenters, and serves the same bytes again with only elapsed_s
// written anew, instead of encoding tens of kilobytes for every call. The
// call goes through the whole path as any other (authentication, rate
// limits, the manager's own checks, metrics, the response budget): only
// the encoding is kept.

// maxEncodedStatuses bounds the encoded answers kept (two per
// experiment asked for lately at most).
const maxEncodedStatuses = 4096

// statusKey is the experiment and the role an encoding is for.
type statusKey struct {
	id    int64
	admin bool
}

// encodedStatus is an answer's encoding around its elapsed_s value.
type encodedStatus struct {
	stamp      uint64
	head, tail []byte
}

// statusEncodings keeps the encoded answers.
type statusEncodings struct {
	srv *xmlrpc.Server

	mu   sync.RWMutex
	kept map[statusKey]*encodedStatus
}

// newStatusEncodings returns an empty cache encoding with srv.
func newStatusEncodings(srv *xmlrpc.Server) *statusEncodings {
	return &statusEncodings{srv: srv, kept: make(map[statusKey]*encodedStatus)}
}

// get returns the encoding kept for k under stamp.
func (c *statusEncodings) get(k statusKey, stamp uint64) *encodedStatus {
	if stamp == 0 {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if en := c.kept[k]; en != nil && en.stamp == stamp {
		return en
	}
	return nil
}

// put keeps en for k.
func (c *statusEncodings) put(k statusKey, en *encodedStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.kept[k]; !ok && len(c.kept) >= maxEncodedStatuses {
		for victim := range c.kept { // any other: it is encoded again when asked for
			delete(c.kept, victim)
			break
		}
	}
	c.kept[k] = en
}

// encode makes the encoding of s kept under stamp: the encodings of s
// with elapsed_s 1 and 2 differ in that value alone, and what surrounds it
// is kept (checked: both are rebuilt from the parts, else nothing is).
func (c *statusEncodings) encode(s amapi.Status, stamp uint64) (*encodedStatus, error) {
	s.ElapsedS = 1
	one, err := c.srv.AppendValue(nil, &s)
	if err != nil {
		return nil, err
	}
	s.ElapsedS = 2
	two, err := c.srv.AppendValue(nil, &s)
	if err != nil {
		return nil, err
	}
	i := 0
	for i < len(one) && i < len(two) && one[i] == two[i] {
		i++
	}
	start := bytes.LastIndex(one[:i], []byte("<value>"))
	n := bytes.Index(one[i:], []byte("</value>"))
	if start < 0 || n < 0 {
		return nil, errors.New("no elapsed_s in the encoded status")
	}
	end := i + n + len("</value>")
	en := &encodedStatus{stamp: stamp, head: one[:start:start], tail: one[end:]}
	for _, check := range []struct {
		elapsed float64
		want    []byte
	}{{1, one}, {2, two}} {
		b, err := en.append(nil, c.srv, check.elapsed)
		if err != nil || !bytes.Equal(b, check.want) {
			return nil, errors.New("the encoded status does not split around elapsed_s")
		}
	}
	return en, nil
}

// append appends the kept answer with elapsed.
func (en *encodedStatus) append(b []byte, srv *xmlrpc.Server, elapsed float64) ([]byte, error) {
	b = append(b, en.head...)
	b, err := srv.AppendValue(b, elapsed)
	return append(b, en.tail...), err
}

// StatusReply is GetExperimentStatus's reply: the status, encoded by
// the XML-RPC codec as amapi.Status is, from the encoding kept for its
// stamp when there is one.
type StatusReply struct {
	status amapi.Status
	key    statusKey
	stamp  uint64
	cache  *statusEncodings
}

// AppendXMLRPCValue implements xmlrpc.ValueAppender.
func (r *StatusReply) AppendXMLRPCValue(b []byte) ([]byte, error) {
	if r.cache == nil {
		return b, errors.New("a status reply without its encoder")
	}
	en := r.cache.get(r.key, r.stamp)
	if en == nil && r.stamp != 0 {
		var err error
		if en, err = r.cache.encode(r.status, r.stamp); err == nil {
			r.cache.put(r.key, en)
		}
	}
	if en == nil {
		return r.cache.srv.AppendValue(b, &r.status)
	}
	return en.append(b, r.cache.srv, r.status.ElapsedS)
}
