package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
)

// WSMessage is one graphql-transport-ws message.
type WSMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WSClient speaks graphql-transport-ws to one server, sorting what arrives
// by subscription id.
type WSClient struct {
	conn *websocket.Conn
	mu   sync.Mutex
	subs map[string]chan WSMessage
	done chan struct{}
	err  error // why the connection ended, once done is closed
}

// DialWS connects and initialises with token ("" for anonymous); it fails
// when the server does not acknowledge.
func DialWS(ctx context.Context, url, token string) (*WSClient, error) {
	conn, _, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1)+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	payload := map[string]any{}
	if token != "" {
		payload["Authorization"] = "Bearer " + token
	}
	if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": payload}); err != nil {
		return nil, err
	}
	var ack WSMessage
	if err := wsjson.Read(ctx, conn, &ack); err != nil {
		return nil, err
	}
	if ack.Type != "connection_ack" {
		return nil, fmt.Errorf("got %s %s, want connection_ack", ack.Type, ack.Payload)
	}
	c := &WSClient{conn: conn, subs: map[string]chan WSMessage{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *WSClient) read() {
	defer close(c.done)
	for {
		var m WSMessage
		if err := wsjson.Read(context.Background(), c.conn, &m); err != nil {
			c.err = err
			return
		}
		if m.ID == "" {
			continue // ping, pong
		}
		c.queue(m.ID) <- m
	}
}

func (c *WSClient) queue(id string) chan WSMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.subs[id]
	if !ok {
		q = make(chan WSMessage, 1000)
		c.subs[id] = q
	}
	return q
}

// Subscribe starts subscription id.
func (c *WSClient) Subscribe(t testing.TB, id, query string, vars map[string]any) {
	t.Helper()
	c.queue(id)
	require.NoError(t, wsjson.Write(context.Background(), c.conn, map[string]any{"id": id, "type": "subscribe",
		"payload": map[string]any{"query": query, "variables": vars}}))
}

// Next returns the next message of subscription id.
func (c *WSClient) Next(t testing.TB, id string) WSMessage {
	t.Helper()
	select {
	case m := <-c.queue(id):
		return m
	case <-c.done:
		t.Fatalf("connection closed waiting for %s: %v", id, c.err)
	case <-time.After(15 * time.Second):
		t.Fatalf("nothing for subscription %s within 15s", id)
	}
	return WSMessage{}
}

// Event returns the data of the next message of subscription id, which must
// be a "next" without errors.
func (c *WSClient) Event(t testing.TB, id string) map[string]any {
	t.Helper()
	m := c.Next(t, id)
	require.Equal(t, "next", m.Type, "subscription %s: %s", id, m.Payload)
	var r Response
	require.NoError(t, json.Unmarshal(m.Payload, &r))
	require.Empty(t, r.Errors, "subscription %s: %s", id, m.Payload)
	return r.Data
}

// Quiet asserts that subscription id receives nothing for a moment (used
// only where a later event could not prove it).
func (c *WSClient) Quiet(t testing.TB, id string, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.queue(id):
		t.Errorf("subscription %s got %s %s, want nothing", id, m.Type, m.Payload)
	case <-time.After(d):
	}
}

// Close closes the connection normally.
func (c *WSClient) Close() { _ = c.conn.Close(websocket.StatusNormalClosure, "") }

// Done is closed when the connection has ended.
func (c *WSClient) Done() <-chan struct{} { return c.done }
