// Package telemetry turns on OpenTelemetry tracing when
// OTEL_EXPORTER_OTLP_ENDPOINT is set: spans go to that OTLP/HTTP endpoint
// in batches, for each GraphQL operation (extension.go), each loader batch
// (loaders), each SQL statement (otelpgx) and each Redis command
// (redisotel). Without the variable nothing is set up and the global
// no-op tracer costs a few nanoseconds per span site.
//
// The exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself
// (endpoint, headers, timeout, compression); OTEL_SERVICE_NAME names the
// service (default "herotasks"); OTEL_TRACES_SAMPLER_RATIO samples a share
// of new traces (default 1; a sampled parent is always followed).
package telemetry

import (
	"context"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is the tracer of the server's own spans (operations, loaders).
func Tracer() trace.Tracer { return otel.Tracer("github.com/herotasks/api") }

// Setup installs a tracer provider exporting over OTLP/HTTP when enabled
// (config.Config.Tracing: an OTLP endpoint is set), and the W3C
// trace-context propagator. The returned function flushes and stops it
// (call it on shutdown); without tracing it does nothing.
func Setup(ctx context.Context, enabled bool, getenv func(string) string, version string) (func(context.Context) error, error) {
	if !enabled {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "herotasks"
	}
	ratio := 1.0
	if s := getenv("OTEL_TRACES_SAMPLER_RATIO"); s != "" {
		if ratio, err = strconv.ParseFloat(s, 64); err != nil || ratio < 0 || ratio > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_RATIO: must be a number from 0 to 1")
		}
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}
