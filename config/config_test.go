package config_test

import (
	"testing"
	"time"

	"github.com/herotasks/api/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x"}))
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.HTTPAddr)
	assert.Equal(t, "development", c.Env)
	assert.Equal(t, 10000, c.QueryCostLimit)
	assert.True(t, c.EntityCache && c.ResponseCache && c.Playground && c.Introspection)
	assert.Equal(t, 30*time.Second, c.RequestTimeout)
	assert.Equal(t, int64(1<<20), c.BodyLimit)
}

func TestProductionRequiresSecrets(t *testing.T) {
	t.Parallel()
	_, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "APP_ENV": "production"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "JWT_SECRET")
	assert.Contains(t, err.Error(), "JWT_ISSUER")

	c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "APP_ENV": "production",
		"JWT_SECRET": "0123456789abcdef0123456789abcdef", "JWT_ISSUER": "i", "JWT_AUDIENCE": "a"}))
	require.NoError(t, err)
	assert.False(t, c.Playground || c.Introspection, "off in production unless enabled")
}

func TestBadValuesReportedTogether(t *testing.T) {
	t.Parallel()
	_, err := config.Load(env(map[string]string{"QUERY_COST_LIMIT": "lots", "ENTITY_CACHE": "maybe", "LOG_LEVEL": "loud", "REQUEST_TIMEOUT": "soon"}))
	require.Error(t, err)
	for _, name := range []string{"DATABASE_URL", "QUERY_COST_LIMIT", "ENTITY_CACHE", "LOG_LEVEL", "REQUEST_TIMEOUT"} {
		assert.Contains(t, err.Error(), name)
	}
}

func TestCORSOrigins(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"":                                  nil,
		"*":                                 {"*"},
		"https://app.example.com/":          {"https://app.example.com"},
		" https://a.example, http://b:8080": {"https://a.example", "http://b:8080"},
	} {
		c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "CORS_ORIGINS": in}))
		require.NoError(t, err, in)
		assert.Equal(t, want, c.CORSOrigins, in)
	}
	for _, bad := range []string{"app.example.com", "https://a.example/path", "*, https://a.example", "ftp://a.example", "https://u:p@a.example"} {
		_, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "CORS_ORIGINS": bad}))
		assert.ErrorContains(t, err, "CORS_ORIGINS", bad)
	}
}

// TestResponseStale: stale answers are on by default for a day; the
// window may not be shorter than an entry's own TTL unless they are off.
func TestResponseStale(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x"}))
	require.NoError(t, err)
	assert.True(t, c.Cache.ResponseStaleIfError)
	assert.Equal(t, 24*time.Hour, c.Cache.ResponseStaleTTL)

	c, err = config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "RESPONSE_CACHE_STALE_IF_ERROR": "off", "RESPONSE_CACHE_STALE_TTL": "1s"}))
	require.NoError(t, err)
	assert.False(t, c.Cache.ResponseStaleIfError)

	for _, bad := range []map[string]string{
		{"RESPONSE_CACHE_STALE_IF_ERROR": "sometimes"},
		{"RESPONSE_CACHE_STALE_TTL": "a day"},
		{"RESPONSE_CACHE_STALE_TTL": "30s"}, // shorter than RESPONSE_CACHE_TTL's 1m
	} {
		bad["DATABASE_URL"] = "postgres://x"
		_, err := config.Load(env(bad))
		assert.ErrorContains(t, err, "RESPONSE_CACHE_STALE", "%v", bad)
	}
}

// TestResponseMinHitDefault: behind the entity cache an operation's answers
// are cached only while 70% of its lookups hit; without it, a tenth; a set
// value wins either way.
func TestResponseMinHitDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{}, 70},
		{map[string]string{"ENTITY_CACHE": "off"}, 10},
		{map[string]string{"RESPONSE_CACHE_MIN_HIT_PERCENT": "0"}, 0},
		{map[string]string{"ENTITY_CACHE": "off", "RESPONSE_CACHE_MIN_HIT_PERCENT": "70"}, 70},
	} {
		c.env["DATABASE_URL"] = "postgres://x"
		cfg, err := config.Load(env(c.env))
		require.NoError(t, err)
		assert.Equal(t, c.want, cfg.Cache.ResponseMinHitPercent, "%v", c.env)
	}
}
