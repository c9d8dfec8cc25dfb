// Package config maps the environment to the server's settings: the one
// place where variable names, defaults and validation live.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is everything the server reads from its environment.
type Config struct {
	DatabaseURL     string
	DatabaseReadURL string
	RedisURL        string
	RedisAddrs      []string
	HTTPAddr        string
	Env             string // "development" or "production"
	JWTSecret       []byte // empty in development means "make one up"
	JWTIssuer       string
	JWTAudience     string
	QueryCostLimit  int
	Cost            CostConfig
	EntityCache     bool
	ResponseCache   bool
	LogLevel        slog.Level
	LogFormat       string // "json" or "text"
	Introspection   bool
	Playground      bool
	BodyLimit       int64
	CORSOrigins     []string // CORS_ORIGINS: browser origins allowed to call the API ("*" for any)
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	QueryCacheSize  int
	LoaderWait      time.Duration
	LoaderMaxBatch  int
	DB              DBConfig
	Loaders         bool // off only for benchmarks: one query per row
	// Maintenance of the partitioned history (herotasks maintain, and the
	// serve job every MaintenanceInterval; 0 turns the job off).
	HistoryRetentionMonths int
	PartitionMonthsAhead   int
	MaintenanceInterval    time.Duration
	SlowQuery              time.Duration // statements at least this slow are logged
	Cache                  CacheConfig
	// PersistedQueries is off, apq (default) or only (trusted documents);
	// PersistedQueriesRefresh is how often each instance reads the
	// documents registered at run time.
	PersistedQueries        string
	PersistedQueriesRefresh time.Duration
	// SubscriptionBuffer is how many events one subscriber may fall behind
	// before it is cut off (package pubsub).
	SubscriptionBuffer int
	// Tracing: OpenTelemetry spans are exported (OTEL_EXPORTER_OTLP_ENDPOINT
	// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; package telemetry).
	Tracing bool
}

// DBConfig sizes and bounds the PostgreSQL pools: writes, reads (and the
// replica's, which takes the read settings) and analytics (statistics,
// search, maintenance: few connections, a longer statement timeout).
type DBConfig struct {
	WriteMaxConns             int32         // DB_WRITE_MAX_CONNS
	ReadMaxConns              int32         // DB_READ_MAX_CONNS (each of the primary's read pool and the replica's)
	AnalyticsMaxConns         int32         // DB_ANALYTICS_MAX_CONNS
	MinConns                  int32         // DB_MIN_CONNS: kept open in each pool while idle
	MaxConnLifetime           time.Duration // DB_MAX_CONN_LIFETIME
	MaxConnIdleTime           time.Duration // DB_MAX_CONN_IDLE_TIME
	HealthCheckPeriod         time.Duration // DB_HEALTH_CHECK_PERIOD: pgxpool's idle-connection check
	StatementTimeout          time.Duration // DB_STATEMENT_TIMEOUT: write and read pools
	AnalyticsStatementTimeout time.Duration // DB_ANALYTICS_STATEMENT_TIMEOUT
	LockTimeout               time.Duration // DB_LOCK_TIMEOUT
	IdleInTxTimeout           time.Duration // DB_IDLE_IN_TX_TIMEOUT: idle_in_transaction_session_timeout
	ReplicaCheckPeriod        time.Duration // DB_REPLICA_CHECK_PERIOD: how often a down replica is retried
}

// CostConfig bounds what one operation, and one client over time, may ask
// of the server (package cost).
type CostConfig struct {
	DepthLimit     int    // QUERY_DEPTH_LIMIT: deepest field nesting
	AliasLimit     int    // QUERY_ALIAS_LIMIT: aliased fields per operation
	TokenLimit     int    // QUERY_TOKEN_LIMIT: lexer tokens per document
	DirectiveLimit int    // QUERY_DIRECTIVE_LIMIT: directives per document
	FieldLimit     int    // QUERY_FIELD_LIMIT: fields one operation selects, fragments expanded
	ErrorLimit     int    // QUERY_ERROR_LIMIT: errors listed in one response
	BudgetCapacity int64  // COST_BUDGET_CAPACITY: points per client bucket; 0 turns the budget off
	BudgetRestore  int64  // COST_BUDGET_RESTORE_RATE: points restored per second
	ClientIPHeader string // COST_CLIENT_IP_HEADER: read the client address from this header (trusted proxy only)
}

