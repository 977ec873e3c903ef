package am

import (
	"context"
	"fmt"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/db"
)

// AddUser creates a user (admin only).
func (m *Manager) AddUser(ctx context.Context, p Principal, in amapi.UserInput) (_ amapi.UserInfo, err error) {
	defer m.audit(ctx, p, "AddUser", in.Name, &err)
	if err := requireAdmin(p, "AddUser"); err != nil {
		return amapi.UserInfo{}, err
	}
	if err := checkUserInput(in); err != nil {
		return amapi.UserInfo{}, fmt.Errorf("add user: %w", err)
	}
	hash, err := m.hashPassword(in.Password)
	if err != nil {
		return amapi.UserInfo{}, err
	}
	u := db.User{Name: in.Name, Role: in.Role, PasswordHash: hash, Created: m.cfg.Now(), CertURI: in.CertURI}
	if err := m.db.CreateUser(ctx, u); err != nil {
		return amapi.UserInfo{}, fmt.Errorf("add user: %w", err)
	}
	m.log.Info("user added", "user", in.Name, "role", in.Role, "by", p.Name)
	return userInfo(u), nil
}

// DeleteUser removes a user (admin only) and returns the deleted record.
// Their experiments stay.
func (m *Manager) DeleteUser(ctx context.Context, p Principal, name string) (_ amapi.UserInfo, err error) {
	defer m.audit(ctx, p, "DeleteUser", name, &err)
	if err := requireAdmin(p, "DeleteUser"); err != nil {
		return amapi.UserInfo{}, err
	}
	u, err := m.db.DeleteUser(ctx, name)
	if err != nil {
		return amapi.UserInfo{}, err
	}
	m.authMu.Lock()
	delete(m.authCache, name)
	m.authMu.Unlock()
	m.log.Info("user deleted", "user", name, "by", p.Name)
	return userInfo(u), nil
}

// SetUserRole changes a user's role (admin only) and returns the
// changed record; the last admin stays an admin (fault 6). The user's
// logins take the new role at their next request.
func (m *Manager) SetUserRole(ctx context.Context, p Principal, name, role string) (_ amapi.UserInfo, err error) {
	defer m.audit(ctx, p, "SetUserRole", name, &err)
	if err := requireAdmin(p, "SetUserRole"); err != nil {
		return amapi.UserInfo{}, err
	}
	if role != RoleAdmin && role != RoleExperimenter {
		return amapi.UserInfo{}, invalidf("role must be %q or %q, not %q", RoleAdmin, RoleExperimenter, role)
	}
	u, err := m.db.SetUserRole(ctx, name, role)
	if err != nil {
		return amapi.UserInfo{}, err
	}
	m.authMu.Lock()
	delete(m.authCache, name)
	m.authMu.Unlock()
	m.log.Info("user role changed", "user", name, "role", role, "by", p.Name)
	return userInfo(u), nil
}

// ListUsers lists the users (admin only).
func (m *Manager) ListUsers(ctx context.Context, p Principal) ([]amapi.UserInfo, error) {
	if err := requireAdmin(p, "ListUsers"); err != nil {
		return nil, err
	}
	users, err := m.db.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]amapi.UserInfo, len(users))
	for i, u := range users {
		out[i] = userInfo(u)
	}
	return out, nil
}

// userInfo is the API view of a user.
func userInfo(u db.User) amapi.UserInfo {
	return amapi.UserInfo{Name: u.Name, Role: u.Role, Created: u.Created, CertURI: u.CertURI}
}
