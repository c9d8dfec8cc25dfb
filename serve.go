package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/exaring/otelpgx"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/dbtrace"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/httpspec"
	"github.com/herotasks/api/limits"
	"github.com/herotasks/api/loaders"
	"github.com/herotasks/api/metrics"
	"github.com/herotasks/api/persisted"
	"github.com/herotasks/api/playground"
	"github.com/herotasks/api/pubsub"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/requestid"
	"github.com/herotasks/api/respcache"
	"github.com/herotasks/api/telemetry"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
)

//go:embed schema.graphqls
var schemaSDL string

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("serve", "serve [--addr :8080]", stdout)
	addr := fs.String("addr", "", "listen address (default $HTTP_ADDR or :8080)")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.HTTPAddr = *addr
	}
	log := newLogger(cfg, stderr)
	stopTracing, err := telemetry.Setup(ctx, cfg.Tracing, getenv, buildVersion())
	if err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(c); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()

	pools, err := repository.OpenPools(ctx, poolsConfig(cfg, func(pool string) pgx.QueryTracer {
		tracers := []pgx.QueryTracer{&dbtrace.Slow{Log: log, Threshold: cfg.SlowQuery, Pool: pool}, metrics.Tracer{}}
		if cfg.Tracing {
			tracers = append(tracers, otelpgx.NewTracer(otelpgx.WithAttributes(attribute.String("db.pool", pool))))
		}
		return multitracer.New(tracers...)
	}))
	if err != nil {
		return err
	}
	defer pools.Close()
	repo := repository.NewWithPools(pools, log)
	var background sync.WaitGroup
	defer background.Wait() // before the pools close
	background.Go(func() { repo.MonitorReplica(ctx, cfg.DB.ReplicaCheckPeriod) })
	if cfg.MaintenanceInterval > 0 {
		background.Go(func() { maintainEvery(ctx, repo, cfg, log) })
	}

	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
	}
	d := newDeps(cfg, repo, rdb)
	if err := d.start(ctx, cfg, log); err != nil {
		return err
	}

	d.authn, d.devToken, err = authenticator(ctx, cfg, repo, log)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newServer(cfg, log, d),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("serving", "addr", ln.Addr().String(), "env", cfg.Env, "playground", cfg.Playground)
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
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

