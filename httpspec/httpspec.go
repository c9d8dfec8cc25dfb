// Package httpspec serves GraphQL over HTTP as the GraphQL-over-HTTP
// specification says: POST with a JSON body and GET for queries only,
// content negotiation between application/graphql-response+json and
// application/json, and the status codes each media type calls for. It
// replaces gqlgen's GET and POST transports, which answer a mutation over GET
// with 406, a validation error with 422 under application/json, and echo a
// malformed body back in the error.
//
// Everything that is not a well-formed request is refused before any parsing
// or execution, with a JSON error whose extensions.code is BAD_USER_INPUT and
// whose message never repeats the input:
//
//   - a method other than GET or POST: 405 with Allow: GET, POST;
//   - a POST whose Content-Type is not application/json (utf-8): 415. Form,
//     multipart and text/plain bodies, the only ones a browser sends
//     cross-site without a CORS preflight, can therefore never change state;
//   - an Accept header that allows neither response type: 406;
//   - a body that is not one JSON object, or whose query, operationName,
//     variables or extensions have the wrong JSON type: 400;
//   - a batch (a JSON array of operations): 400. Batching multiplies the
//     work one request may ask for past every per-operation limit, and
//     HTTP/2 already multiplexes requests, so it is refused rather than
//     bounded;
//   - a mutation or subscription over GET: 405 with Allow: POST.
package httpspec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/apierror"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The two response media types.
const (
	GraphQLResponseJSON = "application/graphql-response+json"
	JSON                = "application/json"
)

// Transport is a gqlgen transport for GET and POST. Add it after the
// websocket (and any other transport that claims requests by a header), as
// it claims every other request but OPTIONS in order to refuse what it does
// not serve with the right status.
type Transport struct{}

var _ graphql.Transport = Transport{}

// Supports implements graphql.Transport.
func (Transport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method != http.MethodOptions
}

