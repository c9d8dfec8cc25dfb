package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/herotasks/api/config"
	"github.com/herotasks/api/repository"
	"github.com/herotasks/api/telemetry"
)

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

	a, err := New(ctx, cfg, Options{Log: log})
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler,
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
