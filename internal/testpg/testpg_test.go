package testpg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrimaryReplicaStopStart(t *testing.T) {
	ctx := context.Background()
	p := Start(t)
	url := p.CreateDatabase(t, "app")
	c, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	_, err = c.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	c.Close(ctx)

	r := p.Replica(t)
	require.NotEqual(t, p.Port(), r.Port())
	rc, err := pgx.Connect(ctx, r.URL("app"))
	require.NoError(t, err)
	var inRecovery bool
	require.NoError(t, rc.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery))
	assert.True(t, inRecovery, "the replica is a standby")
	_, err = rc.Exec(ctx, "INSERT INTO t VALUES (2)")
	assert.Error(t, err, "a standby refuses writes")
	rc.Close(ctx)

	// A commit on the primary reaches the replica.
	c, err = pgx.Connect(ctx, url)
	require.NoError(t, err)
	_, err = c.Exec(ctx, "INSERT INTO t VALUES (3)")
	require.NoError(t, err)
	c.Close(ctx)
	require.Eventually(t, func() bool {
		rc, err := pgx.Connect(ctx, r.URL("app"))
		if err != nil {
			return false
		}
		defer rc.Close(ctx)
		var n int
		return rc.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n) == nil && n == 2
	}, 10*time.Second, 50*time.Millisecond)

	// Stop refuses connections; Start brings the same port back.
	p.Stop(t)
	_, err = pgx.Connect(ctx, url)
	assert.Error(t, err)
	p.Start(t)
	c, err = pgx.Connect(ctx, url)
	require.NoError(t, err)
	c.Close(ctx)
}
