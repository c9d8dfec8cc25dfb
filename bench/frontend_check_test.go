package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFrontendChecks: the checks mix-frontend applies to every read count
// a private task of another user, a version older than one acknowledged
// before the read was sent, and tags other than the last acknowledged tag
// write left; and nothing else (a write acknowledged after the send, a tag
// write overlapping the read, the owner's own private task).
func TestFrontendChecks(t *testing.T) {
	d := &FrontendData{
		Users:  []FrontendUser{{ID: "a", Private: []string{"p"}}, {ID: "b", Private: []string{"q"}}},
		Hot:    []string{"h"},
		Tail:   []string{"t"},
		Owners: map[string][]string{"p": {"a"}, "q": {"b", "c"}},
		Tags:   []string{"x", "y"},
	}
	f := NewFrontend(d)
	a, b := &d.Users[0], &d.Users[1]
	tags := func(names ...string) *[]name {
		out := []name{}
		for _, n := range names {
			out = append(out, name{n})
		}
		return &out
	}
	counts := func() [3]int64 { return [3]int64{f.stale.Load(), f.staleTags.Load(), f.leaks.Load()} }

	// Visibility.
	f.checkNodes(a, "detail", []taskNode{{ID: "p"}, {ID: "h"}}, 0)
	assert.Equal(t, [3]int64{0, 0, 0}, counts(), "a's own private task")
	f.checkNodes(b, "board", []taskNode{{ID: "h"}, {ID: "p"}}, 0)
	assert.Equal(t, [3]int64{0, 0, 1}, counts(), "a's private task in b's board")
	f.created.Store("n", "a")
	f.checkNodes(b, "nested", []taskNode{{ID: "n"}}, 0)
	assert.Equal(t, [3]int64{0, 0, 2}, counts(), "a private task a created in the run")
	f.checkNodes(a, "nested", []taskNode{{ID: "n"}}, 0)
	assert.Equal(t, [3]int64{0, 0, 2}, counts())

	// Versions: floors by the time of the send.
	before := f.seq.Load()
	f.acked("h", 5)
	after := f.seq.Load()
	f.checkNodes(a, "detail", []taskNode{{ID: "h", Version: 4}}, before)
	assert.Equal(t, [3]int64{0, 0, 2}, counts(), "sent before the write was acknowledged")
	f.checkNodes(a, "detail", []taskNode{{ID: "h", Version: 5}, {ID: "t", Version: 1}}, after)
	assert.Equal(t, [3]int64{0, 0, 2}, counts())
	f.checkNodes(a, "board", []taskNode{{ID: "h", Version: 4}}, after)
	assert.Equal(t, [3]int64{1, 0, 2}, counts(), "older than acknowledged")
	f.acked("h", 7) // acknowledgements may arrive out of order
	f.acked("h", 6)
	f.checkNodes(a, "board", []taskNode{{ID: "h", Version: 6}}, f.seq.Load())
	assert.Equal(t, [3]int64{2, 0, 2}, counts(), "the highest acknowledged counts")

	// Tags: compared only against a write acknowledged before the send
	// with none begun since.
	st := f.tasks["t"]
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags("x")}}, f.seq.Load())
	assert.Equal(t, [3]int64{2, 0, 2}, counts(), "no tag write yet: unknown")
	st.tagMask.Store(-1)
	st.tagStart.Store(f.seq.Add(1))
	st.tagMask.Store(f.mask(*tags("x", "unrelated")))
	st.tagAck.Store(f.seq.Add(1))
	sent := f.seq.Load()
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags("x", "other")}}, sent)
	assert.Equal(t, [3]int64{2, 0, 2}, counts(), "tags the writes do not toggle do not matter")
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags("y")}, {ID: "t"}}, sent)
	assert.Equal(t, [3]int64{2, 1, 2}, counts(), "x was added, y never")
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags("x")}}, sent-1)
	assert.Equal(t, [3]int64{2, 1, 2}, counts())
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags()}}, sent-1)
	assert.Equal(t, [3]int64{2, 1, 2}, counts(), "sent before the write was acknowledged")
	st.tagMask.Store(-1)
	st.tagStart.Store(f.seq.Add(1)) // a write began while the read was out
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags()}}, sent)
	assert.Equal(t, [3]int64{2, 1, 2}, counts(), "overlapping write")
	st.tagMask.Store(0)
	st.tagAck.Store(f.seq.Add(1))
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags()}}, sent)
	assert.Equal(t, [3]int64{2, 1, 2}, counts(), "a write acknowledged after the send")
	f.checkNodes(a, "board", []taskNode{{ID: "t", Tags: tags("x")}}, f.seq.Load())
	assert.Equal(t, [3]int64{2, 2, 2}, counts(), "x was removed")

	r := f.result()
	assert.Contains(t, r.Failed(), "2 stale reads and 2 stale tag reads")
	assert.Contains(t, r.Failed(), "2 reads held another user's private task")
}

// TestDecodeAnswer: the checks see what each kind of answer holds: a
// task's id, version and tags, its dependencies, a page's nodes, and the
// response cache's verdict; a task the viewer may not see is no node, and
// a page without nodes is an error.
func TestDecodeAnswer(t *testing.T) {
	nodes, rc, err := decodeAnswer([]byte(`{"data":{"task":{"id":"a","version":7,"title":"x","tags":[{"name":"t1","color":"#fff"}],`+
		`"subtasks":[{"id":"s","tags":[{"name":"t9"}]}],"dependencies":[{"id":"b","version":2,"status":"READY"}]}},"extensions":{"responseCache":"hit"}}`), "task")
	require.NoError(t, err)
	assert.Equal(t, "hit", rc)
	require.Len(t, nodes, 2)
	assert.Equal(t, []any{"a", int64(7), []name{{Name: "t1"}}}, []any{nodes[0].ID, nodes[0].Version, *nodes[0].Tags})
	assert.Equal(t, []any{"b", int64(2), (*[]name)(nil)}, []any{nodes[1].ID, nodes[1].Version, nodes[1].Tags})

	nodes, _, err = decodeAnswer([]byte(`{"data":{"task":null}}`), "task")
	require.NoError(t, err)
	assert.Empty(t, nodes)

	for _, field := range []string{"tasks", "searchTasks"} {
		nodes, rc, err = decodeAnswer([]byte(`{"data":{"`+field+`":{"totalCount":2,"nodes":[{"id":"a","version":1,"tags":[]},{"id":"c","version":3}]}}}`), field)
		require.NoError(t, err, field)
		assert.Empty(t, rc)
		assert.Equal(t, []string{"a", "c"}, []string{nodes[0].ID, nodes[1].ID}, field)
		assert.Equal(t, []name{}, *nodes[0].Tags, "an empty tag list is a tag list")
		_, _, err = decodeAnswer([]byte(`{"data":{"`+field+`":{"totalCount":0}}}`), field)
		assert.ErrorContains(t, err, "no nodes", field)
	}
	_, _, err = decodeAnswer([]byte(`{"data":`), "tasks")
	assert.Error(t, err)
}
