package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// keysData is the data of keys.html.
type keysData struct {
	Keys []amapi.KeyInfo
	// Name and Users are the create form as posted (kept on an error).
	Name  string
	Users string
	Error string
}

// requireKeysAdmin refuses the keys and audit pages to non-admins.
func requireKeysAdmin(s *session, what string) error {
	if !s.User.IsAdmin() {
		return fmt.Errorf("%w: %s is for admins", am.ErrAuth, what)
	}
	return nil
}

// listKeys shows the operator-held keys: names, fingerprints, users
// (admins); never a key.
func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderKeys(w, r, s, http.StatusOK, keysData{Users: "*"})
}

// renderKeys renders keys.html with the keys listed.
func (h *Handler) renderKeys(w http.ResponseWriter, r *http.Request, s *session, status int, d keysData) {
	if err := requireKeysAdmin(s, "key administration"); err != nil {
		h.fail(w, r, err)
		return
	}
	keys, err := h.m.ListKeys(r.Context(), s.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Keys = keys
	h.render(w, r, status, "keys.html", "Anonymization keys", "keys", d)
}

// createKey makes an operator-held key; its refusal shows on the form.
func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := requireKeysAdmin(s, "key administration"); err != nil {
		h.fail(w, r, err)
		return
	}
	d := keysData{Name: strings.TrimSpace(r.PostFormValue("name")), Users: strings.TrimSpace(r.PostFormValue("users"))}
	users := strings.FieldsFunc(d.Users, func(c rune) bool { return c == ',' || c == ' ' })
	k, err := h.m.CreateKey(r.Context(), s.User, amapi.KeyRequest{Name: d.Name, Users: users})
	if err != nil {
		if st := httpStatus(err); st == http.StatusBadRequest || st == http.StatusConflict {
			d.Error = message(err)
			h.renderKeys(w, r, s, st, d)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("Key %s made (fingerprint %s): experiments of %s may use it.", k.Name,
		k.Fingerprint, strings.Join(k.Users, ", ")))
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

// deleteKey deletes an operator-held key; while experiments use it, the
// refusal shows on the keys page.
func (h *Handler) deleteKey(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	if _, err := h.m.DeleteKey(r.Context(), s.User, name); err != nil {
		if httpStatus(err) == http.StatusConflict {
			h.renderKeys(w, r, s, http.StatusConflict, keysData{Users: "*", Error: message(err)})
			return
		}
		h.fail(w, r, err)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("Key %s deleted.", name))
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

// usableKeys are the keys the owner of an experiment may use, for the
// configure form: an experimenter's own list, or, for an admin, the keys
// whose users include the owner.
func (h *Handler) usableKeys(r *http.Request, s *session, owner string) ([]amapi.KeyInfo, error) {
	keys, err := h.m.ListKeys(r.Context(), s.User)
	if err != nil || !s.User.IsAdmin() {
		return keys, err
	}
	return slices.DeleteFunc(keys, func(k amapi.KeyInfo) bool {
		return !slices.Contains(k.Users, "*") && !slices.Contains(k.Users, owner)
	}), nil
}

// Bounds of the audit page's limit.
const (
	auditPageDefault = 100
	auditPageMax     = 10000
)

// auditData is the data of audit.html.
type auditData struct {
	Entries []amapi.AuditEntry
	User    string
	Limit   int
	Error   string
}

// showAudit shows the audit log, newest first (admins): every user's or
// one user's, at most limit entries.
func (h *Handler) showAudit(w http.ResponseWriter, r *http.Request, s *session) {
	if err := requireKeysAdmin(s, "the audit log"); err != nil {
		h.fail(w, r, err)
		return
	}
	d := auditData{User: strings.TrimSpace(r.URL.Query().Get("user")), Limit: auditPageDefault}
	status := http.StatusOK
	if v := strings.TrimSpace(r.URL.Query().Get("limit")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditPageMax {
			d.Error = fmt.Sprintf("limit must be a whole number from 1 to %d, not %q", auditPageMax, v)
			status = http.StatusBadRequest
		} else {
			d.Limit = n
		}
	}
	if d.Error == "" {
		entries, err := h.m.GetAuditLog(r.Context(), s.User, amapi.AuditQuery{User: d.User, Limit: d.Limit})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Entries = entries
	}
	h.render(w, r, status, "audit.html", "Audit log", "audit", d)
}