// CacheConfig tunes the Redis layer.
type CacheConfig struct {
	Timeout           time.Duration
	AutoPipeline      bool // REDIS_AUTOPIPELINE: concurrent reads share pipelines
	EntityTTL         time.Duration
	RelationTTL       time.Duration
	NegativeTTL       time.Duration
	StatsTTL          time.Duration
	SearchTTL         time.Duration
	PersistedQueryTTL time.Duration
	// The whole-response cache (RESPONSE_CACHE): entry lifetime, the
	// operations it may store ("*": every query without an uncacheable
	// field) and how many entries each instance keeps decoded in memory.
	ResponseTTL        time.Duration
	ResponseOperations []string
	ResponseLocal      int
	LeaseTTL           time.Duration
	Prefix             string

	// Stale if error: while PostgreSQL is unreachable, a query whose last
	// answer was invalidated or expired is served that answer, flagged
	// stale (RESPONSE_CACHE_STALE_IF_ERROR), for up to ResponseStaleTTL
	// after it was computed; entries stay in Redis that long.
	ResponseStaleIfError bool
	ResponseStaleTTL     time.Duration
	// ResponseMinHitPercent sends an operation whose lookups hit less
	// often than this around the response cache for a while
	// (RESPONSE_CACHE_MIN_HIT_PERCENT; 0: never; 70 with the entity cache
	// on, 10 with it off).
	ResponseMinHitPercent int
}

// Production reports whether APP_ENV is production.
func (c Config) Production() bool { return c.Env == "production" }

