package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// The Hero Tasks API's requests. The nested query is the one of the issue:
// 50 tasks, each with its assignee, its tags and its subtasks with theirs.
const (
	NestedQuery = `query Nested { tasks(first: 50) { nodes { id title assignee { name } tags { name } subtasks { number title tags { name } } } } }`
	ByIDQuery   = `query TaskByID($id: ID!) { task(id: $id) { id number title status priority assignee { name } tags { name } } }`
	ListQuery   = `query Filtered($filter: TaskFilter!) { tasks(first: 20, filter: $filter, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id number title status priority dueDate assignee { name } } pageInfo { hasNextPage endCursor } } }`
	PageQuery   = `query Page($after: String!) { tasks(first: 20, after: $after) { nodes { id number title status priority } pageInfo { hasNextPage endCursor } } }`
	// DetailQuery is a task's page: the task with its subtasks and their
	// tags, its tags and its dependencies (issue 15).
	DetailQuery = `query Detail($id: ID!) { task(id: $id) { id number title status priority version assignee { name } tags { name } subtasks { id number title status tags { name } } dependencies { id number title status } } }`
	SearchQuery = `query Search($q: String!) { searchTasks(query: $q, first: 20) { nodes { id number title } } }`
	cursorQuery = `query Cursors($after: String) { tasks(first: 100, after: $after) { pageInfo { hasNextPage endCursor } } }`
)

// PostGraphile 5 (amber preset) equivalents on the same tables: its names
// come from the tables and foreign keys (allTasks, userByAssigneeId, the
// join tables task_tags and subtask_tags), and the primary key is rowId
// (id is its global node id). The order is the Hero Tasks default:
// created_at, then id, descending; subtasks by position.
const (
	PeerNestedQuery = `query Nested { allTasks(first: 50, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { rowId title userByAssigneeId { name } taskTagsByTaskId { nodes { tagByTagId { name } } } subtasksByTaskId(orderBy: [POSITION_ASC]) { nodes { number title subtaskTagsBySubtaskId { nodes { tagByTagId { name } } } } } } } }`
	PeerByIDQuery   = `query TaskByID($id: UUID!) { taskByRowId(rowId: $id) { rowId number title status priority userByAssigneeId { name } taskTagsByTaskId { nodes { tagByTagId { name } } } } }`
	// PeerDetailQuery is DetailQuery on PostGraphile: the dependencies
	// through the join table's foreign keys (task_id, then depends_on_id).
	PeerDetailQuery = `query Detail($id: UUID!) { taskByRowId(rowId: $id) { rowId number title status priority version userByAssigneeId { name } taskTagsByTaskId { nodes { tagByTagId { name } } } subtasksByTaskId(orderBy: [POSITION_ASC]) { nodes { rowId number title status subtaskTagsBySubtaskId { nodes { tagByTagId { name } } } } } taskDependenciesByTaskId { nodes { taskByDependsOnId { rowId number title status } } } } }`
)

type name struct {
	Name string `json:"name"`
}

