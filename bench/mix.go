package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
)

// Mix is a read/write mix on a set of tasks that checks coherence: every
// read of a task is compared with the highest version a write of that task
// had acknowledged before the read was sent. A read showing an older
// version is stale: some cache served a state that a mutation had already
// replaced when it answered. It must never happen.
type Mix struct {
	IDs       []string
	WritePct  int // out of 100
	ReadQuery string
	// WriteQuery takes $id and $title and returns the task's new version
	// (data.updateTask.version).
	WriteQuery string

	acked                []atomic.Int64 // by index into IDs
	reads, writes, stale atomic.Int64
	firstStale           atomic.Pointer[string]
	seq                  atomic.Int64
}

// MixResult is what the mix saw while measured.
type MixResult struct {
	Reads      int64 `json:"reads"`
	Writes     int64 `json:"writes"`
	StaleReads int64 `json:"staleReads"`
	// StaleTagReads are reads showing a task's tags as they were before
	// an acknowledged tag write (mix-frontend; tag writes keep the task's
	// version).
	StaleTagReads int64  `json:"staleTagReads,omitempty"`
	FirstStale    string `json:"firstStale,omitempty"`
	// Leaks are reads that held a private task the user may not see
	// (mix-frontend).
	Leaks     int64  `json:"privateLeaks"`
	FirstLeak string `json:"firstLeak,omitempty"`
	// Users and HotTasks size the mix-frontend scenario; Categories are its
	// request kinds.
	Users      int              `json:"users,omitempty"`
	HotTasks   int              `json:"hotTasks,omitempty"`
	Categories []CategoryResult `json:"categories,omitempty"`
}

// Failed says why the mix failed its checks, "" when it did not.
func (r *MixResult) Failed() string {
	var out []string
	if r.StaleReads > 0 || r.StaleTagReads > 0 {
		out = append(out, fmt.Sprintf("%d stale reads and %d stale tag reads, first: %s", r.StaleReads, r.StaleTagReads, r.FirstStale))
	}
	if r.Leaks > 0 {
		out = append(out, fmt.Sprintf("%d reads held another user's private task, first: %s", r.Leaks, r.FirstLeak))
	}
	return strings.Join(out, "; ")
}

// HeroTasksMix is the 90/10 mix on the Hero Tasks API: reads of a task
// with its tags, writes of its title.
func HeroTasksMix(ids []string) *Mix {
	return &Mix{IDs: ids, WritePct: 10,
		ReadQuery:  `query MixRead($id: ID!) { task(id: $id) { id version title tags { name } } }`,
		WriteQuery: `mutation MixWrite($id: ID!, $title: String!) { updateTask(id: $id, input: {title: $title}) { id version } }`}
}

// Scenario returns the mix as a scenario.
func (m *Mix) Scenario(name string) Scenario {
	m.acked = make([]atomic.Int64, len(m.IDs))
	return Scenario{Name: name, Coherence: m, Step: m.step, Check: m.check}
}

func (m *Mix) reset() { m.reads.Store(0); m.writes.Store(0); m.stale.Store(0); m.firstStale.Store(nil) }

func (m *Mix) result() MixResult {
	r := MixResult{Reads: m.reads.Load(), Writes: m.writes.Load(), StaleReads: m.stale.Load()}
	if s := m.firstStale.Load(); s != nil {
		r.FirstStale = *s
	}
	return r
}

type taskVersion struct {
	Data struct {
		Task *struct {
			ID      string `json:"id"`
			Version int64  `json:"version"`
		} `json:"task"`
		UpdateTask *struct {
			ID      string `json:"id"`
			Version int64  `json:"version"`
		} `json:"updateTask"`
	} `json:"data"`
}

func (m *Mix) step(ctx context.Context, c *Client, rng *rand.Rand) ([]byte, error) {
	i := rng.IntN(len(m.IDs))
	id := m.IDs[i]
	if rng.IntN(100) < m.WritePct {
		title := "bench write " + strconv.FormatInt(m.seq.Add(1), 10)
		body, err := c.Do(ctx, Request{Query: m.WriteQuery, Variables: map[string]any{"id": id, "title": title}})
		if err != nil {
			return body, err
		}
		var r taskVersion
		if err := json.Unmarshal(body, &r); err != nil || r.Data.UpdateTask == nil || r.Data.UpdateTask.ID != id {
			return body, fmt.Errorf("write answer: %v %s", err, Snippet(body))
		}
		for v := r.Data.UpdateTask.Version; ; {
			cur := m.acked[i].Load()
			if v <= cur || m.acked[i].CompareAndSwap(cur, v) {
				break
			}
		}
		m.writes.Add(1)
		return body, nil
	}
	floor := m.acked[i].Load() // acknowledged before this read is sent
	body, err := c.Do(ctx, Request{Query: m.ReadQuery, Variables: map[string]any{"id": id}})
	if err != nil {
		return body, err
	}
	var r taskVersion
	if err := json.Unmarshal(body, &r); err != nil || r.Data.Task == nil || r.Data.Task.ID != id {
		return body, fmt.Errorf("read answer: %v %s", err, Snippet(body))
	}
	m.reads.Add(1)
	if r.Data.Task.Version < floor {
		m.stale.Add(1)
		s := fmt.Sprintf("task %s: read version %d after version %d was acknowledged", id, r.Data.Task.Version, floor)
		m.firstStale.CompareAndSwap(nil, &s)
	}
	return body, nil
}

// check is done by step itself (every answer is decoded there).
func (m *Mix) check([]byte) (string, error) {
	return fmt.Sprintf("%d tasks, %d%% writes", len(m.IDs), m.WritePct), nil
}
