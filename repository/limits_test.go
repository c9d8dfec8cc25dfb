package repository_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/testdb"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTextLimitsMatchSchema: the CHECK constraints of the migrations say
// what domain's bounds say, so an input the API takes is never refused by
// the database with another message, and no writer goes around them.
func TestTextLimitsMatchSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.New(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	for name, want := range map[string]string{
		"tasks_title_length":          fmt.Sprintf("BETWEEN 1 AND %d", domain.MaxTitle),
		"subtasks_title_length":       fmt.Sprintf("BETWEEN 1 AND %d", domain.MaxTitle),
		"tasks_description_length":    fmt.Sprintf("<= %d", domain.MaxDescription),
		"subtasks_description_length": fmt.Sprintf("<= %d", domain.MaxDescription),
	} {
		var def string
		require.NoError(t, conn.QueryRow(ctx, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", name).Scan(&def), name)
		// PostgreSQL prints BETWEEN as a pair of comparisons.
		if lo, hi, ok := between(want); ok {
			assert.Contains(t, def, ">= "+lo, name)
			assert.Contains(t, def, "<= "+hi, name)
			continue
		}
		assert.Contains(t, def, want, "%s: %s", name, def)
	}
}

func between(s string) (lo, hi string, ok bool) {
	_, err := fmt.Sscanf(s, "BETWEEN %s AND %s", &lo, &hi)
	return lo, hi, err == nil
}
