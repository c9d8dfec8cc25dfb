// Package app is the composition root: it turns the configuration into a
// running server (PostgreSQL pools, Redis, the store and its decorators,
// the caches, the gqlgen handler, the HTTP routes and middleware) and holds
// the herotasks subcommands. It is the only package that imports
// repository; everything else speaks the domain.Store contract. serve and
// the end-to-end tests build the server through the same New.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/dbtrace"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/metrics"
	"github.com/herotasks/api/persisted"
	"github.com/herotasks/api/pubsub"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/respcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
)

// Options are what New takes besides the configuration.
type Options struct {
	Log *slog.Logger // required
	// Tracer, when set, gives each pool (by name: write, read, analytics,
	// replica) a tracer that sees its statements after the server's own
	// (tests count statements with it).
	Tracer func(pool string) pgx.QueryTracer
}

// App is a built server: its handler and the parts the commands and the
// end-to-end tests reach for.
type App struct {
	Config  config.Config
	Handler http.Handler

	// Repo is the PostgreSQL store, undecorated (users, tools, tests).
	Repo *repository.Repo
	// Store is what the resolvers use: Repo behind the entity cache and
	// the response cache's read tagging.
	Store domain.Store
	// Cache is the Redis entity cache (nil: ENTITY_CACHE off or no Redis).
	Cache *cache.Cache
	// Responses is the whole-response cache (nil: RESPONSE_CACHE off or no Redis).
	Responses *respcache.Cache
	Redis     redis.UniversalClient // nil without REDIS_URL / REDIS_ADDRS
	Auth      *auth.Authenticator
	// DevToken is the development admin token made up when JWT_SECRET is
	// unset (pre-filled in the Playground); empty otherwise.
	DevToken string

	metrics *metrics.Metrics
	trusted *persisted.Registry // documents that run by hash, and alone under PERSISTED_QUERIES=only
	events  *pubsub.Broker      // task changes from every instance, for subscriptions
	pools   *repository.Pools
	// logPool is the subscription broker's: its reads of the history run
	// beside the requests', never in their pools or their statement counts.
	logPool *pgxpool.Pool
	log     *slog.Logger

	stop       context.CancelFunc
	background sync.WaitGroup
}

// New connects to PostgreSQL and Redis as cfg says, builds the server and
// starts its background work (replica monitor, history maintenance, cache
// repair, subscription listener, refresh of registered documents), which
// runs until Close.
func New(ctx context.Context, cfg config.Config, o Options) (_ *App, err error) {
	a := &App{Config: cfg, log: o.Log}
	ctx, a.stop = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.pools, err = repository.OpenPools(ctx, poolsConfig(cfg, a.tracer(o.Tracer))); err != nil {
		return nil, err
	}
	a.Repo = repository.NewWithPools(a.pools, a.log)
	// The log is read by position across every month's partition: planned
	// for its arguments, each read cost more than it ran, and the plan is
	// the same whatever the position.
	if a.logPool, err = repository.Open(ctx, cfg.DatabaseURL, repository.PoolOptions{Name: "subscriptions", MaxConns: 2,
		StatementTimeout: cfg.DB.StatementTimeout, GenericPlans: true}); err != nil {
		return nil, err
	}
	if a.Redis, err = newRedis(cfg); err != nil {
		return nil, err
	}
	a.wire()
	if err := a.start(ctx); err != nil {
		return nil, err
	}
	if a.Auth, a.DevToken, err = authenticator(ctx, cfg, a.Repo, a.log); err != nil {
		return nil, err
	}
	a.Handler = a.routes()
	return a, nil
}

// Close stops the background work, then closes Redis and the pools.
func (a *App) Close() {
	a.stop()
	a.background.Wait()
	if a.Redis != nil {
		a.Redis.Close()
	}
	if a.logPool != nil {
		a.logPool.Close()
	}
	if a.pools != nil {
		a.pools.Close()
	}
}

// tracer is each pool's statement tracer: slow-query logging, metrics,
// spans when tracing is on, and extra.
func (a *App) tracer(extra func(pool string) pgx.QueryTracer) func(pool string) pgx.QueryTracer {
	cfg := a.Config
	return func(pool string) pgx.QueryTracer {
		tracers := []pgx.QueryTracer{&dbtrace.Slow{Log: a.log, Threshold: cfg.SlowQuery, Pool: pool}, metrics.Tracer{}}
		if cfg.Tracing {
			tracers = append(tracers, otelpgx.NewTracer(otelpgx.WithAttributes(attribute.String("db.pool", pool))))
		}
		if extra != nil {
			if t := extra(pool); t != nil {
				tracers = append(tracers, t)
			}
		}
		return multitracer.New(tracers...)
	}
}

