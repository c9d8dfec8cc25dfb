package cost_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/herotasks/api/cost"
)

// BenchmarkAnalyze costs the README's board query (a typical operation:
// three levels of lists, variables, twenty fields).
func BenchmarkAnalyze(b *testing.B) {
	a := realAnalyzer(b, cost.Options{})
	doc, op, vars := parse(b, a.Schema(), board, map[string]any{"n": 20, "sub": 5})
	b.ReportAllocs()
	for b.Loop() {
		if r := a.Analyze(doc, op, vars); r.Cost != 647 {
			b.Fatalf("cost %d", r.Cost)
		}
	}
}

// BenchmarkActual costs the board query's response with 20 tasks, each with
// 3 tags and 5 subtasks of 2 tags.
func BenchmarkActual(b *testing.B) {
	a := realAnalyzer(b, cost.Options{})
	doc, op, vars := parse(b, a.Schema(), board, map[string]any{"n": 20, "sub": 5})
	var nodes []string
	for i := range 20 {
		var subs []string
		for j := range 5 {
			subs = append(subs, fmt.Sprintf(`{"number":"HT-%03d.%d","title":"Step %d","status":"READY","tags":[{"name":"a"},{"name":"b"}]}`, i, j, j))
		}
		nodes = append(nodes, fmt.Sprintf(`{"number":"HT-%03d","title":"Task %d","status":"READY","priority":"HIGH","phase":"AUDIT","dueDate":null,"isOverdue":false,"assignee":{"name":"Ada"},"tags":[{"name":"x","color":"#ffffff"},{"name":"y","color":"#000000"},{"name":"z","color":"#123456"}],"subtasks":[%s]}`, i, i, strings.Join(subs, ",")))
	}
	data := []byte(fmt.Sprintf(`{"tasks":{"totalCount":120,"pageInfo":{"hasNextPage":true,"endCursor":"abc"},"nodes":[%s]}}`, strings.Join(nodes, ",")))
	// tasks 1 + totalCount 5 + pageInfo 1 + 20 × (1 + assignee 1 + tags 3 + subtasks 5 × (1 + 2))
	const want = 1 + 5 + 1 + 20*(1+1+3+5*3)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if c := a.Actual(doc, op, vars, data); c != want {
			b.Fatalf("actual %d, want %d", c, want)
		}
	}
}