// maintainEvery runs history maintenance now and then every interval; the
// advisory lock inside makes all but one instance skip each round.
func maintainEvery(ctx context.Context, repo *repository.Repo, cfg config.Config, log *slog.Logger) {
	t := time.NewTicker(cfg.MaintenanceInterval)
	defer t.Stop()
	for {
		rep, err := repo.Maintain(ctx, repository.MaintenanceOptions{MonthsAhead: cfg.PartitionMonthsAhead,
			RetentionMonths: cfg.HistoryRetentionMonths}, time.Now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Error("maintenance failed", "err", err)
		case !rep.Skipped:
			log.Info("maintenance", "created", rep.Created, "moved", rep.Moved, "dropped", rep.Dropped,
				"default_partition_rows", rep.DefaultPartition, "unused_indexes", len(rep.UnusedIndexes))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// authenticator uses JWT_SECRET, or in development makes up a secret and
// logs and returns a ready admin token for the seeded admin user.
func authenticator(ctx context.Context, cfg config.Config, repo *repository.Repo, log *slog.Logger) (*auth.Authenticator, string, error) {
	if len(cfg.JWTSecret) > 0 {
		return auth.New(cfg.JWTSecret, cfg.JWTIssuer, cfg.JWTAudience).UseAPITokens(repo), "", nil
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	a := auth.New(secret, cfg.JWTIssuer, cfg.JWTAudience).UseAPITokens(repo)
	admin, err := repo.EnsureUser(ctx, "admin@herotasks.local", "Admin", domain.RoleAdmin)
	if err != nil {
		return nil, "", fmt.Errorf("create development admin: %w", err)
	}
	tok, err := a.Sign(admin.ID, domain.RoleAdmin, 24*time.Hour)
	if err != nil {
		return nil, "", err
	}
	log.Warn("JWT_SECRET is not set: using a random secret for this process; development admin token follows",
		"user_id", admin.ID, "token", tok)
	return a, tok, nil
}

// deps are the server's collaborators, built once.
type deps struct {
	repo    *repository.Repo
	store   graph.Store // repo, or the cache decorating it
	cache   *cache.Cache
	rdb     redis.UniversalClient
	authn   *auth.Authenticator
	metrics *metrics.Metrics
	trusted *persisted.Registry // documents that run by hash, and alone under PERSISTED_QUERIES=only
	events  *pubsub.Broker      // task changes from every instance, for subscriptions
	publish *pubsub.Publisher   // task changes from this instance, after commit
	resp    *respcache.Cache    // whole responses (nil: RESPONSE_CACHE off or no Redis)
	// devToken is the development admin token that authenticator made
	// up, pre-filled in the Playground; empty whenever JWT_SECRET is set.
	devToken string
}

// newRedis connects to Redis Cluster (REDIS_ADDRS) or one Redis (REDIS_URL)
// with tight timeouts and no retries: a slow Redis must cost a request a few
// milliseconds, never more, before it falls back to PostgreSQL.
func newRedis(cfg config.Config) (redis.UniversalClient, error) {
	t := cfg.Cache.Timeout
	switch {
	case len(cfg.RedisAddrs) > 0:
		return traced(cfg, redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.RedisAddrs, DialTimeout: 4 * t, ReadTimeout: t,
			WriteTimeout: t, PoolTimeout: t, MaxRetries: -1, ContextTimeoutEnabled: true}))
	case cfg.RedisURL != "":
		o, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries = 4*t, t, t, t, -1
		o.ContextTimeoutEnabled = true
		return traced(cfg, redis.NewClient(o))
	}
	return nil, nil
}

// traced adds a span per Redis command when tracing is on.
func traced(cfg config.Config, rdb redis.UniversalClient) (redis.UniversalClient, error) {
	if cfg.Tracing {
		if err := redisotel.InstrumentTracing(rdb); err != nil {
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	return rdb, nil
}

// buildVersion is the module version or VCS revision the binary was built
// from, for the traces' service.version.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return bi.Main.Version
}

// newDeps decorates the repository with the cache when Redis is configured
// and ENTITY_CACHE is on.
func newDeps(cfg config.Config, repo *repository.Repo, rdb redis.UniversalClient) deps {
	d := deps{repo: repo, store: repo, rdb: rdb}
	if rdb != nil && cfg.EntityCache {
		cc := cfg.Cache
		d.cache = cache.New(rdb, cache.Options{Prefix: cc.Prefix, EntityTTL: cc.EntityTTL, RelationTTL: cc.RelationTTL,
			NegativeTTL: cc.NegativeTTL, StatsTTL: cc.StatsTTL, SearchTTL: cc.SearchTTL, LeaseTTL: cc.LeaseTTL,
			Jitter: 0.1, Timeout: cc.Timeout})
		d.store = cache.NewStore(repo, d.cache)
	}
	if rdb != nil && cfg.ResponseCache {
		d.resp = respcache.New(rdb, respcache.Options{Prefix: cfg.Cache.Prefix, TTL: cfg.Cache.ResponseTTL,
			Operations: cfg.Cache.ResponseOperations, Local: cfg.Cache.ResponseLocal, Timeout: cfg.Cache.Timeout})
		d.store = respcache.Tagging(d.store, d.resp)
	}
	d.metrics = metrics.New(repo.Pools().Named(), d.cache)
	if d.resp != nil {
		d.metrics.WatchResponseCache(d.resp.Stats)
	}
	d.metrics.WatchReplica(repo.ReplicaStats)
	manifest, err := persisted.Builtin()
	if err != nil {
		panic(err) // the embedded manifest is broken: every test fails here
	}
	d.trusted = persisted.NewRegistry(manifest, repo)
	d.events = pubsub.NewBroker(cfg.DatabaseURL, cfg.SubscriptionBuffer)
	d.publish = pubsub.NewPublisher(repo.Pool())
	return d
}

// start runs what works in the background while the server serves: the
// cache's repair loop, the refresh of registered documents (read once
// before start returns) and the subscription listener (listening before
// start returns, unless PostgreSQL refuses it for 5 s: it keeps trying).
func (d deps) start(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	go d.cache.Start(ctx)
	if d.resp != nil {
		go d.resp.Start(ctx)
	}
	go d.events.Run(ctx, log)
	select {
	case <-d.events.Ready():
	case <-time.After(5 * time.Second):
		log.Warn("subscriptions: not listening yet; events are lost until the listener connects")
	}
	if err := d.trusted.Refresh(ctx); err != nil {
		return fmt.Errorf("read registered documents: %w", err)
	}
	go d.trusted.Run(ctx, cfg.PersistedQueriesRefresh, func(err error) {
		log.Warn("refreshing registered documents failed", "err", err)
	})
	return nil
}

// newServer builds the whole HTTP handler.
func newServer(cfg config.Config, log *slog.Logger, d deps) http.Handler {
	mux := http.NewServeMux()
	gql := newGraphQL(cfg, log, d)
	gql = cost.Middleware(cfg.Cost.ClientIPHeader, gql)
	mux.Handle("/graphql", crossOrigin(cfg.CORSOrigins, withTimeout(cfg.RequestTimeout, limitBody(cfg.BodyLimit, d.authn.Middleware(gql)))))
	mux.HandleFunc("GET /schema.graphql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, schemaSDL)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", readyz(d.repo, d.rdb))
	mux.Handle("GET /metrics", d.metrics.Handler())
	if cfg.Playground {
		opts := playground.Options{Endpoint: "/graphql"}
		if d.devToken != "" && !cfg.Production() {
			opts.Headers = map[string]string{"Authorization": "Bearer " + d.devToken}
		}
		pg := playground.Handler(opts)
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET "+playground.AssetPrefix, pg)
	}
	h := requestid.Middleware(recoverer(log, accessLog(log, mux)))
	if cfg.Tracing {
		h = telemetry.Propagate(h)
	}
	return h
}

// newGraphQL configures gqlgen's handler: transports, a parsed-query cache
// with a token limit, the query-cost analyzer and per-client budget, fresh
// loaders per operation (HTTP and websocket alike), error presenter and
// panic recovery.
func newGraphQL(cfg config.Config, log *slog.Logger, d deps) http.Handler {
	authn := d.authn
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Store: graph.Publishing(d.store, d.publish, log),
		Cache: d.cache, Logger: log, Trusted: d.trusted, Events: d.events}})
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			h := p.Authorization()
			if h == "" {
				return ctx, nil, nil
			}
			v, err := authn.Authenticate(ctx, h)
			if err != nil {
				// graphql-transport-ws: 4403 Forbidden closes the socket.
				ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, 4403), "Forbidden")
				return ctx, nil, errors.New("invalid token")
			}
			ctx = auth.WithViewer(ctx, v)
			if exp, ok := authn.Expiry(h); ok {
				// The connection lives as long as its token: gqlgen closes
				// the socket when this context ends, ending every
				// subscription on it. The client reconnects with a new token.
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				timer := time.AfterFunc(time.Until(exp), cancel)
				context.AfterFunc(ctx, func() { timer.Stop() })
			}
			return ctx, nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(httpspec.Transport{}) // GET and POST as the GraphQL-over-HTTP spec says
	srv.SetQueryCache(lru.New[*ast.QueryDocument](cfg.QueryCacheSize))
	srv.SetParserTokenLimit(cfg.Cost.TokenLimit) // beyond it: GRAPHQL_PARSE_FAILED
	srv.SetDisableSuggestion(cfg.Production())
	srv.SetValidationRulesFn(limits.Rules(limits.Options{Suggestions: !cfg.Production(),
		Introspection: cfg.Introspection, MaxDirectives: cfg.Cost.DirectiveLimit, MaxFields: cfg.Cost.FieldLimit}))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	if cfg.Tracing {
		srv.Use(telemetry.Extension{}) // first: the others' work nests under its span
	}
	srv.Use(limits.ErrorCap{Max: cfg.Cost.ErrorLimit})
	if mode := persisted.Mode(cfg.PersistedQueries); mode != persisted.Off {
		var apq graphql.Cache[string]
		if d.rdb != nil {
			apq = persisted.NewRedisCache(d.rdb, cfg.Cache.Prefix, cfg.Cache.PersistedQueryTTL, cfg.Cache.Timeout)
		}
		srv.Use(persisted.NewExtension(mode, d.trusted, apq, func(ctx context.Context) bool {
			return auth.ViewerFrom(ctx).IsAdmin()
		}))
	}
	srv.Use(httpspec.QueriesOnlyOverGET{}) // before the cost budget is taken
	srv.Use(newCostExtension(cfg, es, d.rdb))
	if d.resp != nil {
		// After the cost extension (a hit is costed and charged), before the
		// loaders are made (their reads are recorded).
		srv.Use(respcache.Extension{Cache: d.resp, Scope: func(ctx context.Context) string {
			v := auth.ViewerFrom(ctx)
			if v.Anonymous() {
				return "anonymous"
			}
			return "user:" + v.UserID + ":" + string(v.Role)
		}})
	}
	srv.Use(d.metrics.Extension())
	opts := loaders.Options{Wait: cfg.LoaderWait, MaxBatch: cfg.LoaderMaxBatch, Observe: d.metrics.ObserveBatch}
	if !cfg.Loaders {
		opts = loaders.Options{Wait: 0, MaxBatch: 1} // benchmarks only: every row its own query
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		subscription := graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription
		// One session per operation: once it writes, its reads see the
		// primary. A subscription reads each event's change as soon as it
		// was committed, sooner than a replica may have replayed it, so
		// its reads always go to the primary.
		ctx = repository.WithSession(ctx)
		if subscription {
			ctx = repository.ReadPrimary(ctx)
		}
		lctx := loaders.With(ctx, d.store, opts)
		if loaders.For(lctx).LookAhead() && graph.Serial(graphql.GetOperationContext(ctx)) {
			// Every level it reads is loaded ahead: no goroutine per
			// field and element (graph/serial.go).
			lctx = graph.WithSerial(lctx)
			d.metrics.ObserveSerial()
		}
		h := next(lctx)
		return func(ctx context.Context) *graphql.Response {
			if subscription {
				// A fresh set for each event: the subscription waits for
				// its next event inside h, and every load for that event
				// happens after it arrived. A set kept for the whole
				// connection would answer from what earlier events read.
				loaders.Reset(lctx)
			}
			resp := h(ctx)
			// gqlgen answers nothing once the context is done; a request
			// that ran out of time gets a TIMEOUT error instead of null.
			if resp == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &graphql.Response{Errors: gqlerror.List{{Message: "the request took too long",
					Extensions: map[string]any{"code": "TIMEOUT", "requestId": requestid.From(ctx)}}}}
			}
			return resp
		}
	})
	srv.SetErrorPresenter(graph.ErrorPresenter(log))
	srv.SetRecoverFunc(graph.RecoverFunc(log))
	return srv
}

