package domain

import "time"

// User is a person who creates, owns or works on tasks. The API creates
// users and never changes them, which lets the entity cache keep users in
// process.
type User struct {
	ID        string
	Email     string
	Name      string
	Role      Role
	CreatedAt time.Time
}

// Viewer is who is asking: a user with a role, or anonymous (zero value).
type Viewer struct {
	UserID string
	Role   Role
}

// Anonymous reports whether no one is signed in.
func (v Viewer) Anonymous() bool { return v.UserID == "" }

// CanWrite reports whether the viewer may create and change tasks.
func (v Viewer) CanWrite() bool { return v.Role == RoleEditor || v.Role == RoleAdmin }

// IsAdmin reports whether the viewer sees and changes everything.
func (v Viewer) IsAdmin() bool { return v.Role == RoleAdmin }
