package am

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// auditMessageMax bounds the fault message and the target kept in an
// audit entry (bytes): a refused call with a huge argument must not make
// a huge entry.
const auditMessageMax = 200

// audit records a call that changes something in the audit log (SPEC §9):
// the caller, the address it called from, the method, its target and how
// it ended: "ok", or the fault code and the fault's message (which never
// holds a secret, see FaultOf). It is deferred by each such method with a
// pointer to its error result, so that refused and failed calls are
// recorded too. A failure to record is logged, not returned: the call has
// already happened.
func (m *Manager) audit(ctx context.Context, p Principal, method, target string, errp *error) {
	result := "ok"
	if errp != nil && *errp != nil {
		f := FaultOf(*errp)
		result = fmt.Sprintf("fault %d: %s", f.Code, clip(f.String))
	}
	e := db.AuditEntry{At: m.cfg.Now(), User: clip(p.Name), Remote: p.Remote, Method: method, Target: clip(target),
		Result: result}
	if e.User == "" {
		e.User = "-"
	}
	// The caller may have gone; the record must not go with it.
	if err := m.db.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		m.log.Error("audit log", "method", method, "target", target, "error", err)
	}
}

// auditID is the target of the methods that take an experiment or
// activation id.
func auditID(id int64) string { return strconv.FormatInt(id, 10) }

// Audit limits of GetAuditLog.
const (
	auditDefaultLimit = 100
	auditMaxLimit     = 10000
)

// GetAuditLog returns the audit log, newest first (admin only): the
// entries of q.User (every user's when empty) since q.Since, at most
// q.Limit (default 100, at most 10000).
func (m *Manager) GetAuditLog(ctx context.Context, p Principal, q amapi.AuditQuery) ([]amapi.AuditEntry, error) {
	if err := requireAdmin(p, "GetAuditLog"); err != nil {
		return nil, err
	}
	switch {
	case q.Limit == 0:
		q.Limit = auditDefaultLimit
	case q.Limit < 0 || q.Limit > auditMaxLimit:
		return nil, invalidf("limit %d: must be from 1 to %d", q.Limit, auditMaxLimit)
	}
	entries, err := m.db.ListAudit(ctx, db.AuditQuery{User: q.User, Since: q.Since, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]amapi.AuditEntry, len(entries))
	for i, e := range entries {
		out[i] = amapi.AuditEntry{At: e.At.UTC().Truncate(time.Second), User: e.User, Remote: e.Remote,
			Method: e.Method, Target: e.Target, Result: e.Result}
	}
	return out, nil
}

// clip cuts s to auditMessageMax bytes at a character boundary, marking
// the cut with "…".
func clip(s string) string {
	if len(s) <= auditMessageMax {
		return s
	}
	cut := auditMessageMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "") + "…"
}