// wire decorates the repository: the entity cache when Redis is configured
// and ENTITY_CACHE is on, and the response cache's read tagging when
// RESPONSE_CACHE is on. Subscriptions follow the history the repository
// writes with every change.
func (a *App) wire() {
	cfg, repo := a.Config, a.Repo
	var store domain.Store = repo
	if a.Redis != nil && cfg.EntityCache {
		cc := cfg.Cache
		a.Cache = cache.New(a.Redis, cache.Options{Prefix: cc.Prefix, EntityTTL: cc.EntityTTL, RelationTTL: cc.RelationTTL,
			NegativeTTL: cc.NegativeTTL, StatsTTL: cc.StatsTTL, SearchTTL: cc.SearchTTL, LeaseTTL: cc.LeaseTTL,
			Jitter: 0.1, Timeout: cc.Timeout, AutoPipeline: cc.AutoPipeline})
		store = cache.Wrap(store, a.Cache)
	}
	if a.Redis != nil && cfg.ResponseCache {
		var staleTTL time.Duration
		if cfg.Cache.ResponseStaleIfError {
			staleTTL = cfg.Cache.ResponseStaleTTL
		}
		a.Responses = respcache.New(a.Redis, respcache.Options{Prefix: cfg.Cache.Prefix, TTL: cfg.Cache.ResponseTTL,
			Operations: cfg.Cache.ResponseOperations, Local: cfg.Cache.ResponseLocal, Timeout: cfg.Cache.Timeout,
			AutoPipeline: cfg.Cache.AutoPipeline,
			StaleTTL:     staleTTL, MinHitRatio: float64(cfg.Cache.ResponseMinHitPercent) / 100})
		store = respcache.Tagging(store, a.Responses)
	}
	a.Store = store
	a.metrics = metrics.New(a.pools.Named(), a.Cache)
	if a.Responses != nil {
		a.metrics.WatchResponseCache(a.Responses.Stats)
	}
	a.metrics.WatchReplica(func() metrics.Replica { return metrics.Replica(repo.ReplicaStats()) })
	manifest, err := persisted.Builtin()
	if err != nil {
		panic(err) // the embedded manifest is broken: every test fails here
	}
	a.trusted = persisted.NewRegistry(manifest, repo)
	a.events = pubsub.NewBroker(cfg.DatabaseURL, cfg.SubscriptionBuffer, repository.New(a.logPool))
}

// start runs what works in the background while the server serves: the
// replica monitor, history maintenance, the cache's repair loop, the
// refresh of registered documents (read once before start returns) and the
// subscription listener (listening before start returns, unless PostgreSQL
// refuses it for 5 s: it keeps trying).
func (a *App) start(ctx context.Context) error {
	cfg, log := a.Config, a.log
	a.background.Go(func() { a.Repo.MonitorReplica(ctx, cfg.DB.ReplicaCheckPeriod) })
	if cfg.MaintenanceInterval > 0 {
		a.background.Go(func() { maintainEvery(ctx, a.Repo, cfg, log) })
	}
	a.background.Go(func() { a.Cache.Start(ctx) })
	if a.Responses != nil {
		a.background.Go(func() { a.Responses.Start(ctx) })
	}
	a.background.Go(func() { a.events.Run(ctx, log) })
	select {
	case <-a.events.Ready():
	case <-time.After(5 * time.Second):
		log.Warn("subscriptions: not listening yet; events are lost until the listener connects")
	}
	if err := a.trusted.Refresh(ctx); err != nil {
		return fmt.Errorf("read registered documents: %w", err)
	}
	a.background.Go(func() {
		a.trusted.Run(ctx, cfg.PersistedQueriesRefresh, func(err error) {
			log.Warn("refreshing registered documents failed", "err", err)
		})
	})
	return nil
}

// poolsConfig maps the configuration onto the three pools (and the
// replica's, which takes the read pool's settings).
func poolsConfig(cfg config.Config, tracer func(pool string) pgx.QueryTracer) repository.PoolsConfig {
	db := cfg.DB
	base := repository.PoolOptions{MinConns: db.MinConns, StatementTimeout: db.StatementTimeout, LockTimeout: db.LockTimeout,
		IdleInTxTimeout: db.IdleInTxTimeout, MaxConnLifetime: db.MaxConnLifetime, MaxConnIdleTime: db.MaxConnIdleTime,
		HealthCheckPeriod: db.HealthCheckPeriod}
	w, r, a := base, base, base
	w.MaxConns, r.MaxConns, a.MaxConns = db.WriteMaxConns, db.ReadMaxConns, db.AnalyticsMaxConns
	a.StatementTimeout, a.MinConns = db.AnalyticsStatementTimeout, 0
	return repository.PoolsConfig{PrimaryURL: cfg.DatabaseURL, ReplicaURL: cfg.DatabaseReadURL,
		Write: w, Read: r, Analytics: a, Tracer: tracer}
}

// Pool is the primary's write pool (tools and tests).
func (a *App) Pool() *pgxpool.Pool { return a.Repo.Pool() }

// OpenPool connects one pool to url as the server's pools are connected
// (statement, lock and idle-in-transaction timeouts, application name),
// for tools and tests; lazy skips the connection check.
func OpenPool(ctx context.Context, url string, lazy bool, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	return repository.Open(ctx, url, repository.PoolOptions{Name: "tool", Lazy: lazy, Tracer: tracer})
}

// Reader is the PostgreSQL store over pool, undecorated: what verify
// explains.
func Reader(pool *pgxpool.Pool) domain.Reader { return repository.New(pool) }
