package main

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
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/pubsub"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wsMsg is one graphql-transport-ws message.
type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient speaks graphql-transport-ws to one server, sorting what arrives
// by subscription id.
type wsClient struct {
	conn *websocket.Conn
	mu   sync.Mutex
	subs map[string]chan wsMsg
	done chan struct{}
	err  error // why the connection ended, once done is closed
}

// dialWS connects and initialises with token ("" for anonymous); it fails
// when the server does not acknowledge.
func dialWS(ctx context.Context, url, token string) (*wsClient, error) {
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
	var ack wsMsg
	if err := wsjson.Read(ctx, conn, &ack); err != nil {
		return nil, err
	}
	if ack.Type != "connection_ack" {
		return nil, fmt.Errorf("got %s %s, want connection_ack", ack.Type, ack.Payload)
	}
	c := &wsClient{conn: conn, subs: map[string]chan wsMsg{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		var m wsMsg
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

func (c *wsClient) queue(id string) chan wsMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.subs[id]
	if !ok {
		q = make(chan wsMsg, 1000)
		c.subs[id] = q
	}
	return q
}

func (c *wsClient) subscribe(t *testing.T, id, query string, vars map[string]any) {
	t.Helper()
	c.queue(id)
	require.NoError(t, wsjson.Write(context.Background(), c.conn, map[string]any{"id": id, "type": "subscribe",
		"payload": map[string]any{"query": query, "variables": vars}}))
}

// next returns the next message of subscription id.
func (c *wsClient) next(t *testing.T, id string) wsMsg {
	t.Helper()
	select {
	case m := <-c.queue(id):
		return m
	case <-c.done:
		t.Fatalf("connection closed waiting for %s: %v", id, c.err)
	case <-time.After(15 * time.Second):
		t.Fatalf("nothing for subscription %s within 15s", id)
	}
	return wsMsg{}
}

// event returns the data of the next message of subscription id, which must
// be a "next" without errors.
func (c *wsClient) event(t *testing.T, id string) map[string]any {
	t.Helper()
	m := c.next(t, id)
	require.Equal(t, "next", m.Type, "subscription %s: %s", id, m.Payload)
	var r gqlResponse
	require.NoError(t, json.Unmarshal(m.Payload, &r))
	require.Empty(t, r.Errors, "subscription %s: %s", id, m.Payload)
	return r.Data
}

// quiet asserts that subscription id receives nothing for a moment (used
// only where a later event could not prove it).
func (c *wsClient) quiet(t *testing.T, id string, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.queue(id):
		t.Errorf("subscription %s got %s %s, want nothing", id, m.Type, m.Payload)
	case <-time.After(d):
	}
}

func (c *wsClient) close() { _ = c.conn.Close(websocket.StatusNormalClosure, "") }

const taskChangedSub = `subscription($id: ID) { taskChanged(id: $id) { kind taskId at actor { id }
	task { id title visibility tags { name } assignee { id } } } }`

// TestSubscriptionsAcrossInstances: writes on one instance reach subscribers
// on another, after commit, with every nested field read fresh for each
// event, and only for tasks the subscriber may see at that moment.
func TestSubscriptionsAcrossInstances(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := serveTestAPI(t, a.dbURL, &countingTracer{})
	editorID, editor := a.user(t, domain.RoleEditor)
	viewerID, viewer := a.user(t, domain.RoleViewer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ws, err := dialWS(ctx, b.url, viewer)
	require.NoError(t, err)
	defer ws.close()
	ws.subscribe(t, "all", taskChangedSub, nil)
	anon, err := dialWS(ctx, b.url, "")
	require.NoError(t, err)
	defer anon.close()
	anon.subscribe(t, "all", `subscription { taskChanged { kind taskId } }`, nil)
	time.Sleep(300 * time.Millisecond) // the subscribe messages have been read

	pub, _ := a.newTask(t, editor, map[string]any{"title": "Public"})
	d := ws.event(t, "all")
	assert.Equal(t, "CREATED", str(d, "taskChanged", "kind"))
	assert.Equal(t, pub, str(d, "taskChanged", "task", "id"))
	assert.Equal(t, "Public", str(d, "taskChanged", "task", "title"))
	assert.Equal(t, editorID, str(d, "taskChanged", "actor", "id"))
	assert.NotEmpty(t, str(d, "taskChanged", "at"))
	assert.Equal(t, pub, str(anon.event(t, "all"), "taskChanged", "taskId"))

	// Private and not theirs: neither the viewer nor anonymous hears of it.
	// NOTIFY keeps commit order, so the next public event arriving first
	// proves the private one was dropped.
	priv, _ := a.newTask(t, editor, map[string]any{"title": "Private", "visibility": "PRIVATE"})
	a.ok(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Public, renamed"}) { id } }`, map[string]any{"id": pub})
	d = ws.event(t, "all")
	assert.Equal(t, "UPDATED", str(d, "taskChanged", "kind"))
	assert.Equal(t, "Public, renamed", str(d, "taskChanged", "task", "title"), "the task is read after the write")
	assert.Empty(t, list(d, "taskChanged", "task", "tags"))
	d = anon.event(t, "all")
	assert.Equal(t, pub, str(d, "taskChanged", "taskId"), "the private task's event never reached the anonymous subscriber")

	// Nested fields come from a loader set per event: the tags an earlier
	// event read are not served again.
	a.ok(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["live"]) { id } }`, map[string]any{"id": pub})
	d = ws.event(t, "all")
	assert.Equal(t, "TAGS_CHANGED", str(d, "taskChanged", "kind"))
	assert.Equal(t, "live", str(d, "taskChanged", "task", "tags", 0, "name"), "tags read for this event, not the previous one")

	// Authorization per event, on the task as it is now: assigned to the
	// viewer, the private task's events reach them; unassigned, they stop.
	a.ok(t, editor, `mutation($id: ID!, $u: ID) { updateTask(id: $id, input: {assigneeId: $u}) { id } }`, map[string]any{"id": priv, "u": viewerID})
	d = ws.event(t, "all")
	assert.Equal(t, priv, str(d, "taskChanged", "task", "id"), "assigned now: visible")
	assert.Equal(t, viewerID, str(d, "taskChanged", "task", "assignee", "id"))
	a.ok(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {assigneeId: null}) { id } }`, map[string]any{"id": priv})
	a.ok(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": priv})
	a.ok(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": pub})
	d = ws.event(t, "all")
	assert.Equal(t, "DELETED", str(d, "taskChanged", "kind"), "neither the unassignment nor the private deletion reached the viewer")
	assert.Equal(t, pub, str(d, "taskChanged", "taskId"))
	assert.Nil(t, get(d, "taskChanged", "task"))
	assert.Equal(t, "TAGS_CHANGED", str(anon.event(t, "all"), "taskChanged", "kind"))
	d = anon.event(t, "all")
	assert.Equal(t, "DELETED", str(d, "taskChanged", "kind"), "the private task's assignment and deletion did not reach the anonymous subscriber")
	assert.Equal(t, pub, str(d, "taskChanged", "taskId"))
}

// TestSubscriptionFilters: taskChanged(id) follows one task; taskEvents
// passes only what its filter matches, on the task after the change.
func TestSubscriptionFilters(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := serveTestAPI(t, a.dbURL, &countingTracer{})
	_, editor := a.user(t, domain.RoleEditor)
	_, viewer := a.user(t, domain.RoleViewer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	one, _ := a.newTask(t, editor, map[string]any{"title": "One"})
	other, _ := a.newTask(t, editor, map[string]any{"title": "Other", "priority": "HIGH"})
	secret, _ := a.newTask(t, editor, map[string]any{"title": "Secret", "visibility": "PRIVATE"})

	ws, err := dialWS(ctx, b.url, viewer)
	require.NoError(t, err)
	defer ws.close()
	ws.subscribe(t, "one", taskChangedSub, map[string]any{"id": one})
	ws.subscribe(t, "started", `subscription { taskEvents(filter: {kinds: [TRANSITIONED], status: [IN_PROGRESS]}) { kind task { id status } } }`, nil)
	ws.subscribe(t, "high", `subscription { taskEvents(filter: {priority: [HIGH]}) { kind task { id priority } } }`, nil)
	ws.subscribe(t, "secret", taskChangedSub, map[string]any{"id": secret})
	ws.subscribe(t, "bad", `subscription { taskEvents(filter: {assigneeId: "nope"}) { kind } }`, nil)

	for _, c := range []struct{ id, code string }{{"secret", "NOT_FOUND"}, {"bad", "BAD_USER_INPUT"}} {
		m := ws.next(t, c.id)
		require.Contains(t, []string{"error", "next"}, m.Type, "%s: %s", c.id, m.Payload)
		assert.Contains(t, string(m.Payload), c.code, "subscription %s refused", c.id)
	}
	time.Sleep(300 * time.Millisecond)

	transition := `mutation($id: ID!, $s: TaskStatus!) { transitionTask(id: $id, status: $s) { id } }`
	a.ok(t, editor, transition, map[string]any{"id": other, "s": "READY"})
	a.ok(t, editor, transition, map[string]any{"id": one, "s": "READY"})
	a.ok(t, editor, transition, map[string]any{"id": one, "s": "IN_PROGRESS"})

	d := ws.event(t, "one")
	assert.Equal(t, "TRANSITIONED", str(d, "taskChanged", "kind"))
	assert.Equal(t, one, str(d, "taskChanged", "taskId"), "the other task's transition is not in this stream")
	assert.Equal(t, one, str(ws.event(t, "one"), "taskChanged", "taskId"))
	d = ws.event(t, "started")
	assert.Equal(t, one, str(d, "taskEvents", "task", "id"), "only the move to IN_PROGRESS matches")
	assert.Equal(t, "IN_PROGRESS", str(d, "taskEvents", "task", "status"))
	d = ws.event(t, "high")
	assert.Equal(t, other, str(d, "taskEvents", "task", "id"))
	assert.Equal(t, "TRANSITIONED", str(d, "taskEvents", "kind"))
	ws.quiet(t, "high", 500*time.Millisecond)
}

// TestSubscriptionAuth: a bad token in connection_init is refused with
// 4403; no token subscribes anonymously.
func TestSubscriptionAuth(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tok := range []string{"not-a-token", signedElsewhere(t)} {
		_, err := dialWS(ctx, a.url, tok)
		require.Error(t, err, "token %q", tok)
		assert.Equal(t, websocket.StatusCode(4403), websocket.CloseStatus(err), "token %q: %v", tok, err)
	}
	c, err := dialWS(ctx, a.url, "")
	require.NoError(t, err, "anonymous is allowed")
	c.close()
}

// signedElsewhere is a well-formed token signed with another secret.
func signedElsewhere(t *testing.T) string {
	t.Helper()
	other := newTestAPI(t, "JWT_SECRET", strings.Repeat("x", 40))
	_, tok := other.user(t, domain.RoleAdmin)
	return tok
}

// TestSlowSubscriberIsCutOffOverTheSocket: a burst larger than
// SUBSCRIPTION_BUFFER ends a subscriber that cannot keep up with an error
// it can act on (SERVICE_UNAVAILABLE), instead of holding the others back.
func TestSlowSubscriberIsCutOffOverTheSocket(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t, "SUBSCRIPTION_BUFFER", "4")
	_, editor := a.user(t, domain.RoleEditor)
	id, _ := a.newTask(t, editor, map[string]any{"title": "Busy"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := dialWS(ctx, a.url, editor)
	require.NoError(t, err)
	defer ws.close()
	ws.subscribe(t, "busy", taskChangedSub, map[string]any{"id": id})
	time.Sleep(300 * time.Millisecond)

	// 300 notifications in one statement arrive together; each event costs
	// the subscriber a read, so its buffer of 4 overflows.
	_, err = a.pool.Exec(ctx, `SELECT pg_notify($1, json_build_object('k', 'UPDATED', 't', $2::text, 'at', now(), 'n', i)::text)
		FROM generate_series(1, 300) i`, pubsub.Channel, id)
	require.NoError(t, err)
	var got int
	for {
		m := ws.next(t, "busy")
		if m.Type == "next" {
			got++
			continue
		}
		require.Equal(t, "error", m.Type, "%s", m.Payload)
		assert.Contains(t, string(m.Payload), "SERVICE_UNAVAILABLE")
		break
	}
	assert.Less(t, got, 300, "the subscriber was cut off before the burst ended")
	t.Logf("delivered %d of 300 before the cut-off", got)

	// The connection is still usable: subscribe again.
	ws.subscribe(t, "again", taskChangedSub, map[string]any{"id": id})
	time.Sleep(300 * time.Millisecond)
	a.ok(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Calm"}) { id } }`, map[string]any{"id": id})
	assert.Equal(t, "Calm", str(ws.event(t, "again"), "taskChanged", "task", "title"))
}

// TestWebsocketClosesWhenTokenExpires: a connection authorized by a JWT is
// closed when that token expires, ending its subscriptions; it is never
// kept alive on a credential that would now be refused.
func TestWebsocketClosesWhenTokenExpires(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	id, _ := a.user(t, domain.RoleViewer)
	short, err := a.authn.Sign(id, domain.RoleViewer, 2*time.Second)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := dialWS(ctx, a.url, short)
	require.NoError(t, err)
	defer ws.close()
	ws.subscribe(t, "all", `subscription { taskChanged { kind } }`, nil)
	start := time.Now()
	select {
	case <-ws.done:
		assert.GreaterOrEqual(t, time.Since(start), time.Second, "not closed before the token expired")
	case <-time.After(15 * time.Second):
		t.Fatal("the connection outlived its token")
	}
}