// Do implements graphql.Transport.
func (Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	w.Header().Add("Vary", "Accept")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		refuse(w, r, http.StatusMethodNotAllowed, JSON, "use GET for queries or POST for any operation")
		return
	}
	mediaType, ok := Negotiate(r.Header.Get("Accept"))
	if !ok {
		refuse(w, r, http.StatusNotAcceptable, JSON, "the Accept header must allow "+GraphQLResponseJSON+" or "+JSON)
		return
	}
	var (
		params *graphql.RawParams
		status int
		msg    string
	)
	start := graphql.Now()
	if r.Method == http.MethodGet {
		params, status, msg = fromQueryString(r.URL.RawQuery)
	} else {
		params, status, msg = fromBody(r)
	}
	if params == nil {
		refuse(w, r, status, mediaType, msg)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	ctx := r.Context()
	if r.Method == http.MethodGet {
		ctx = context.WithValue(ctx, getKey{}, true)
	}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs == nil && r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		// QueriesOnlyOverGET refuses this before the cost is taken; this is
		// the guarantee should it not be installed.
		errs = gqlerror.List{errNotQuery()}
	}
	if errs != nil {
		status := http.StatusOK // application/json: a well-formed request is answered with 200
		if mediaType == GraphQLResponseJSON {
			status = http.StatusBadRequest
		}
		if r.Method == http.MethodGet && isNotQuery(errs) {
			w.Header().Set("Allow", "POST")
			status = http.StatusMethodNotAllowed
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		apierror.WriteAs(w, status, mediaType, requestError{Errors: resp.Errors, Extensions: resp.Extensions})
		return
	}
	if opCtx.Operation.Operation == ast.Subscription {
		refuse(w, r, http.StatusBadRequest, mediaType, "subscriptions are served over the websocket on this path (graphql-transport-ws)")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil { // the client went away or the deadline passed before a response
		resp = &graphql.Response{Errors: gqlerror.List{apierror.New(r.Context(), apierror.Timeout, "the request was cancelled")}}
	}
	writeResponse(w, mediaType, resp)
}

// writeResponse writes an executed operation's response: 200, or 503 with
// Retry-After when it carries SERVICE_UNAVAILABLE. The data is
// already JSON, written by the executor's marshalers (or stored by the
// response cache from them), so it is copied as it is: json.Marshal would
// re-validate and re-compact every byte of it through encoding/json, an
// order of magnitude slower than the copy (BenchmarkEncodeResponse).
func writeResponse(w http.ResponseWriter, mediaType string, resp *graphql.Response) {
	b, err := EncodeResponse(resp)
	if err != nil {
		apierror.WriteAs(w, http.StatusInternalServerError, mediaType, nil)
		return
	}
	w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	status := http.StatusOK
	if len(resp.Errors) > 0 && apierror.Has(resp.Errors, apierror.ServiceUnavailable) {
		// PostgreSQL is unreachable: say so to every HTTP client and
		// proxy, and when to try again, as RATE_LIMITED does with 429.
		w.Header().Set("Retry-After", apierror.UnavailableRetryAfter)
		status = http.StatusServiceUnavailable
	}
	// The whole body is known: with its length the server sends it as is
	// rather than in chunks (a large answer would otherwise cost extra
	// writes for chunk framing).
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// EncodeResponse is json.Marshal(resp) without re-encoding resp.Data: the
// same members in the same order (errors, data, extensions), with data
// copied verbatim. Incremental-delivery fields (label, path, hasNext),
// which this transport never produces, take the json.Marshal path.
func EncodeResponse(resp *graphql.Response) ([]byte, error) {
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		return json.Marshal(resp)
	}
	var errs, ext []byte
	var err error
	if len(resp.Errors) > 0 {
		if errs, err = json.Marshal(resp.Errors); err != nil {
			return nil, err
		}
	}
	if len(resp.Extensions) > 0 {
		if ext, err = json.Marshal(resp.Extensions); err != nil {
			return nil, err
		}
	}
	data := []byte(resp.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	b := make([]byte, 0, len(data)+len(errs)+len(ext)+40)
	b = append(b, '{')
	if errs != nil {
		b = append(b, `"errors":`...)
		b = append(b, errs...)
		b = append(b, ',')
	}
	b = append(b, `"data":`...)
	b = append(b, data...)
	if ext != nil {
		b = append(b, `,"extensions":`...)
		b = append(b, ext...)
	}
	return append(b, '}'), nil
}

// requestError is a response to a request that was not executed: it has no
// data entry at all, as the specification requires.
type requestError struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// refuse answers a request that was not executed with one error.
func refuse(w http.ResponseWriter, r *http.Request, status int, mediaType, msg string) {
	apierror.WriteAs(w, status, mediaType, apierror.Response{Errors: gqlerror.List{apierror.New(r.Context(), apierror.BadUserInput, msg)}})
}

// Negotiate picks the response media type for an Accept header: the
// acceptable type with the highest quality; between equals, the one named
// exactly over one matched by a wildcard, then application/json, the type
// every client understands. No header means application/json. ok is false
// when the header allows neither.
func Negotiate(accept string) (mediaType string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return JSON, true
	}
	type score struct {
		q     float64
		exact bool
	}
	best := map[string]score{}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			continue
		}
		for _, candidate := range []string{GraphQLResponseJSON, JSON} {
			exact := mt == candidate
			if !exact && mt != "*/*" && mt != "application/*" {
				continue
			}
			// The most specific range decides, as RFC 9110 says.
			if cur, seen := best[candidate]; !seen || (exact && !cur.exact) || (exact == cur.exact && q > cur.q) {
				best[candidate] = score{q: q, exact: exact}
			}
		}
	}
	g, j := best[GraphQLResponseJSON], best[JSON]
	switch {
	case g.q <= 0 && j.q <= 0:
		return "", false
	case g.q > j.q, g.q == j.q && g.exact && !j.exact:
		return GraphQLResponseJSON, true
	}
	return JSON, true
}

