package auth

import (
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifiedJWTsExpire: a JWT that verified is answered from memory
// (proved here by changing the key under it, which a real verification
// would refuse), still never past its exp plus the leeway, and a token
// differing from a remembered one is verified for itself.
func TestVerifiedJWTsExpire(t *testing.T) {
	a := New([]byte("0123456789abcdef0123456789abcdef"), "", "")
	clock := time.Now()
	a.now = func() time.Time { return clock }
	tok, err := a.Sign("6f1c2b1e-8a55-4c61-9d3e-1b2a3c4d5e6f", domain.RoleEditor, time.Minute)
	require.NoError(t, err)

	v, err := a.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, domain.Viewer{UserID: "6f1c2b1e-8a55-4c61-9d3e-1b2a3c4d5e6f", Role: domain.RoleEditor}, v)
	a.secret = []byte("another key, which the token was not signed with")
	again, err := a.Verify(tok)
	require.NoError(t, err, "remembered")
	assert.Equal(t, v, again)

	tampered := tok[:len(tok)-2] + "xx"
	_, err = a.Verify(tampered)
	assert.ErrorIs(t, err, ErrInvalidToken)

	clock = clock.Add(time.Minute + leeway - time.Second)
	_, err = a.Verify(tok)
	require.NoError(t, err, "within the leeway after exp")
	clock = clock.Add(2 * time.Second)
	_, err = a.Verify(tok)
	assert.ErrorIs(t, err, ErrInvalidToken, "expired while remembered")
	assert.Zero(t, a.verified.Len(), "forgotten once expired")
	_, err = a.Verify(tok)
	assert.ErrorIs(t, err, ErrInvalidToken)
}
