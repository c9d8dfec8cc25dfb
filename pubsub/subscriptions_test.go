package pubsub_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/pubsub"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const taskChangedSub = `subscription($id: ID) { taskChanged(id: $id) { kind taskId at actor { id }
	task { id title visibility tags { name } assignee { id } } } }`

// TestSubscriptionsAcrossInstances: writes on one instance reach subscribers
// on another, after commit, with every nested field read fresh for each
// event, and only for tasks the subscriber may see at that moment.
func TestSubscriptionsAcrossInstances(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := apitest.Serve(t, a.DBURL, &apitest.Counter{})
	editorID, editor := a.User(t, domain.RoleEditor)
	viewerID, viewer := a.User(t, domain.RoleViewer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ws, err := apitest.DialWS(ctx, b.URL, viewer)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "all", taskChangedSub, nil)
	anon, err := apitest.DialWS(ctx, b.URL, "")
	require.NoError(t, err)
	defer anon.Close()
	anon.Subscribe(t, "all", `subscription { taskChanged { kind taskId } }`, nil)
	time.Sleep(300 * time.Millisecond) // the subscribe messages have been read

	pub, _ := a.NewTask(t, editor, map[string]any{"title": "Public"})
	d := ws.Event(t, "all")
	assert.Equal(t, "CREATED", apitest.Str(d, "taskChanged", "kind"))
	assert.Equal(t, pub, apitest.Str(d, "taskChanged", "task", "id"))
	assert.Equal(t, "Public", apitest.Str(d, "taskChanged", "task", "title"))
	assert.Equal(t, editorID, apitest.Str(d, "taskChanged", "actor", "id"))
	assert.NotEmpty(t, apitest.Str(d, "taskChanged", "at"))
	assert.Equal(t, pub, apitest.Str(anon.Event(t, "all"), "taskChanged", "taskId"))

	// Private and not theirs: neither the viewer nor anonymous hears of it.
	// NOTIFY keeps commit order, so the next public event arriving first
	// proves the private one was dropped.
	priv, _ := a.NewTask(t, editor, map[string]any{"title": "Private", "visibility": "PRIVATE"})
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Public, renamed"}) { id } }`, map[string]any{"id": pub})
	d = ws.Event(t, "all")
	assert.Equal(t, "UPDATED", apitest.Str(d, "taskChanged", "kind"))
	assert.Equal(t, "Public, renamed", apitest.Str(d, "taskChanged", "task", "title"), "the task is read after the write")
	assert.Empty(t, apitest.List(d, "taskChanged", "task", "tags"))
	d = anon.Event(t, "all")
	assert.Equal(t, pub, apitest.Str(d, "taskChanged", "taskId"), "the private task's event never reached the anonymous subscriber")

	// Nested fields come from a loader set per event: the tags an earlier
	// event read are not served again.
	a.OK(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["live"]) { id } }`, map[string]any{"id": pub})
	d = ws.Event(t, "all")
	assert.Equal(t, "TAGS_CHANGED", apitest.Str(d, "taskChanged", "kind"))
	assert.Equal(t, "live", apitest.Str(d, "taskChanged", "task", "tags", 0, "name"), "tags read for this event, not the previous one")

	// Authorization per event, on the task as it is now: assigned to the
	// viewer, the private task's events reach them; unassigned, they stop.
	a.OK(t, editor, `mutation($id: ID!, $u: ID) { updateTask(id: $id, input: {assigneeId: $u}) { id } }`, map[string]any{"id": priv, "u": viewerID})
	d = ws.Event(t, "all")
	assert.Equal(t, priv, apitest.Str(d, "taskChanged", "task", "id"), "assigned now: visible")
	assert.Equal(t, viewerID, apitest.Str(d, "taskChanged", "task", "assignee", "id"))
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {assigneeId: null}) { id } }`, map[string]any{"id": priv})
	a.OK(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": priv})
	a.OK(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": pub})
	d = ws.Event(t, "all")
	assert.Equal(t, "DELETED", apitest.Str(d, "taskChanged", "kind"), "neither the unassignment nor the private deletion reached the viewer")
	assert.Equal(t, pub, apitest.Str(d, "taskChanged", "taskId"))
	assert.Nil(t, apitest.Get(d, "taskChanged", "task"))
	assert.Equal(t, "TAGS_CHANGED", apitest.Str(anon.Event(t, "all"), "taskChanged", "kind"))
	d = anon.Event(t, "all")
	assert.Equal(t, "DELETED", apitest.Str(d, "taskChanged", "kind"), "the private task's assignment and deletion did not reach the anonymous subscriber")
	assert.Equal(t, pub, apitest.Str(d, "taskChanged", "taskId"))
}

// TestSubscriptionFilters: taskChanged(id) follows one task; taskEvents
// passes only what its filter matches, on the task after the change.
func TestSubscriptionFilters(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	b := apitest.Serve(t, a.DBURL, &apitest.Counter{})
	_, editor := a.User(t, domain.RoleEditor)
	_, viewer := a.User(t, domain.RoleViewer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	one, _ := a.NewTask(t, editor, map[string]any{"title": "One"})
	other, _ := a.NewTask(t, editor, map[string]any{"title": "Other", "priority": "HIGH"})
	secret, _ := a.NewTask(t, editor, map[string]any{"title": "Secret", "visibility": "PRIVATE"})

	ws, err := apitest.DialWS(ctx, b.URL, viewer)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "one", taskChangedSub, map[string]any{"id": one})
	ws.Subscribe(t, "started", `subscription { taskEvents(filter: {kinds: [TRANSITIONED], status: [IN_PROGRESS]}) { kind task { id status } } }`, nil)
	ws.Subscribe(t, "high", `subscription { taskEvents(filter: {priority: [HIGH]}) { kind task { id priority } } }`, nil)
	ws.Subscribe(t, "secret", taskChangedSub, map[string]any{"id": secret})
	ws.Subscribe(t, "bad", `subscription { taskEvents(filter: {assigneeId: "nope"}) { kind } }`, nil)

	for _, c := range []struct{ id, code string }{{"secret", "NOT_FOUND"}, {"bad", "BAD_USER_INPUT"}} {
		m := ws.Next(t, c.id)
		require.Contains(t, []string{"error", "next"}, m.Type, "%s: %s", c.id, m.Payload)
		assert.Contains(t, string(m.Payload), c.code, "subscription %s refused", c.id)
	}
	time.Sleep(300 * time.Millisecond)

	transition := `mutation($id: ID!, $s: TaskStatus!) { transitionTask(id: $id, status: $s) { id } }`
	a.OK(t, editor, transition, map[string]any{"id": other, "s": "READY"})
	a.OK(t, editor, transition, map[string]any{"id": one, "s": "READY"})
	a.OK(t, editor, transition, map[string]any{"id": one, "s": "IN_PROGRESS"})

	d := ws.Event(t, "one")
	assert.Equal(t, "TRANSITIONED", apitest.Str(d, "taskChanged", "kind"))
	assert.Equal(t, one, apitest.Str(d, "taskChanged", "taskId"), "the other task's transition is not in this stream")
	assert.Equal(t, one, apitest.Str(ws.Event(t, "one"), "taskChanged", "taskId"))
	d = ws.Event(t, "started")
	assert.Equal(t, one, apitest.Str(d, "taskEvents", "task", "id"), "only the move to IN_PROGRESS matches")
	assert.Equal(t, "IN_PROGRESS", apitest.Str(d, "taskEvents", "task", "status"))
	d = ws.Event(t, "high")
	assert.Equal(t, other, apitest.Str(d, "taskEvents", "task", "id"))
	assert.Equal(t, "TRANSITIONED", apitest.Str(d, "taskEvents", "kind"))
	ws.Quiet(t, "high", 500*time.Millisecond)
}

// TestSubscriptionAuth: a bad token in connection_init is refused with
// 4403; no token subscribes anonymously.
func TestSubscriptionAuth(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tok := range []string{"not-a-token", signedElsewhere(t)} {
		_, err := apitest.DialWS(ctx, a.URL, tok)
		require.Error(t, err, "token %q", tok)
		assert.Equal(t, websocket.StatusCode(4403), websocket.CloseStatus(err), "token %q: %v", tok, err)
	}
	c, err := apitest.DialWS(ctx, a.URL, "")
	require.NoError(t, err, "anonymous is allowed")
	c.Close()
}

// signedElsewhere is a well-formed token signed with another secret.
func signedElsewhere(t *testing.T) string {
	t.Helper()
	other := apitest.New(t, "JWT_SECRET", strings.Repeat("x", 40))
	_, tok := other.User(t, domain.RoleAdmin)
	return tok
}

// TestSlowSubscriberIsCutOffOverTheSocket: a burst larger than
// SUBSCRIPTION_BUFFER ends a subscriber that cannot keep up with an error
// it can act on (SERVICE_UNAVAILABLE), instead of holding the others back.
func TestSlowSubscriberIsCutOffOverTheSocket(t *testing.T) {
	t.Parallel()
	a := apitest.New(t, "SUBSCRIPTION_BUFFER", "4")
	_, editor := a.User(t, domain.RoleEditor)
	id, _ := a.NewTask(t, editor, map[string]any{"title": "Busy"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := apitest.DialWS(ctx, a.URL, editor)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "busy", taskChangedSub, map[string]any{"id": id})
	time.Sleep(300 * time.Millisecond)

	// 300 changes in one statement arrive together (the kinds alternate,
	// so each history row is a change of its own); each costs the
	// subscriber a read, so its buffer of 4 overflows.
	_, err = a.Pool().Exec(ctx, `WITH e AS (INSERT INTO task_events (task_id, kind, field, new_value)
			SELECT $2, CASE WHEN i % 2 = 0 THEN 'FIELD_CHANGED' ELSE 'TAG_ADDED' END::task_event_kind, 'title', i::text
			FROM generate_series(1, 300) i RETURNING 1)
		SELECT pg_notify($1, '') FROM (SELECT count(*) FROM e) n`, pubsub.Channel, id)
	require.NoError(t, err)
	var got int
	for {
		m := ws.Next(t, "busy")
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
	ws.Subscribe(t, "again", taskChangedSub, map[string]any{"id": id})
	time.Sleep(300 * time.Millisecond)
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Calm"}) { id } }`, map[string]any{"id": id})
	assert.Equal(t, "Calm", apitest.Str(ws.Event(t, "again"), "taskChanged", "task", "title"))
}

// TestWebsocketClosesWhenTokenExpires: a connection authorized by a JWT is
// closed when that token expires, ending its subscriptions; it is never
// kept alive on a credential that would now be refused.
func TestWebsocketClosesWhenTokenExpires(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	id, _ := a.User(t, domain.RoleViewer)
	// The token's expiry is a whole second (jwt.NumericDate truncates):
	// at least this, since Sign reads the clock after it.
	expires := time.Now().Add(2 * time.Second).Truncate(time.Second)
	short, err := a.Auth.Sign(id, domain.RoleViewer, 2*time.Second)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := apitest.DialWS(ctx, a.URL, short)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "all", `subscription { taskChanged { kind } }`, nil)
	select {
	case <-ws.Done():
		closed := time.Now()
		assert.False(t, closed.Before(expires), "closed at %v, before the token expired at %v", closed, expires)
	case <-time.After(15 * time.Second):
		t.Fatal("the connection outlived its token")
	}
}

// TestResumeFromCursor: subscribing with after: a cursor first delivers
// every change since it that the subscriber may see, in order, then the
// live ones; a private task's changes are left out of the replay as they
// are of the live stream; a cursor the history no longer keeps is refused
// with BAD_USER_INPUT on after, and a malformed one too.
func TestResumeFromCursor(t *testing.T) {
	t.Parallel()
	a := apitest.New(t)
	_, editor := a.User(t, domain.RoleEditor)
	_, viewer := a.User(t, domain.RoleViewer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const sub = `subscription($after: String) { taskChanged(after: $after) { kind taskId cursor } }`

	first, _ := a.NewTask(t, editor, map[string]any{"title": "First"})
	ws, err := apitest.DialWS(ctx, a.URL, viewer)
	require.NoError(t, err)
	defer ws.Close()
	ws.Subscribe(t, "live", sub, nil)
	time.Sleep(300 * time.Millisecond)
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "First, renamed"}) { id } }`, map[string]any{"id": first})
	from := apitest.Str(ws.Event(t, "live"), "taskChanged", "cursor")
	require.NotEmpty(t, from)

	// Missed while away: a private task, a public one, a tag.
	a.NewTask(t, editor, map[string]any{"title": "Secret", "visibility": "PRIVATE"})
	second, _ := a.NewTask(t, editor, map[string]any{"title": "Second"})
	a.OK(t, editor, `mutation($id: ID!) { addTaskTags(taskId: $id, tags: ["missed"]) { id } }`, map[string]any{"id": first})

	ws.Subscribe(t, "resumed", sub, map[string]any{"after": from})
	d := ws.Event(t, "resumed")
	assert.Equal(t, []string{"CREATED", second}, []string{apitest.Str(d, "taskChanged", "kind"), apitest.Str(d, "taskChanged", "taskId")},
		"the private task's creation is not replayed")
	c1 := apitest.Str(d, "taskChanged", "cursor")
	d = ws.Event(t, "resumed")
	assert.Equal(t, []string{"TAGS_CHANGED", first}, []string{apitest.Str(d, "taskChanged", "kind"), apitest.Str(d, "taskChanged", "taskId")})
	c2 := apitest.Str(d, "taskChanged", "cursor")
	assert.NotEqual(t, c1, c2)
	// Then live, once.
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Live"}) { id } }`, map[string]any{"id": second})
	d = ws.Event(t, "resumed")
	assert.Equal(t, []string{"UPDATED", second}, []string{apitest.Str(d, "taskChanged", "kind"), apitest.Str(d, "taskChanged", "taskId")})
	ws.Quiet(t, "resumed", 300*time.Millisecond)

	// Retention dropped the month of the cursor's event.
	pos, err := domain.ParseEventCursor("after", from)
	require.NoError(t, err)
	_, err = a.Pool().Exec(ctx, "DELETE FROM task_events WHERE id = $1", pos.ID)
	require.NoError(t, err)
	for name, after := range map[string]string{"expired": from, "malformed": "not-a-cursor"} {
		ws.Subscribe(t, name, sub, map[string]any{"after": after})
		m := ws.Next(t, name) // gqlgen sends a resolver's refusal as a result with errors
		require.Contains(t, []string{"next", "error"}, m.Type, "%s: %s", name, m.Payload)
		assert.Contains(t, string(m.Payload), `"data":null`, name)
		assert.Contains(t, string(m.Payload), "BAD_USER_INPUT", name)
		assert.Contains(t, string(m.Payload), `"field":"after"`, name)
	}
}

