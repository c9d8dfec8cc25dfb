package cost

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/herotasks/api/apierror"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DryRunHeader asks for the cost report of an operation without running it:
// `X-Cost-Dry-Run: 1`.
const DryRunHeader = "X-Cost-Dry-Run"

// Report is extensions.cost of a response.
type Report struct {
	RequestedQueryCost int64     `json:"requestedQueryCost"`
	ActualQueryCost    *int64    `json:"actualQueryCost"` // null when the operation did not run
	MaximumQueryCost   int64     `json:"maximumQueryCost"`
	ThrottleStatus     *Throttle `json:"throttleStatus,omitempty"` // absent without a budget
	HeaviestPaths      []Path    `json:"heaviestPaths,omitempty"`  // on a rejection
}

// Extension is the gqlgen handler extension in front of the executor. After
// parsing and validation it costs the operation with its coerced variables
// and rejects it, with every violation at once, when it breaks a limit
// (gqlgen then answers as for a validation error, running no resolver);
// otherwise it takes the cost from the client's budget (RATE_LIMITED when
// spent). After execution it costs the returned data, settles the
// difference with the budget and reports both in extensions.cost.
type Extension struct {
	analyzer *Analyzer
	budget   *Budget
	subject  func(ctx context.Context) string
}

var (
	_ graphql.HandlerExtension        = (*Extension)(nil)
	_ graphql.OperationContextMutator = (*Extension)(nil)
	_ graphql.OperationInterceptor    = (*Extension)(nil)
	_ graphql.ResponseInterceptor     = (*Extension)(nil)
)

// NewExtension returns the extension. budget may be nil (no per-client
// budget). subject names the signed-in caller whose budget a request
// draws on ("" for anonymous callers, who are budgeted by their address;
// see Middleware).
func NewExtension(a *Analyzer, budget *Budget, subject func(ctx context.Context) string) *Extension {
	registerErrorKinds()
	return &Extension{analyzer: a, budget: budget, subject: subject}
}

// registerOnce guards gqlgen's process-wide table of error kinds, which
// decides the HTTP status of a rejection: once, before any handler built
// with an Extension serves, so no request reads the table while it changes.
var registerOnce sync.Once

func registerErrorKinds() {
	registerOnce.Do(func() {
		for _, code := range []string{apierror.CostLimitExceeded, apierror.DepthLimitExceeded, apierror.AliasLimitExceeded, apierror.SlicingArgumentRequired, apierror.SlicingArgumentOutOfRange} {
			errcode.RegisterErrorType(code, errcode.KindProtocol) // 400 / 422, as validation errors
		}
	})
}

// ExtensionName implements graphql.HandlerExtension.
func (e *Extension) ExtensionName() string { return "QueryCost" }

// Validate implements graphql.HandlerExtension.
func (e *Extension) Validate(graphql.ExecutableSchema) error { return nil }

// statsKey is where an operation's report lives in its OperationContext,
// from analysis to response.
const statsKey = "cost"

type report struct {
	res      *Result
	subject  string
	throttle Throttle
	taken    bool          // points were taken: settle after execution
	dryRun   bool          // report only, run nothing
	errs     gqlerror.List // the rejection, every violation
	settled  bool
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (e *Extension) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Doc == nil || rc.Operation == nil {
		return nil
	}
	r := &report{res: e.analyzer.Analyze(rc.Doc, rc.Operation, rc.Variables), subject: e.subjectOf(ctx)}
	rc.Stats.SetExtension(statsKey, r)
	r.dryRun = rc.Headers.Get(DryRunHeader) == "1" || rc.Headers.Get(DryRunHeader) == "true"
	if len(r.res.Errors) > 0 || r.dryRun {
		r.throttle = e.budget.Take(ctx, r.subject, 0)
		if len(r.res.Errors) > 0 {
			r.errs = r.res.Errors
			return r.errs[0] // the rest are added to the response by InterceptResponse
		}
		return nil
	}
	r.throttle = e.budget.Take(ctx, r.subject, r.res.Cost)
	if !r.throttle.Allowed {
		secs := int64((r.throttle.RetryAfter + time.Second - 1) / time.Second)
		secs = max(secs, 1)
		if st := requestFrom(ctx); st != nil {
			st.retryAfter.Store(secs)
		}
		err := &gqlerror.Error{
			Message: fmt.Sprintf("the cost budget is spent: this operation needs %d points, %d are available and %d come back every second; retry in %d s",
				r.res.Cost, max(r.throttle.CurrentlyAvailable, 0), r.throttle.RestoreRate, secs),
			Extensions: map[string]any{"code": apierror.RateLimited, "retryAfter": secs},
		}
		r.errs = gqlerror.List{err}
		return err
	}
	r.taken = e.budget != nil
	return nil
}

