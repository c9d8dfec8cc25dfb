package httpspec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/httpspec"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// FuzzNegotiate: for any Accept header, Negotiate picks one of the two
// response media types, or "" with ok false; never anything else. `go test`
// runs the seeds; make test explores for a few seconds
// (`go test -run '^$' -fuzz '^FuzzNegotiate$' ./httpspec`).
func FuzzNegotiate(f *testing.F) {
	for _, accept := range []string{
		"", "*/*", "application/json", "application/graphql-response+json",
		"application/graphql-response+json, application/json;q=0.9",
		"application/json;q=1, application/graphql-response+json;q=1",
		"application/*;q=0.5, application/json;q=0", "text/html", "application/json;charset=latin1",
		"application/json;q=abc", "application/json;q=2", "*/*;q=0", ";;,,=", "application/json; q=0.001 ,text/*",
	} {
		f.Add(accept)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		mt, ok := httpspec.Negotiate(accept)
		switch {
		case ok && (mt == httpspec.JSON || mt == httpspec.GraphQLResponseJSON):
		case !ok && mt == "":
		default:
			t.Fatalf("Negotiate(%q) = %q, %v; want a known media type, or \"\" and false", accept, mt, ok)
		}
	})
}

// executor stands in for gqlgen's: it records the parameters the transport
// parsed and refuses them as a validation error would, so no request in
// the fuzz runs anything.
type executor struct{ params *graphql.RawParams }

func (e *executor) CreateOperationContext(_ context.Context, p *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	e.params = p
	return &graphql.OperationContext{}, gqlerror.List{{Message: "refused by the test", Extensions: map[string]any{"code": apierror.ValidationFailed}}}
}

func (e *executor) DispatchOperation(context.Context, *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	panic("the test's executor refuses every operation")
}

func (e *executor) DispatchError(_ context.Context, list gqlerror.List) *graphql.Response {
	return &graphql.Response{Errors: list}
}

// FuzzRequest: any method, Content-Type, Accept, query string and body.
// The transport never panics, and either hands the executor a query (or a
// persisted-query reference) or refuses the request before parsing with a
// refusal status and one error whose code is BAD_USER_INPUT, whose message
// does not repeat the body, and with no data entry.
func FuzzRequest(f *testing.F) {
	type seed struct {
		method, contentType, accept, rawQuery, body string
	}
	for _, s := range []seed{
		{"POST", "application/json", "application/graphql-response+json", "", `{"query":"{ me { id } }"}`},
		{"POST", "application/json; charset=utf-8", "", "", `{"query":"query($a: Int) { tasks(first: $a) { totalCount } }","variables":{"a":12345678901234567890},"operationName":null}`},
		{"POST", "application/json", "application/json", "", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`},
		{"POST", "application/json", "*/*", "", `[{"query":"{ me { id } }"}]`},
		{"POST", "application/json", "", "", `{"query":"{ me { id } }"} {"query":"again"}`},
		{"POST", "application/json", "", "", `{"query":1}`},
		{"POST", "application/json", "", "", `{"variables":[1]}`},
		{"POST", "application/json", "", "", `{"query":"{ a }","variables":"{}"}`},
		{"POST", "application/json;charset=latin1", "", "", `{"query":"{ me { id } }"}`},
		{"POST", "text/plain", "", "", `{"query":"mutation { deleteTask(id: 1) }"}`},
		{"POST", "application/x-www-form-urlencoded", "", "", "query=%7Bme%7Bid%7D%7D"},
		{"POST", "application/json", "text/html", "", `{"query":"{ me { id } }"}`},
		{"POST", "application/json", "", "", strings.Repeat(" ", 5000) + "{}"},
		{"POST", "application/json", "", "", ""},
		{"GET", "", "", "query=%7B+me+%7B+id+%7D+%7D&variables=%7B%7D", ""},
		{"GET", "", "application/graphql-response+json", "query=%7Bme%7Bid%7D%7D&query=again", ""},
		{"GET", "", "", "query=x&variables=%7B&extensions=null", ""},
		{"GET", "", "", "%zz", ""},
		{"GET", "", "", "extensions=%7B%22persistedQuery%22%3A%7B%7D%7D", ""},
		{"PUT", "application/json", "", "", `{"query":"{ me { id } }"}`},
		{"DELETE", "", "", "", ""},
	} {
		f.Add(s.method, s.contentType, s.accept, s.rawQuery, []byte(s.body))
	}
	refusals := []int{http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}
	f.Fuzz(func(t *testing.T, method, contentType, accept, rawQuery string, body []byte) {
		r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
		r.Method, r.URL.RawQuery = method, rawQuery
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		r.Body = http.MaxBytesReader(w, io.NopCloser(bytes.NewReader(body)), 4096) // as the server bounds bodies
		exec := &executor{}
		httpspec.Transport{}.Do(w, r, exec)

		mediaType, acceptable := httpspec.Negotiate(accept)
		if exec.params != nil {
			if _, persisted := exec.params.Extensions["persistedQuery"]; exec.params.Query == "" && !persisted {
				t.Fatalf("%s ?%q %q: the executor got neither a query nor a persisted query: %+v", method, rawQuery, body, exec.params)
			}
			want := http.StatusOK
			if mediaType == httpspec.GraphQLResponseJSON {
				want = http.StatusBadRequest
			}
			if w.Code != want || !strings.HasPrefix(w.Header().Get("Content-Type"), mediaType) {
				t.Fatalf("%s Accept %q: a validation error answered %d %s, want %d %s", method, accept, w.Code, w.Header().Get("Content-Type"), want, mediaType)
			}
			return
		}
		if !slices.Contains(refusals, w.Code) {
			t.Fatalf("%s %q ?%q %q: refused with %d, want one of %v", method, contentType, rawQuery, body, w.Code, refusals)
		}
		if (method == http.MethodGet || method == http.MethodPost) && !acceptable != (w.Code == http.StatusNotAcceptable) {
			t.Fatalf("%s Accept %q: status %d, but Negotiate says acceptable=%v", method, accept, w.Code, acceptable)
		}
		var resp map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s %q: the refusal is not JSON: %v: %s", method, body, err, w.Body)
		}
		if _, ok := resp["data"]; ok {
			t.Fatalf("a refused request has a data entry: %s", w.Body)
		}
		var errs []struct {
			Message    string
			Extensions map[string]any
		}
		if err := json.Unmarshal(resp["errors"], &errs); err != nil || len(errs) != 1 {
			t.Fatalf("a refusal lists one error: %v: %s", err, w.Body)
		}
		if code := errs[0].Extensions["code"]; code != apierror.BadUserInput {
			t.Fatalf("%s %q: refused with code %v, want %s: %s", method, body, code, apierror.BadUserInput, w.Body)
		}
		if len(body) >= 32 && strings.Contains(errs[0].Message, string(body)) {
			t.Fatalf("the refusal repeats the body: %s", w.Body)
		}
	})
}
