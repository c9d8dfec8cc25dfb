// Package model holds the GraphQL-only types: inputs and payloads generated
// by gqlgen, and the connection type whose total count is computed lazily.
package model

import (
	"context"

	"github.com/herotasks/api/domain"
)

// Node is any object node(id:) returns: *domain.Task, *domain.Subtask,
// *domain.Tag or *domain.User.
type Node interface{}

// TaskConnection is a page of tasks. TotalCount runs its counting query
// only when the client selects the field.
type TaskConnection struct {
	Page  *domain.TaskPage
	Count func(ctx context.Context) (int, error)
	// After is true when the page was asked for after a cursor: the item
	// at that cursor, at least, comes before it.
	After bool
}

// Edges returns the page's tasks with cursors.
func (c *TaskConnection) Edges() []*domain.TaskEdge {
	out := make([]*domain.TaskEdge, len(c.Page.Edges))
	for i := range c.Page.Edges {
		out[i] = &c.Page.Edges[i]
	}
	return out
}

// Nodes returns the page's tasks.
func (c *TaskConnection) Nodes() []*domain.Task { return c.Page.Nodes() }

// PageInfo says whether more follows.
func (c *TaskConnection) PageInfo() *PageInfo {
	info := &PageInfo{HasNextPage: c.Page.HasNextPage, HasPreviousPage: c.After || c.Page.HasPreviousPage, EndCursor: c.Page.EndCursor()}
	if len(c.Page.Edges) > 0 {
		start := c.Page.Edges[0].Cursor()
		info.StartCursor = &start
	}
	return info
}

// TotalCount counts every task the list would walk through.
func (c *TaskConnection) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }
