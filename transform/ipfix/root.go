// Package ipfix exports flow records as IPFIX (RFC 7011) messages over UDP,
// TCP or into RFC 5655 files.
//
// An Exporter encodes *flow.Record values into messages of at most
// Configuration.MaxMessageSize octets, using one template for IPv4 and one for
// IPv6 records, with the RFC 5103 reverse elements (PEN 29305) when
// Configuration.Biflow is set. Messages go to a Transport: NewFileTransport for
// files, Dial for "udp://host:port" and "tcp://host:port" collectors.
//
// Templates are sent at the start of every stream (the first message of a
// file, every new TCP connection) and, on UDP, periodically (RFC 7011
// §8.4). The message header's sequence number is the number of data records
// the exporter put into earlier messages of its observation domain; records
// lost by the transport are counted too, so a collector sees a loss as a gap.
package ipfix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gimsproject/gims/transform/flow"
)

// ErrClosed is returned when using an Exporter or Transport after Close.
var ErrClosed = errors.New("ipfix exporter closed")

// Stats are the exporter's counters since New.
type Stats struct {
	// MessagesSent, RecordsSent and BytesSent count what the transport
	// accepted (template-only messages included in MessagesSent and
	// BytesSent).
	MessagesSent, RecordsSent, BytesSent uint64
	// MessagesLost and RecordsLost count what the transport refused: write
	// errors, or a TCP collector being unreachable.
	MessagesLost, RecordsLost uint64
}

// Exporter buffers flow records into IPFIX messages and writes them to a
// Transport when a message is full, on Flush and on Close. Add, Flush and
// Close must be called from one goroutine at a time (the capture path);
// Stats may be called from any goroutine. The Exporter has no timer of its
// own: call Flush periodically (say every second) so that records do not
// wait long in a partly filled message.
type Exporter struct {
	cfg     Configuration
	t       Transport
	dgram   bool
	session bool // transport sends the templates itself (SessionTransport)

	tplSet []byte // encoded Template Set for cfg.Biflow
	tid4   uint16
	tid6   uint16

	buf        []byte // current message, len MaxMessageSize rounded down to 4
	n          int    // octets used in buf; 0 when no message is open
	setStart   int    // offset of the open data set, -1 when none
	setTID     uint16 // template ID of the open data set
	msgRecords uint32 // data records in the current message
	msgTpl     bool   // current message holds the Template Set

	seq         uint32    // data records put into earlier messages
	tplSent     bool      // templates reached the transport at least once
	tplTime     time.Time // when templates were last sent
	msgsSinceTp int       // messages sent since templates
	closed      bool

	messagesSent, recordsSent, bytesSent atomic.Uint64
	messagesLost, recordsLost            atomic.Uint64
}

// New returns an Exporter writing to t. It does no I/O. cfg is taken as
// given: start from DefaultConfiguration.
func New(cfg Configuration, t Transport) (*Exporter, error) {
	if t == nil {
		return nil, errors.New("ipfix exporter needs a transport")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid ipfix exporter configuration: %w", err)
	}
	cfg.MaxMessageSize = cfg.messageSize(t.Datagram())
	tpls := Templates(cfg.Biflow)
	e := &Exporter{
		cfg:    cfg,
		t:      t,
		dgram:  t.Datagram(),
		tplSet: appendTemplateSet(nil, tpls[0], tpls[1]),
		tid4:   tpls[0].ID,
		tid6:   tpls[1].ID,
		// Sets start and, padded, end at multiples of 4 octets: a buffer
		// of a multiple of 4 leaves room for the last set's padding.
		buf:      make([]byte, cfg.MaxMessageSize&^3),
		setStart: -1,
	}
	if st, ok := t.(SessionTransport); ok {
		e.session = true
		st.SetTemplateSet(e.tplSet)
	}
	return e, nil
}

// Add encodes r into the current message, sending the message first when r
// does not fit. It returns an error only for an invalid record (IP version
// not 4 or 6) or a closed exporter: transport failures are counted in Stats
// (and logged by the transport) without failing the capture path. Add does
// not allocate in steady state.
func (e *Exporter) Add(r *flow.Record) error {
	if e.closed {
		return ErrClosed
	}
	var tid uint16
	switch r.Key.IPVersion {
	case 4:
		tid = e.tid4
	case 6:
		tid = e.tid6
	default:
		return fmt.Errorf("cannot export flow record with IP version %d", r.Key.IPVersion)
	}
	rl := recordLength(r.Key.IPVersion, e.cfg.Biflow)
	if e.n == 0 {
		e.begin(e.templatesDue())
	}
	if e.n+e.cost(tid, rl) > len(e.buf) {
		_ = e.send()
		e.begin(e.templatesDue())
		if e.n+e.cost(tid, rl) > len(e.buf) {
			// Only the templates are in the way: send them alone. If
			// that fails they are retried with the next message.
			_ = e.send()
			e.begin(false)
		}
	}
	if e.setStart < 0 || e.setTID != tid {
		e.closeSet()
		e.setStart = e.n
		e.setTID = tid
		binary.BigEndian.PutUint16(e.buf[e.n:], tid)
		e.n += setHeaderLength
	}
	e.n += encodeRecord(e.buf[e.n:], r, e.cfg.Biflow)
	e.msgRecords++
	return nil
}

