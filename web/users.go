package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// usersData is the data of users.html.
type usersData struct {
	Users []amapi.UserInfo
	// Name, Role and CertURI are the add form as posted (kept on an
	// error; the password never is).
	Name    string
	Role    string
	CertURI string
	Error   string
	Detail  string
	Roles   []string
}

// listUsers shows the users (admins) with the add form.
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderUsers(w, r, s, http.StatusOK, usersData{Role: am.RoleExperimenter})
}

// renderUsers renders users.html with the users listed.
func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, s *session, status int, d usersData) {
	users, err := h.m.ListUsers(r.Context(), s.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Users, d.Roles = users, []string{am.RoleExperimenter, am.RoleAdmin}
	h.render(w, r, status, "users.html", "Users", "users", d)
}

// addUser adds a user through the manager; its refusal shows on the form.
func (h *Handler) addUser(w http.ResponseWriter, r *http.Request, s *session) {
	d := usersData{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role"),
		CertURI: strings.TrimSpace(r.PostFormValue("cert_uri"))}
	u, err := h.m.AddUser(r.Context(), s.User, amapi.UserInput{Name: d.Name, Password: r.PostFormValue("password"),
		Role: d.Role, CertURI: d.CertURI})
	if err != nil {
		if st := httpStatus(err); st == http.StatusBadRequest || st == http.StatusConflict {
			d.Error, d.Detail = humanize(err)
			h.renderUsers(w, r, s, st, d)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("User %s added (%s).", u.Name, u.Role))
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// setUserRole changes a user's role through the manager (which keeps the
// last admin an admin).
func (h *Handler) setUserRole(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	u, err := h.m.SetUserRole(r.Context(), s.User, name, r.PostFormValue("role"))
	if err != nil {
		if st := httpStatus(err); st == http.StatusBadRequest || st == http.StatusConflict {
			msg, detail := humanize(err)
			h.sessions.setErrorFlash(s, "The role of "+name+" was not changed. "+msg, detail)
			http.Redirect(w, r, "/users", http.StatusSeeOther)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("%s is now an %s.", u.Name, u.Role))
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// deleteUser deletes a user (their experiments stay); an admin cannot
// delete themselves here (they would be logged out mid-way).
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	if name == s.User.Name && s.User.IsAdmin() {
		h.sessions.setErrorFlash(s, "You cannot delete yourself: ask another admin.", "")
		http.Redirect(w, r, "/users", http.StatusSeeOther)
		return
	}
	if _, err := h.m.DeleteUser(r.Context(), s.User, name); err != nil {
		h.fail(w, r, err)
		return
	}
	h.sessions.setFlash(s, fmt.Sprintf("User %s deleted; their experiments stay.", name))
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}
