package domain

import "time"

// APIToken is a machine client's credential: it speaks for UserID with that
// user's role. The secret is never stored, only its SHA-256.
type APIToken struct {
	ID          string
	UserID      string
	Name        string
	Prefix      string // the secret's first characters, to tell tokens apart
	CreatedByID *string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
}

// NewAPIToken is what creating a token stores.
type NewAPIToken struct {
	UserID      string
	Name        string
	Hash        []byte
	Prefix      string
	CreatedByID string
	ExpiresAt   *time.Time
}
