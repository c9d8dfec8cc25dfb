package repository

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolOptions size a pool and bound its statements. Zero values take the
// defaults named on each field.
type PoolOptions struct {
	Name              string        // application_name suffix: herotasks-<name> (pg_stat_activity)
	MaxConns          int32         // pgxpool's default when 0
	MinConns          int32         // connections kept open while idle
	StatementTimeout  time.Duration // 30s
	LockTimeout       time.Duration // 5s
	IdleInTxTimeout   time.Duration // 60s: idle_in_transaction_session_timeout
	MaxConnLifetime   time.Duration // 1h
	MaxConnIdleTime   time.Duration // 5m
	HealthCheckPeriod time.Duration // 15s
	Tracer            pgx.QueryTracer
	// Lazy skips the connection check at start: a replica that is down when
	// the server starts is used once it answers.
	Lazy bool
	// GenericPlans has PostgreSQL plan each prepared statement once per
	// connection (plan_cache_mode=force_generic_plan), for a pool whose
	// statements take the same plan whatever their arguments.
	GenericPlans bool
}

// Open connects a pool to url and checks that the server answers.
// statement_timeout, lock_timeout and idle_in_transaction_session_timeout
// are set per connection so a runaway query, a long lock wait or a stuck
// transaction fails instead of piling up requests.
func Open(ctx context.Context, url string, o PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.MinConns > 0 && o.MinConns <= cfg.MaxConns {
		cfg.MinConns = o.MinConns
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StatementTimeout, 30*time.Second)
	def(&o.LockTimeout, 5*time.Second)
	def(&o.IdleInTxTimeout, time.Minute)
	def(&o.MaxConnLifetime, time.Hour)
	def(&o.MaxConnIdleTime, 5*time.Minute)
	def(&o.HealthCheckPeriod, 15*time.Second)
	name := "herotasks"
	if o.Name != "" {
		name += "-" + o.Name
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	rp["lock_timeout"] = fmt.Sprint(o.LockTimeout.Milliseconds())
	rp["idle_in_transaction_session_timeout"] = fmt.Sprint(o.IdleInTxTimeout.Milliseconds())
	rp["application_name"] = name
	rp["timezone"] = "UTC" // month partitions and date_trunc agree on one calendar
	if o.GenericPlans {
		rp["plan_cache_mode"] = "force_generic_plan"
	}
	cfg.HealthCheckPeriod = o.HealthCheckPeriod
	cfg.MaxConnIdleTime = o.MaxConnIdleTime
	cfg.MaxConnLifetime = o.MaxConnLifetime
	cfg.MaxConnLifetimeJitter = o.MaxConnLifetime / 10 // connections do not all reconnect at once
	cfg.ConnConfig.Tracer = o.Tracer
	if o.Lazy {
		cfg.MinConns = 0 // the pool dials in the background otherwise, logging nothing useful
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if o.Lazy {
		return pool, nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// PoolsConfig describes the pools of a server: writes, reads and analytics
// on the primary, and reads on a replica when ReplicaURL is set.
type PoolsConfig struct {
	PrimaryURL string
	ReplicaURL string // optional
	Write      PoolOptions
	Read       PoolOptions // the replica pool takes these options too
	Analytics  PoolOptions
	// Tracer, when set, gives each pool its tracer by pool name.
	Tracer func(pool string) pgx.QueryTracer
}

// Pools are a server's connection pools. Without a replica Read serves
// every read; with one, Read serves the reads that must see the primary
// (after a write in the same request, and cache fills) and those made while
// the replica is unreachable.
type Pools struct {
	Write     *pgxpool.Pool
	Read      *pgxpool.Pool
	Replica   *pgxpool.Pool // nil without DATABASE_READ_URL
	Analytics *pgxpool.Pool
}

// OpenPools opens every pool; the primary's must answer, the replica's need
// not (reads go to the primary until it does).
func OpenPools(ctx context.Context, c PoolsConfig) (*Pools, error) {
	p := &Pools{}
	open := func(dst **pgxpool.Pool, name, url string, o PoolOptions) error {
		o.Name = name
		if c.Tracer != nil {
			o.Tracer = c.Tracer(name)
		}
		pool, err := Open(ctx, url, o)
		if err != nil {
			return fmt.Errorf("%s pool: %w", name, err)
		}
		*dst = pool
		return nil
	}
	err := open(&p.Write, "write", c.PrimaryURL, c.Write)
	if err == nil {
		err = open(&p.Read, "read", c.PrimaryURL, c.Read)
	}
	if err == nil {
		err = open(&p.Analytics, "analytics", c.PrimaryURL, c.Analytics)
	}
	if err == nil && c.ReplicaURL != "" {
		o := c.Read
		o.Lazy = true
		err = open(&p.Replica, "replica", c.ReplicaURL, o)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Named returns the open pools by name (metrics, verify).
func (p *Pools) Named() map[string]*pgxpool.Pool {
	m := map[string]*pgxpool.Pool{}
	for name, pool := range map[string]*pgxpool.Pool{"write": p.Write, "read": p.Read, "replica": p.Replica, "analytics": p.Analytics} {
		if pool != nil {
			m[name] = pool
		}
	}
	return m
}

// Close closes every pool (each once, though roles may share one).
func (p *Pools) Close() {
	seen := map[*pgxpool.Pool]bool{}
	for _, pool := range []*pgxpool.Pool{p.Write, p.Read, p.Replica, p.Analytics} {
		if pool != nil && !seen[pool] {
			seen[pool] = true
			pool.Close()
		}
	}
}