// Load reads the configuration through getenv, reporting every bad variable
// at once.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	entityCache := p.onOff("ENTITY_CACHE", true)
	// A response-cache miss costs a lookup, the recording of every read's
	// tags under their tokens and a store. Behind the entity cache, which
	// answers most reads without SQL and a list or a detail in one or two
	// Redis round trips, a miss costs more than running the operation
	// does, so caching its answers pays only when most lookups hit; with
	// PostgreSQL behind every run, a hit saves far more than a miss costs.
	minHit := 10
	if entityCache {
		minHit = 70
	}
	c := Config{
		DatabaseURL:     p.str("DATABASE_URL", ""),
		DatabaseReadURL: p.str("DATABASE_READ_URL", ""),
		RedisURL:        p.str("REDIS_URL", ""),
		RedisAddrs:      p.list("REDIS_ADDRS"),
		HTTPAddr:        p.str("HTTP_ADDR", ":8080"),
		Env:             p.oneOf("APP_ENV", "development", "development", "production"),
		JWTSecret:       []byte(p.str("JWT_SECRET", "")),
		JWTIssuer:       p.str("JWT_ISSUER", ""),
		JWTAudience:     p.str("JWT_AUDIENCE", ""),
		QueryCostLimit:  p.int("QUERY_COST_LIMIT", 10000, 1, 1<<30),
		EntityCache:     entityCache,
		ResponseCache:   p.onOff("RESPONSE_CACHE", true),
		LogFormat:       p.oneOf("LOG_FORMAT", "text", "json", "text"),
		BodyLimit:       int64(p.int("HTTP_BODY_LIMIT", 1<<20, 1024, 64<<20)),
		CORSOrigins:     p.origins("CORS_ORIGINS"),
		RequestTimeout:  p.duration("REQUEST_TIMEOUT", 30*time.Second),
		ShutdownTimeout: p.duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		QueryCacheSize:  p.int("QUERY_CACHE_SIZE", 1000, 1, 1_000_000),
		LoaderWait:      p.duration("LOADER_WAIT", 5*time.Millisecond),
		LoaderMaxBatch:  p.int("LOADER_MAX_BATCH", 500, 1, 10_000),
		DB: DBConfig{
			WriteMaxConns:             int32(p.int("DB_WRITE_MAX_CONNS", 10, 1, 1000)),
			ReadMaxConns:              int32(p.int("DB_READ_MAX_CONNS", 20, 1, 1000)),
			AnalyticsMaxConns:         int32(p.int("DB_ANALYTICS_MAX_CONNS", 4, 1, 1000)),
			MinConns:                  int32(p.int("DB_MIN_CONNS", 0, 0, 1000)),
			MaxConnLifetime:           p.duration("DB_MAX_CONN_LIFETIME", time.Hour),
			MaxConnIdleTime:           p.duration("DB_MAX_CONN_IDLE_TIME", 5*time.Minute),
			HealthCheckPeriod:         p.duration("DB_HEALTH_CHECK_PERIOD", 15*time.Second),
			StatementTimeout:          p.duration("DB_STATEMENT_TIMEOUT", 30*time.Second),
			AnalyticsStatementTimeout: p.duration("DB_ANALYTICS_STATEMENT_TIMEOUT", 5*time.Minute),
			LockTimeout:               p.duration("DB_LOCK_TIMEOUT", 5*time.Second),
			IdleInTxTimeout:           p.duration("DB_IDLE_IN_TX_TIMEOUT", time.Minute),
			ReplicaCheckPeriod:        p.duration("DB_REPLICA_CHECK_PERIOD", time.Second),
		},
		Loaders:                p.onOff("LOADERS", true),
		HistoryRetentionMonths: p.int("HISTORY_RETENTION_MONTHS", 24, 0, 1200),
		PartitionMonthsAhead:   p.int("PARTITION_MONTHS_AHEAD", 3, 1, 120),
		MaintenanceInterval:    p.duration("MAINTENANCE_INTERVAL", time.Hour),
		SlowQuery:              time.Duration(p.int("SLOW_QUERY_MS", 200, 1, 3_600_000)) * time.Millisecond,
		Cache: CacheConfig{
			Timeout:            p.duration("CACHE_TIMEOUT", 50*time.Millisecond),
			AutoPipeline:       p.onOff("REDIS_AUTOPIPELINE", true),
			EntityTTL:          p.duration("CACHE_ENTITY_TTL", 10*time.Minute),
			RelationTTL:        p.duration("CACHE_RELATION_TTL", 10*time.Minute),
			NegativeTTL:        p.duration("CACHE_NEGATIVE_TTL", 30*time.Second),
			StatsTTL:           p.duration("CACHE_STATS_TTL", 30*time.Second),
			SearchTTL:          p.duration("CACHE_SEARCH_TTL", 30*time.Second),
			PersistedQueryTTL:  p.duration("CACHE_PERSISTED_QUERY_TTL", 24*time.Hour),
			ResponseTTL:        p.duration("RESPONSE_CACHE_TTL", time.Minute),
			ResponseOperations: p.list("RESPONSE_CACHE_OPERATIONS"),
			ResponseLocal:      p.int("RESPONSE_CACHE_LOCAL", 1000, 0, 1_000_000),
			LeaseTTL:           p.duration("CACHE_LEASE_TTL", 2*time.Second),
			Prefix:             p.str("CACHE_PREFIX", "ht:v1"),

			ResponseStaleIfError:  p.onOff("RESPONSE_CACHE_STALE_IF_ERROR", true),
			ResponseStaleTTL:      p.duration("RESPONSE_CACHE_STALE_TTL", 24*time.Hour),
			ResponseMinHitPercent: p.int("RESPONSE_CACHE_MIN_HIT_PERCENT", minHit, 0, 100),
		},
		PersistedQueries:        p.oneOf("PERSISTED_QUERIES", "apq", "off", "apq", "only"),
		PersistedQueriesRefresh: p.duration("PERSISTED_QUERIES_REFRESH", 30*time.Second),
		SubscriptionBuffer:      p.int("SUBSCRIPTION_BUFFER", 64, 1, 100_000),
		Cost: CostConfig{
			DepthLimit:     p.int("QUERY_DEPTH_LIMIT", 10, 1, 1000),
			AliasLimit:     p.int("QUERY_ALIAS_LIMIT", 30, 1, 100_000),
			TokenLimit:     p.int("QUERY_TOKEN_LIMIT", 15_000, 100, 10_000_000),
			DirectiveLimit: p.int("QUERY_DIRECTIVE_LIMIT", 50, 1, 100_000),
			FieldLimit:     p.int("QUERY_FIELD_LIMIT", 500, 10, 100_000),
			ErrorLimit:     p.int("QUERY_ERROR_LIMIT", 20, 2, 10_000),
			BudgetCapacity: int64(p.int("COST_BUDGET_CAPACITY", 50_000, 0, 1<<40)),
			BudgetRestore:  int64(p.int("COST_BUDGET_RESTORE_RATE", 1000, 1, 1<<40)),
			ClientIPHeader: p.str("COST_CLIENT_IP_HEADER", ""),
		},
	}
	switch lvl := strings.ToLower(p.str("LOG_LEVEL", "info")); lvl {
	case "debug", "info", "warn", "error":
		_ = c.LogLevel.UnmarshalText([]byte(lvl))
	default:
		p.fail("LOG_LEVEL", "must be debug, info, warn or error")
	}
	c.Tracing = p.str("OTEL_EXPORTER_OTLP_ENDPOINT", "") != "" || p.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "") != ""
	dev := !c.Production()
	c.Introspection = p.onOff("INTROSPECTION", dev)
	c.Playground = p.onOff("PLAYGROUND", dev)
	if c.Cost.BudgetCapacity > 0 && c.Cost.BudgetCapacity < int64(c.QueryCostLimit) {
		p.fail("COST_BUDGET_CAPACITY", "must be 0 (off) or at least QUERY_COST_LIMIT, or no operation at the limit could ever run")
	}
	if c.Cache.ResponseStaleIfError && c.Cache.ResponseStaleTTL < c.Cache.ResponseTTL {
		p.fail("RESPONSE_CACHE_STALE_TTL", "must be at least RESPONSE_CACHE_TTL (or set RESPONSE_CACHE_STALE_IF_ERROR=off)")
	}
	if c.DatabaseURL == "" {
		p.fail("DATABASE_URL", "is required (make run sets it for a private cluster)")
	}
	if c.Production() {
		if len(c.JWTSecret) < 32 {
			p.fail("JWT_SECRET", "must be at least 32 bytes in production")
		}
		if c.JWTIssuer == "" || c.JWTAudience == "" {
			p.fail("JWT_ISSUER", "JWT_ISSUER and JWT_AUDIENCE are required in production")
		}
	}
	return c, errors.Join(p.errs...)
}

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, msg string) { p.errs = append(p.errs, fmt.Errorf("%s %s", name, msg)) }

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) list(name string) []string {
	var out []string
	for _, s := range strings.Split(p.getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// origins reads a list of browser origins, each scheme://host[:port] with
// nothing after it, or "*" alone.
func (p *parser) origins(name string) []string {
	list := p.list(name)
	for i, o := range list {
		o = strings.TrimSuffix(o, "/")
		list[i] = o
		if o == "*" {
			if len(list) > 1 {
				p.fail(name, `must be "*" alone or a list of origins`)
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			p.fail(name, "must list origins such as https://app.example.com, comma-separated")
			return nil
		}
	}
	return list
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, "must be one of "+strings.Join(allowed, ", "))
	return def
}

func (p *parser) onOff(name string, def bool) bool {
	switch strings.ToLower(p.str(name, "")) {
	case "":
		return def
	case "on", "true", "1", "yes":
		return true
	case "off", "false", "0", "no":
		return false
	}
	p.fail(name, "must be on or off")
	return def
}

func (p *parser) int(name string, def, lo, hi int) int {
	s := p.str(name, "")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	s := p.str(name, "")
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.fail(name, "must be a duration such as 500ms or 30s")
		return def
	}
	return d
}