// InterceptOperation implements graphql.OperationInterceptor: a dry run
// answers with the report and runs nothing.
func (e *Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if r := reportOf(ctx); r != nil && r.dryRun {
		return graphql.OneShot(&graphql.Response{Extensions: map[string]any{statsKey: e.public(r, nil)}})
	}
	return next(ctx)
}

// InterceptResponse implements graphql.ResponseInterceptor: it completes a
// rejection with its other violations, and reports the cost of every
// response, settling the budget once the actual cost is known.
func (e *Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	r := reportOf(ctx)
	if r == nil {
		return next(ctx)
	}
	if len(r.errs) > 0 {
		for _, err := range r.errs[1:] {
			graphql.AddError(ctx, err)
		}
		return withReport(next(ctx), e.public(r, nil))
	}
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	rc := graphql.GetOperationContext(ctx)
	actual := e.analyzer.Actual(rc.Doc, rc.Operation, rc.Variables, resp.Data)
	if r.taken && !r.settled {
		r.settled = true
		if actual != r.res.Cost {
			if t, err := e.budget.Settle(ctx, r.subject, r.res.Cost, actual, r.throttle); err == nil {
				r.throttle = t
			}
		}
	}
	return withReport(resp, e.public(r, &actual))
}

// ErrorReportKey is where ReportInErrors puts the cost report in an
// error's extensions. It is not "cost": a COST_LIMIT_EXCEEDED error's
// extensions.cost is already the operation's cost, a number.
const ErrorReportKey = "costReport"

// ReportInErrors copies resp's cost report (extensions.cost), when it has
// one, into the extensions of each of errs under ErrorReportKey, for a
// transport whose message carries errors and nothing else: the
// graphql-transport-ws `error` message of a rejected operation.
func ReportInErrors(resp *graphql.Response, errs ...*gqlerror.Error) {
	if resp == nil {
		return
	}
	rep, ok := resp.Extensions[statsKey]
	if !ok {
		return
	}
	for _, err := range errs {
		if err.Extensions == nil {
			err.Extensions = map[string]any{}
		}
		err.Extensions[ErrorReportKey] = rep
	}
}

func reportOf(ctx context.Context) *report {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	r, _ := graphql.GetOperationContext(ctx).Stats.GetExtension(statsKey).(*report)
	return r
}

func withReport(resp *graphql.Response, rep Report) *graphql.Response {
	if resp == nil {
		return nil
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions[statsKey] = rep
	return resp
}

func (e *Extension) public(r *report, actual *int64) Report {
	rep := Report{RequestedQueryCost: r.res.Cost, ActualQueryCost: actual, MaximumQueryCost: e.analyzer.Limit()}
	if e.budget != nil {
		t := r.throttle
		rep.ThrottleStatus = &t
	}
	if len(r.errs) > 0 && r.errs[0].Extensions["code"] != apierror.RateLimited {
		rep.HeaviestPaths = r.res.Heaviest
	}
	return rep
}

// subjectOf names the bucket a request draws on: the signed-in user, else
// the client's address.
func (e *Extension) subjectOf(ctx context.Context) string {
	if e.subject != nil {
		if s := e.subject(ctx); s != "" {
			return s
		}
	}
	if st := requestFrom(ctx); st != nil && st.client != "" {
		return "addr:" + st.client
	}
	return "anonymous"
}