// newCostExtension builds the cost analyzer from the schema's directives and
// the per-client budget, in Redis under the cache's key prefix when Redis is
// configured (COST_BUDGET_CAPACITY=0: no budget).
func newCostExtension(cfg config.Config, es graphql.ExecutableSchema, rdb redis.UniversalClient) *cost.Extension {
	analyzer, err := cost.New(es.Schema(), cost.Options{Limit: int64(cfg.QueryCostLimit),
		MaxDepth: cfg.Cost.DepthLimit, MaxAliases: cfg.Cost.AliasLimit})
	if err != nil {
		panic(err) // the schema's @cost or @listSize is wrong: every test fails here
	}
	var budget *cost.Budget
	if cfg.Cost.BudgetCapacity > 0 {
		budget = cost.NewBudget(rdb, cost.BudgetOptions{Capacity: cfg.Cost.BudgetCapacity,
			RestoreRate: cfg.Cost.BudgetRestore, Prefix: cfg.Cache.Prefix + ":budget", Timeout: cfg.Cache.Timeout})
	}
	return cost.NewExtension(analyzer, budget, func(ctx context.Context) string {
		if v := auth.ViewerFrom(ctx); !v.Anonymous() {
			return "user:" + v.UserID
		}
		return ""
	})
}

// readyz follows the primary's reachability (required) and reports the
// replica's and Redis's state (not required: reads fall back to the
// primary, the cache fails open).
func readyz(repo *repository.Repo, rdb redis.UniversalClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := map[string]string{"postgres": "ok", "replica": "not configured", "redis": "not configured"}
		status := http.StatusOK
		if err := repo.Pool().Ping(ctx); err != nil {
			body["postgres"], status = "unreachable", http.StatusServiceUnavailable
		}
		if rs := repo.ReplicaStats(); rs.Configured {
			body["replica"] = "ok"
			if !rs.Up {
				body["replica"] = "unreachable (reads served by the primary)"
			}
		}
		if rdb != nil {
			body["redis"] = "ok"
			if err := rdb.Ping(ctx).Err(); err != nil {
				body["redis"] = "unreachable"
			}
		}
		writeJSON(w, status, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
