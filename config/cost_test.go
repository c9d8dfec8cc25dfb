package config_test

import (
	"testing"

	"github.com/herotasks/api/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCostDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x"}))
	require.NoError(t, err)
	assert.Equal(t, config.CostConfig{DepthLimit: 10, AliasLimit: 30, TokenLimit: 15_000, DirectiveLimit: 50, FieldLimit: 500, ErrorLimit: 20,
		BudgetCapacity: 50_000, BudgetRestore: 1000}, c.Cost)
}

func TestCostSettings(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "QUERY_COST_LIMIT": "500",
		"QUERY_DEPTH_LIMIT": "6", "QUERY_ALIAS_LIMIT": "5", "QUERY_TOKEN_LIMIT": "2000", "COST_BUDGET_CAPACITY": "0",
		"COST_BUDGET_RESTORE_RATE": "7", "COST_CLIENT_IP_HEADER": "X-Forwarded-For"}))
	require.NoError(t, err)
	assert.Equal(t, config.CostConfig{DepthLimit: 6, AliasLimit: 5, TokenLimit: 2000, DirectiveLimit: 50, FieldLimit: 500, ErrorLimit: 20, BudgetCapacity: 0,
		BudgetRestore: 7, ClientIPHeader: "X-Forwarded-For"}, c.Cost, "capacity 0 turns the budget off")

	_, err = config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "QUERY_COST_LIMIT": "60000"}))
	require.Error(t, err, "the default capacity is below a raised cost limit")
	assert.Contains(t, err.Error(), "COST_BUDGET_CAPACITY")

	_, err = config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "QUERY_DEPTH_LIMIT": "0",
		"QUERY_TOKEN_LIMIT": "ten", "COST_BUDGET_RESTORE_RATE": "0"}))
	require.Error(t, err)
	for _, name := range []string{"QUERY_DEPTH_LIMIT", "QUERY_TOKEN_LIMIT", "COST_BUDGET_RESTORE_RATE"} {
		assert.Contains(t, err.Error(), name)
	}
}
