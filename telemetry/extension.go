package telemetry

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Extension is a gqlgen extension that wraps each operation, from after
// validation to its (last) response, in a span named "<type> <name>"
// (graphql.operation.* attributes), marked as an error when the response
// carries errors. Register it first so the other extensions' work (the
// cost budget's Redis call) nests under it. Field resolvers get no spans of
// their own: a nested page resolves thousands of fields, and the loader and
// SQL spans under the operation already show where time goes.
type Extension struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = Extension{}

func (Extension) ExtensionName() string                   { return "OpenTelemetry" }
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

func (Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	kind, name := "operation", oc.OperationName
	if oc.Operation != nil {
		kind = string(oc.Operation.Operation)
		if name == "" {
			name = oc.Operation.Name
		}
	}
	if name == "" {
		name = "anonymous"
	}
	ctx, span := Tracer().Start(ctx, kind+" "+name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("graphql.operation.type", kind), attribute.String("graphql.operation.name", name)))
	h := next(ctx)
	stream := oc.Operation != nil && oc.Operation.Operation == ast.Subscription
	return func(ctx context.Context) *graphql.Response {
		resp := h(trace.ContextWithSpan(ctx, span))
		if resp != nil && len(resp.Errors) > 0 {
			span.SetStatus(codes.Error, resp.Errors[0].Message)
			if c, ok := resp.Errors[0].Extensions["code"].(string); ok {
				span.SetAttributes(attribute.String("graphql.error.code", c))
			}
		}
		// A query or mutation answers once; a subscription until nil.
		if !stream || resp == nil {
			span.End()
		}
		return resp
	}
}

// Propagate continues the caller's trace: it reads W3C traceparent and
// baggage headers into the request's context, so the operation span is a
// child of the client's span.
func Propagate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