// fromBody reads a POST body. The body is already bounded (see the server's
// body limit); a body over it is a 413 here too.
func fromBody(r *http.Request) (*graphql.RawParams, int, string) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != JSON {
		return nil, http.StatusUnsupportedMediaType, "the request body must be application/json"
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, http.StatusUnsupportedMediaType, "the request body must be encoded in utf-8"
	}
	if r.Body == nil {
		return nil, http.StatusBadRequest, "the request body is empty"
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, "the request body is larger than " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes"
		}
		return nil, http.StatusBadRequest, "the request body could not be read"
	}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, http.StatusBadRequest, "the request body is empty"
	case body[0] == '[':
		return nil, http.StatusBadRequest, "batched operations are not supported: send one operation per request"
	case body[0] != '{':
		return nil, http.StatusBadRequest, "the request body must be a JSON object"
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, http.StatusBadRequest, "the request body is not valid JSON"
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, http.StatusBadRequest, "the request body must hold one JSON object and nothing after it"
	}
	return paramsFrom(func(name string) (json.RawMessage, bool) {
		v, ok := raw[name]
		return v, ok
	}, false)
}

// fromQueryString reads a GET request's parameters; variables and
// extensions are JSON in the URL.
func fromQueryString(rawQuery string) (*graphql.RawParams, int, string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, http.StatusBadRequest, "the query string is not valid"
	}
	return paramsFrom(func(name string) (json.RawMessage, bool) {
		vs, ok := q[name]
		if !ok || len(vs) != 1 {
			return nil, ok
		}
		if name == "query" || name == "operationName" {
			b, _ := json.Marshal(vs[0])
			return b, true
		}
		return json.RawMessage(vs[0]), true
	}, true)
}

// paramsFrom checks the four parameters' JSON types: query a string,
// operationName a string or null, variables and extensions objects or null.
func paramsFrom(get func(name string) (json.RawMessage, bool), isGET bool) (*graphql.RawParams, int, string) {
	p := &graphql.RawParams{}
	bad := func(msg string) (*graphql.RawParams, int, string) { return nil, http.StatusBadRequest, msg }
	if v, ok := get("query"); ok && !isNull(v) {
		if json.Unmarshal(v, &p.Query) != nil {
			return bad("the query parameter must be a string")
		}
	}
	if v, ok := get("operationName"); ok && !isNull(v) {
		if json.Unmarshal(v, &p.OperationName) != nil {
			return bad("the operationName parameter must be a string or null")
		}
	}
	for _, obj := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
		v, ok := get(obj.name)
		if !ok || isNull(v) {
			continue
		}
		trimmed := bytes.TrimSpace(v)
		if len(trimmed) == 0 || trimmed[0] != '{' {
			return bad("the " + obj.name + " parameter must be a JSON object")
		}
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber() // integers keep their precision until the schema coerces them
		if dec.Decode(obj.dst) != nil {
			return bad("the " + obj.name + " parameter must be a JSON object")
		}
	}
	if p.Query == "" {
		if _, persisted := p.Extensions["persistedQuery"]; !persisted {
			return bad("the query parameter is required")
		}
	}
	return p, 0, ""
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

type getKey struct{}

// QueriesOnlyOverGET is a gqlgen extension that refuses a mutation or
// subscription sent with GET as soon as the operation is known, before any
// later extension (the cost budget) acts on it. Install it before them.
type QueriesOnlyOverGET struct{}

var (
	_ graphql.HandlerExtension        = QueriesOnlyOverGET{}
	_ graphql.OperationContextMutator = QueriesOnlyOverGET{}
)

// ExtensionName implements graphql.HandlerExtension.
func (QueriesOnlyOverGET) ExtensionName() string { return "QueriesOnlyOverGET" }

// Validate implements graphql.HandlerExtension.
func (QueriesOnlyOverGET) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (QueriesOnlyOverGET) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if isGET, _ := ctx.Value(getKey{}).(bool); isGET && rc.Operation != nil && rc.Operation.Operation != ast.Query {
		return errNotQuery()
	}
	return nil
}

const notQueryMessage = "only queries may be sent with GET: send mutations with POST"

func errNotQuery() *gqlerror.Error {
	return &gqlerror.Error{Message: notQueryMessage, Extensions: map[string]any{"code": apierror.BadUserInput}}
}

func isNotQuery(errs gqlerror.List) bool {
	return len(errs) > 0 && errs[0].Message == notQueryMessage
}
