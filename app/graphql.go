package app

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	lru "github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/auth"
	"github.com/herotasks/api/config"
	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/httpspec"
	"github.com/herotasks/api/limits"
	"github.com/herotasks/api/loaders"
	"github.com/herotasks/api/persisted"
	"github.com/herotasks/api/respcache"
	"github.com/herotasks/api/telemetry"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// newGraphQL configures gqlgen's handler: transports, a parsed-query cache
// with a token limit, the query-cost analyzer and per-client budget, fresh
// loaders per operation (HTTP and websocket alike), error presenter and
// panic recovery.
func (a *App) graphQL() http.Handler {
	cfg, log, authn := a.Config, a.log, a.Auth
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Store: a.Store,
		Cache: a.Cache, Logger: log, Trusted: a.trusted, Events: a.events}})
	srv := handler.New(es)
	srv.AddTransport(websocketTransport{transport.Websocket{
		// crossOrigin (middleware.go) has checked the handshake's Origin
		// against CORS_ORIGINS, with the rule it applies to cross-site
		// POSTs; coder/websocket's own check would refuse every origin
		// but the Host, whatever CORS_ORIGINS says.
		Implementation: deadlineWebsocket{
			Coder: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true}},
			// As long as a request may take: a client that cannot take
			// one message in that time has stopped reading.
			WriteTimeout: cfg.RequestTimeout,
		},
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
	}})
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
		if a.Redis != nil {
			apq = persisted.NewRedisCache(a.Redis, cfg.Cache.Prefix, cfg.Cache.PersistedQueryTTL, cfg.Cache.Timeout)
		}
		srv.Use(persisted.NewExtension(mode, a.trusted, apq, func(ctx context.Context) bool {
			return auth.ViewerFrom(ctx).IsAdmin()
		}))
	}
	srv.Use(httpspec.QueriesOnlyOverGET{}) // before the cost budget is taken
	srv.Use(newCostExtension(cfg, es, a.Redis))
	if a.Responses != nil {
		// After the cost extension (a hit is costed and charged), before the
		// loaders are made (their reads are recorded).
		srv.Use(respcache.Extension{Cache: a.Responses, Scope: func(ctx context.Context) string {
			v := auth.ViewerFrom(ctx)
			if v.Anonymous() {
				return "anonymous"
			}
			return "user:" + v.UserID + ":" + string(v.Role)
		}})
	}
	srv.Use(a.metrics.Extension())
	// Cards of serial operations are written straight from their values
	// (graph/direct.go), and those rendered from the entity cache's shared
	// values from memory while those values stay the same (graph/memo.go;
	// with the entity cache off, a nil Cache shares nothing).
	memo := graph.NewNodeMemo(es, a.Cache.Shared)
	srv.AroundFields(memo.Middleware)
	a.metrics.WatchNodeMemo(memo.Stats)
	opts := loaders.Options{Wait: cfg.LoaderWait, MaxBatch: cfg.LoaderMaxBatch, Observe: a.metrics.ObserveBatch}
	if !cfg.Loaders {
		opts = loaders.Options{Wait: 0, MaxBatch: 1} // benchmarks only: every row its own query
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		subscription := graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription
		// One session per operation: once it writes, its reads see the
		// primary. A subscription reads each event's change as soon as it
		// was committed, sooner than a replica may have replayed it, so
		// its reads always go to the primary.
		ctx = domain.WithSession(ctx)
		// The history names who made each change.
		ctx = domain.WithActor(ctx, auth.ViewerFrom(ctx).UserID)
		if subscription {
			ctx = domain.ReadPrimary(ctx)
		}
		lctx := loaders.With(ctx, a.Store, opts)
		if loaders.For(lctx).LookAhead() {
			// Every level it reads is loaded ahead: no goroutine per
			// field and element (graph/serial.go), decided once per shape
			// of operation (graph/shape.go).
			if sctx, ok := graph.Serialize(lctx, graphql.GetOperationContext(ctx)); ok {
				lctx = sctx
				a.metrics.ObserveSerial()
			}
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
				return &graphql.Response{Errors: gqlerror.List{apierror.New(ctx, apierror.Timeout, "the request took too long")}}
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

// websocketTransport is gqlgen's websocket transport, with the cost report
// of a rejected operation in its `error` message: graphql-transport-ws
// sends a refusal as a list of errors with no extensions of the response,
// so each error carries the report (cost.ErrorReportKey).
type websocketTransport struct{ transport.Websocket }

func (t websocketTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.Websocket.Do(w, r, costInErrors{exec})
}

type costInErrors struct{ graphql.GraphExecutor }

func (e costInErrors) DispatchError(ctx context.Context, list gqlerror.List) *graphql.Response {
	resp := e.GraphExecutor.DispatchError(ctx, list)
	// gqlgen sends resp.Errors for a validation-kind refusal (the limits),
	// list for others (RATE_LIMITED); both, so either carries the report.
	cost.ReportInErrors(resp, slices.Concat(resp.Errors, list)...)
	return resp
}

// deadlineWebsocket accepts websockets through Coder on a connection whose
// writes each get WriteTimeout; one that misses it closes the connection,
// which ends gqlgen's read loop and with it every operation on the socket.
// Without it, a client that stops reading (a frozen tab, a stalled network)
// blocks a write for good once the kernel's buffers are full: the broker
// cuts its subscriptions off, but the connection, its goroutines and its
// buffers would stay until the client read again.
type deadlineWebsocket struct {
	Coder        transport.CoderWebsocketImplementation
	WriteTimeout time.Duration
}

func (d deadlineWebsocket) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	return d.Coder.Accept(deadlineHijacker{ResponseWriter: w, timeout: d.WriteTimeout}, r, o)
}

// deadlineHijacker hands coder/websocket a hijacked connection whose
// writes, buffered ones included, go through deadlineConn.
type deadlineHijacker struct {
	http.ResponseWriter
	timeout time.Duration
}

func (h deadlineHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http flushed the 101 response already; whatever else is in its
	// writer goes out before a new one takes over in front of dc.
	if err := brw.Writer.Flush(); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	dc := deadlineConn{Conn: conn, timeout: h.timeout}
	return dc, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(dc, brw.Writer.Size())), nil
}

type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c deadlineConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		// A half-written frame leaves nothing to save: drop what the peer
		// never read (a reset) rather than keep it queued in the kernel.
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Conn.Close()
	}
	return n, err
}