// NestedShape counts what a nested answer of the Hero Tasks API holds.
func NestedShape(body []byte) (string, error) {
	var r struct {
		Data struct {
			Tasks struct {
				Nodes []struct {
					Assignee *name `json:"assignee"`
					Tags     []name
					Subtasks []struct{ Tags []name }
				}
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("nested answer: %w", err)
	}
	var s shape
	for _, n := range r.Data.Tasks.Nodes {
		s.add(n.Assignee != nil, len(n.Tags))
		for _, st := range n.Subtasks {
			s.subtasks++
			s.subtaskTags += len(st.Tags)
		}
	}
	return s.check(len(r.Data.Tasks.Nodes))
}

// PeerNestedShape counts what PostGraphile's nested answer holds, in the
// same terms as NestedShape.
func PeerNestedShape(body []byte) (string, error) {
	type tagLinks struct {
		Nodes []struct {
			TagByTagID name `json:"tagByTagId"`
		}
	}
	var r struct {
		Data struct {
			AllTasks struct {
				Nodes []struct {
					UserByAssigneeID *name    `json:"userByAssigneeId"`
					TaskTagsByTaskID tagLinks `json:"taskTagsByTaskId"`
					SubtasksByTaskID struct {
						Nodes []struct {
							SubtaskTagsBySubtaskID tagLinks `json:"subtaskTagsBySubtaskId"`
						}
					} `json:"subtasksByTaskId"`
				}
			} `json:"allTasks"`
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("nested answer: %w", err)
	}
	var s shape
	for _, n := range r.Data.AllTasks.Nodes {
		s.add(n.UserByAssigneeID != nil, len(n.TaskTagsByTaskID.Nodes))
		for _, st := range n.SubtasksByTaskID.Nodes {
			s.subtasks++
			s.subtaskTags += len(st.SubtaskTagsBySubtaskID.Nodes)
		}
	}
	return s.check(len(r.Data.AllTasks.Nodes))
}

type shape struct{ assignees, tags, subtasks, subtaskTags int }

func (s *shape) add(assigned bool, tags int) {
	if assigned {
		s.assignees++
	}
	s.tags += tags
}

func (s shape) check(tasks int) (string, error) {
	desc := fmt.Sprintf("%d tasks, %d assignees, %d task tags, %d subtasks, %d subtask tags", tasks, s.assignees, s.tags, s.subtasks, s.subtaskTags)
	if tasks != 50 || s.subtasks == 0 || s.subtaskTags == 0 || s.tags == 0 || s.assignees == 0 {
		return desc, fmt.Errorf("nested answer does not fill every level: %s", desc)
	}
	return desc, nil
}

// Nested is the nested scenario on the Hero Tasks API.
func Nested(name string) Scenario {
	return Simple(name, func(*rand.Rand) Request { return Request{Query: NestedQuery} }, NestedShape)
}

// PeerNested is the nested scenario on PostGraphile.
func PeerNested(name string) Scenario {
	return Simple(name, func(*rand.Rand) Request { return Request{Query: PeerNestedQuery} }, PeerNestedShape)
}

// ByID reads random tasks of ids by id (query: ByIDQuery or PeerByIDQuery;
// field: the root field, task or taskByRowId).
func ByID(name, query, field string, ids []string) Scenario {
	return Simple(name, func(rng *rand.Rand) Request {
		return Request{Query: query, Variables: map[string]any{"id": ids[rng.IntN(len(ids))]}}
	}, func(body []byte) (string, error) {
		var r struct{ Data map[string]*json.RawMessage }
		if err := json.Unmarshal(body, &r); err != nil || r.Data[field] == nil || string(*r.Data[field]) == "null" {
			return "", fmt.Errorf("by id: no task in %s", Snippet(body))
		}
		return "one task", nil
	})
}

// detailCounts is what a detail answer holds, in the same terms on both
// servers.
type detailCounts struct{ tags, subtasks, subtaskTags, dependencies int }

func (d detailCounts) String() string {
	return fmt.Sprintf("%d task tags, %d subtasks, %d subtask tags, %d dependencies", d.tags, d.subtasks, d.subtaskTags, d.dependencies)
}

// DetailShape counts what a detail answer of the Hero Tasks API holds; a
// null task is an error.
func DetailShape(body []byte) (string, error) {
	var r struct {
		Data struct {
			Task *struct {
				Tags         []name
				Subtasks     []struct{ Tags []name }
				Dependencies []struct{ Number string }
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Data.Task == nil {
		return "", fmt.Errorf("detail: no task in %s", Snippet(body))
	}
	t := r.Data.Task
	d := detailCounts{tags: len(t.Tags), subtasks: len(t.Subtasks), dependencies: len(t.Dependencies)}
	for _, st := range t.Subtasks {
		d.subtaskTags += len(st.Tags)
	}
	return d.String(), nil
}

// PeerDetailShape counts what PostGraphile's detail answer holds, in the
// same terms as DetailShape.
func PeerDetailShape(body []byte) (string, error) {
	type nodes[T any] struct{ Nodes []T }
	type tagLink struct {
		TagByTagID name `json:"tagByTagId"`
	}
	var r struct {
		Data struct {
			Task *struct {
				Tags     nodes[tagLink] `json:"taskTagsByTaskId"`
				Subtasks nodes[struct {
					Tags nodes[tagLink] `json:"subtaskTagsBySubtaskId"`
				}] `json:"subtasksByTaskId"`
				Dependencies nodes[struct {
					Task *struct{ Title string } `json:"taskByDependsOnId"`
				}] `json:"taskDependenciesByTaskId"`
			} `json:"taskByRowId"`
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Data.Task == nil {
		return "", fmt.Errorf("detail: no task in %s", Snippet(body))
	}
	t := r.Data.Task
	d := detailCounts{tags: len(t.Tags.Nodes), subtasks: len(t.Subtasks.Nodes), dependencies: len(t.Dependencies.Nodes)}
	for _, st := range t.Subtasks.Nodes {
		d.subtaskTags += len(st.Tags.Nodes)
	}
	return d.String(), nil
}

// Detail reads random tasks of ids with their levels (query: DetailQuery
// with DetailShape, or PeerDetailQuery with PeerDetailShape).
func Detail(name, query string, shape func([]byte) (string, error), ids []string) Scenario {
	return Simple(name, func(rng *rand.Rand) Request {
		return Request{Query: query, Variables: map[string]any{"id": ids[rng.IntN(len(ids))]}}
	}, shape)
}

var (
	statuses   = []string{"DRAFT", "READY", "IN_PROGRESS", "BLOCKED", "COMPLETED", "CANCELLED"}
	priorities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}
)

// Filtered lists 20 tasks of two random statuses and one random priority,
// newest first.
func Filtered(name string) Scenario {
	return Simple(name, func(rng *rand.Rand) Request {
		i := rng.IntN(len(statuses))
		f := map[string]any{"status": []string{statuses[i], statuses[(i+1)%len(statuses)]},
			"priority": []string{priorities[rng.IntN(len(priorities))]}}
		return Request{Query: ListQuery, Variables: map[string]any{"filter": f}}
	}, listCheck("tasks"))
}

// Search runs searchTasks for random terms.
func Search(name string, terms []string) Scenario {
	return Simple(name, func(rng *rand.Rand) Request {
		return Request{Query: SearchQuery, Variables: map[string]any{"q": terms[rng.IntN(len(terms))]}}
	}, listCheck("searchTasks"))
}

// listCheck checks a connection answer under field and reports its size.
func listCheck(field string) func([]byte) (string, error) {
	return func(body []byte) (string, error) {
		var r struct {
			Data map[string]*struct {
				Nodes []json.RawMessage
			}
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Data[field] == nil {
			return "", fmt.Errorf("%s: no connection in %s", field, Snippet(body))
		}
		return fmt.Sprintf("%d nodes", len(r.Data[field].Nodes)), nil
	}
}

// DeepPages walks the default order 100 tasks at a time down to depth and
// returns a scenario reading 20 tasks after a random cursor from the
// second half of the walk (between depth/2 and depth tasks down).
func DeepPages(ctx context.Context, c *Client, name string, depth int) (Scenario, error) {
	var cursors []string
	var after any
	for seen := 0; seen < depth; seen += 100 {
		body, err := c.Do(ctx, Request{Query: cursorQuery, Variables: map[string]any{"after": after}})
		if err != nil {
			return Scenario{}, fmt.Errorf("walking the pages: %w", err)
		}
		var r struct {
			Data struct {
				Tasks struct {
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return Scenario{}, err
		}
		p := r.Data.Tasks.PageInfo
		if !p.HasNextPage {
			return Scenario{}, fmt.Errorf("only %d tasks: fewer than the depth %d", seen+100, depth)
		}
		after = p.EndCursor
		if seen >= depth/2 {
			cursors = append(cursors, p.EndCursor)
		}
	}
	check := listCheck("tasks")
	return Simple(name, func(rng *rand.Rand) Request {
		return Request{Query: PageQuery, Variables: map[string]any{"after": cursors[rng.IntN(len(cursors))]}}
	}, func(body []byte) (string, error) {
		s, err := check(body)
		if err == nil && s != "20 nodes" {
			err = fmt.Errorf("deep page: %s, want 20", s)
		}
		return s, err
	}), nil
}
