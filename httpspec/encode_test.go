package httpspec

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// page is a response like the nested benchmark query's: 50 tasks, each
// with an assignee, tags and five subtasks with tags (about 33 KB).
func page() json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"tasks":{"nodes":[`)
	for i := range 50 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"0b6a1c9e-4f0e-4d8a-9c7e-%012d","title":"Audit the \"legacy\" <billing> export %d","assignee":{"name":"Ada Lovelace"},"tags":[{"name":"backend"},{"name":"q3"}],"subtasks":[`, i, i)
		for j := range 5 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"number":"HT-%03d.%d","title":"Step %d","tags":[{"name":"review"}]}`, i, j+1, j)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}}`)
	return json.RawMessage(b.String())
}

// TestEncodeResponse: the same JSON document as json.Marshal, for every
// shape a response takes.
func TestEncodeResponse(t *testing.T) {
	hasNext := false
	for name, resp := range map[string]*graphql.Response{
		"data":                    {Data: page()},
		"data and extensions":     {Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"cost": map[string]any{"requestedQueryCost": 12}}},
		"errors and null data":    {Errors: gqlerror.List{{Message: "no <such> task", Extensions: map[string]any{"code": "NOT_FOUND"}}}},
		"errors, data, extension": {Errors: gqlerror.List{{Message: "x"}}, Data: json.RawMessage(`{"task":null}`), Extensions: map[string]any{"k": "v"}},
		"incremental":             {Data: json.RawMessage(`{}`), Label: "l", HasNext: &hasNext},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := EncodeResponse(resp)
			require.NoError(t, err)
			want, err := json.Marshal(resp)
			require.NoError(t, err)
			require.True(t, json.Valid(got), "%s", got)
			assert.JSONEq(t, string(want), string(got))
			var members map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(got, &members))
			assert.Contains(t, members, "data", "data is always present, null when absent")
		})
	}
}

// BenchmarkEncodeResponse compares writing the nested page through
// json.Marshal (which re-validates and compacts the raw data) with
// EncodeResponse (which copies it).
func BenchmarkEncodeResponse(b *testing.B) {
	resp := &graphql.Response{Data: page(), Extensions: map[string]any{"cost": map[string]any{"requestedQueryCost": 1261, "actualQueryCost": 661}}}
	b.Run("json.Marshal", func(b *testing.B) {
		b.SetBytes(int64(len(resp.Data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncodeResponse", func(b *testing.B) {
		b.SetBytes(int64(len(resp.Data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeResponse(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
