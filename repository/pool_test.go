package repository

import (
	"context"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/testdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolTimeouts: each pool's sessions carry their own statement timeout
// (a slow statement on the read pool is cancelled by PostgreSQL and comes
// back as TIMEOUT; the analytics pool lets it finish), and the lock and
// idle-in-transaction timeouts are set on every pool.
func TestPoolTimeouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.New(t)
	pools, err := OpenPools(ctx, PoolsConfig{PrimaryURL: url,
		Write:     PoolOptions{MaxConns: 2, StatementTimeout: 150 * time.Millisecond, LockTimeout: 70 * time.Millisecond, IdleInTxTimeout: 3 * time.Second},
		Read:      PoolOptions{MaxConns: 2, StatementTimeout: 150 * time.Millisecond},
		Analytics: PoolOptions{MaxConns: 1, StatementTimeout: 5 * time.Second},
	})
	require.NoError(t, err)
	t.Cleanup(pools.Close)

	_, err = pools.Read.Exec(ctx, "SELECT pg_sleep(0.5)")
	require.Error(t, err)
	assert.Equal(t, domain.ETIMEOUT, domain.ErrorCode(translate(err)), "statement_timeout cancels it: %v", err)
	_, err = pools.Analytics.Exec(ctx, "SELECT pg_sleep(0.5)")
	assert.NoError(t, err, "the analytics pool has a longer statement timeout")

	var lock, idle, app string
	require.NoError(t, pools.Write.QueryRow(ctx, "SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout'), current_setting('application_name')").
		Scan(&lock, &idle, &app))
	assert.Equal(t, "70ms", lock)
	assert.Equal(t, "3s", idle)
	assert.Equal(t, "herotasks-write", app)
}
