package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/herotasks/api/cost"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/playground"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/requestid"
	"github.com/herotasks/api/telemetry"
	"github.com/redis/go-redis/v9"
)

// routes builds the whole HTTP handler: every endpoint and the middleware
// around them.
func (a *App) routes() http.Handler {
	cfg, log := a.Config, a.log
	mux := http.NewServeMux()
	gql := a.graphQL()
	gql = cost.Middleware(cfg.Cost.ClientIPHeader, gql)
	mux.Handle("/graphql", crossOrigin(cfg.CORSOrigins, withTimeout(cfg.RequestTimeout, limitBody(cfg.BodyLimit, a.Auth.Middleware(gql)))))
	mux.HandleFunc("GET /schema.graphql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, graph.SDL())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", readyz(a.Repo, a.Redis, a.Responses.ServesStale()))
	mux.Handle("GET /metrics", a.metrics.Handler())
	if cfg.Playground {
		opts := playground.Options{Endpoint: "/graphql"}
		if a.DevToken != "" && !cfg.Production() {
			opts.Headers = map[string]string{"Authorization": "Bearer " + a.DevToken}
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

// The modes /readyz reports.
const (
	modeNormal      = "normal"
	modeStale       = "degraded: serving stale cached answers"
	modeUnavailable = "unavailable"
)

// readyz follows the primary's reachability (required) and reports the
// replica's and Redis's state (not required: reads fall back to the
// primary, the cache fails open), and the mode: normal; degraded while
// PostgreSQL is unreachable but Redis answers and stale answers are on
// (stale), since reads of cached answers still succeed; else unavailable.
// Both of the last two are 503: writes and uncached reads fail.
func readyz(repo *repository.Repo, rdb redis.UniversalClient, stale bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := map[string]string{"postgres": "ok", "replica": "not configured", "redis": "not configured", "mode": modeNormal}
		status := http.StatusOK
		if err := repo.Pool().Ping(ctx); err != nil {
			body["postgres"], body["mode"], status = "unreachable", modeUnavailable, http.StatusServiceUnavailable
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
		if status != http.StatusOK && stale && body["redis"] == "ok" {
			body["mode"] = modeStale
		}
		writeJSON(w, status, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