// TestStalledSubscriberDoesNotHoldUpOthers: two clients follow the same
// task on one server; one stops reading its socket altogether (a frozen
// tab), so the kernel's buffers between it and the server fill and the
// server's writes to it block. The other still receives every event, one
// batch after another, and the stalled one is cut off: its subscription by
// the broker, its connection once a write to it has waited REQUEST_TIMEOUT.
func TestStalledSubscriberDoesNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	const writeTimeout = 2 * time.Second
	// A private PostgreSQL: the log's watermark is the cluster's oldest
	// writing transaction, and other packages' tests hold row locks for
	// seconds on the shared one.
	_, dbURL := apitest.MigratedServer(t)
	a := apitest.Serve(t, dbURL, &apitest.Counter{}, "REQUEST_TIMEOUT", writeTimeout.String())
	_, editor := a.User(t, domain.RoleEditor)
	// Each event is a message of about 8 KB: the buffers fill in a few
	// hundred events.
	id, _ := a.NewTask(t, editor, map[string]any{"title": "Hot", "description": strings.Repeat("busy ", 1600)})
	const sub = `subscription($id: ID) { taskChanged(id: $id) { kind task { id description } } }`
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	healthy, err := apitest.DialWS(ctx, a.URL, editor)
	require.NoError(t, err)
	defer healthy.Close()
	healthy.Subscribe(t, "hot", sub, map[string]any{"id": id})
	stalled := dialStalled(ctx, t, a.URL, editor, sub, map[string]any{"id": id})
	defer stalled.CloseNow() //nolint:errcheck
	// both subscribe messages have been read
	time.Sleep(300 * time.Millisecond)

	// Batches smaller than SUBSCRIPTION_BUFFER (64), each received in full
	// by the healthy client before the next is sent: it never falls behind,
	// while the stalled one never reads at all.
	const batches, per = 40, 25
	for b := range batches {
		// per changes in one statement (alternating kinds, so each history
		// row is a change of its own), then the notification.
		_, err := a.Pool().Exec(ctx, `WITH e AS (INSERT INTO task_events (task_id, kind, field, new_value)
				SELECT $2, CASE WHEN i % 2 = 0 THEN 'FIELD_CHANGED' ELSE 'TAG_ADDED' END::task_event_kind, 'title', i::text
				FROM generate_series(1, $3::int) i RETURNING 1)
			SELECT pg_notify($1, '') FROM (SELECT count(*) FROM e) n`, pubsub.Channel, id, per)
		require.NoError(t, err)
		for i := range per {
			m := healthy.Next(t, "hot")
			require.Equal(t, "next", m.Type, "event %d of batch %d: %s", i, b, m.Payload)
			require.NotContains(t, string(m.Payload), `"errors"`, "event %d of batch %d", i, b)
		}
	}

	// The stalled client's last write blocked before the healthy one got the
	// last batch (the broker cut it off meanwhile, which needs a blocked
	// write): twice the write timeout later the server has closed the
	// connection. Reading now drains what the kernel buffered and then
	// meets the end of the connection, not an open socket.
	time.Sleep(2 * writeTimeout)
	stalled.SetReadLimit(1 << 20)
	readCtx, readCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readCancel()
	//
	// Under a loaded machine the stalled subscription's writer may instead
	// lag the broker by a whole buffer before the kernel's buffers fill: the
	// broker then cuts it off with no write blocked, the server writes the
	// error and has nothing left to send, and the idle connection is not
	// closed (it holds nothing but what the kernel buffered). Either way the
	// subscription ended and the healthy client got every event.
	var got int
	var endedBehind bool
	var others []string // what came that was not an event, for a failure's message
	for {
		_, b, err := stalled.Read(readCtx)
		if err != nil {
			if readCtx.Err() != nil {
				require.True(t, endedBehind, "the server never closed the stalled connection nor ended its subscription (%d events read, then %v): %v",
					got, others, err)
			}
			break
		}
		var m apitest.WSMessage
		require.NoError(t, json.Unmarshal(b, &m))
		if m.Type == "next" {
			got++
		} else {
			others = append(others, m.Type+" "+string(m.Payload[:min(len(m.Payload), 200)]))
		}
		if strings.Contains(string(m.Payload), "fell too far behind") {
			endedBehind = true
		}
	}
	assert.Less(t, got, batches*per, "the stalled client was cut off before the writes ended")
	t.Logf("the stalled client had %d of %d events buffered when it was cut off", got, batches*per)

	// The healthy connection is unaffected.
	a.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Calm"}) { id } }`, map[string]any{"id": id})
	assert.Equal(t, "UPDATED", apitest.Str(healthy.Event(t, "hot"), "taskChanged", "kind"))
}

// dialStalled opens a websocket whose receive buffer is small, initialises
// and subscribes, and then never reads: coder/websocket reads only when
// asked, so nothing drains the socket until the test calls Read.
func dialStalled(ctx context.Context, t *testing.T, url, token, query string, vars map[string]any) *websocket.Conn {
	t.Helper()
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(16 << 10) // no autotuning to megabytes
		}
		return c, err
	}}}
	conn, _, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1)+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: client})
	require.NoError(t, err)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}))
	var ack apitest.WSMessage
	require.NoError(t, wsjson.Read(ctx, conn, &ack))
	require.Equal(t, "connection_ack", ack.Type, "%s", ack.Payload)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "hot", "type": "subscribe",
		"payload": map[string]any{"query": query, "variables": vars}}))
	return conn
}