// cost returns the octets adding a record of template tid and length rl
// takes in the current message, set header and padding included.
func (e *Exporter) cost(tid uint16, rl int) int {
	if e.setStart >= 0 && e.setTID == tid {
		return rl
	}
	return padding(e.n-e.setStart, e.setStart >= 0) + setHeaderLength + rl
}

// padding returns the octets needed to align a set of length l to 4.
func padding(l int, open bool) int {
	if !open {
		return 0
	}
	return (4 - l%4) % 4
}

// begin opens a new message, with the Template Set if tpl.
func (e *Exporter) begin(tpl bool) {
	e.n = msgHeaderLength
	e.setStart = -1
	e.msgRecords = 0
	e.msgTpl = false
	if tpl {
		e.n += copy(e.buf[e.n:], e.tplSet)
		e.msgTpl = true
	}
}

// templatesDue tells whether the next message must carry the templates.
func (e *Exporter) templatesDue() bool {
	switch {
	case e.session:
		return false
	case !e.tplSent:
		return true
	case !e.dgram:
		return false
	}
	return e.msgsSinceTp >= e.cfg.TemplateRefreshMessages ||
		e.cfg.Now().Sub(e.tplTime) >= e.cfg.TemplateRefresh
}

// closeSet pads the open data set to a multiple of 4 octets (RFC 7011
// §3.3.1; the padding is shorter than any record) and writes its length.
func (e *Exporter) closeSet() {
	if e.setStart < 0 {
		return
	}
	for p := padding(e.n-e.setStart, true); p > 0; p-- {
		e.buf[e.n] = 0
		e.n++
	}
	binary.BigEndian.PutUint16(e.buf[e.setStart+2:], uint16(e.n-e.setStart))
	e.setStart = -1
}

// send finishes the current message and writes it to the transport.
func (e *Exporter) send() error {
	if e.n == 0 {
		return nil
	}
	if e.msgRecords == 0 && !e.msgTpl {
		e.n = 0
		return nil
	}
	e.closeSet()
	now := e.cfg.Now()
	msg := e.buf[:e.n]
	putMessageHeader(msg, uint32(now.Unix()), e.seq, e.cfg.ObservationDomainID)
	records := e.msgRecords
	e.seq += records
	e.n = 0
	e.setStart = -1
	e.msgRecords = 0
	if err := e.t.WriteMessage(msg); err != nil {
		e.messagesLost.Add(1)
		e.recordsLost.Add(uint64(records))
		return fmt.Errorf("unable to send ipfix message (%d records): %w", records, err)
	}
	e.messagesSent.Add(1)
	e.recordsSent.Add(uint64(records))
	e.bytesSent.Add(uint64(len(msg)))
	if e.msgTpl {
		e.tplSent = true
		e.tplTime = now
		e.msgsSinceTp = 0
	} else {
		e.msgsSinceTp++
	}
	return nil
}

// Flush sends the partly filled message, if any. On a transport error the
// message's records are counted as lost, the error is returned and the
// exporter stays usable.
func (e *Exporter) Flush() error {
	if e.closed {
		return ErrClosed
	}
	return e.send()
}

// Close flushes the last message and closes the transport.
func (e *Exporter) Close() error {
	if e.closed {
		return ErrClosed
	}
	err := e.send()
	e.closed = true
	if cerr := e.t.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("unable to close ipfix transport: %w", cerr))
	}
	return err
}

// Stats returns the exporter's counters. It is safe to call concurrently
// with Add.
func (e *Exporter) Stats() Stats {
	return Stats{
		MessagesSent: e.messagesSent.Load(),
		RecordsSent:  e.recordsSent.Load(),
		BytesSent:    e.bytesSent.Load(),
		MessagesLost: e.messagesLost.Load(),
		RecordsLost:  e.recordsLost.Load(),
	}
}
