package cache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/herotasks/api/cache"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// searchPageQuery is a small page of a search, so the cursors are used.
const searchPageQuery = `query($q: String!, $after: String) { searchTasks(query: $q, first: 3, after: $after) { totalCount
	pageInfo { hasNextPage endCursor } nodes { id title description visibility assignee { id } } } }`

// TestSearchMatchesDatabase: random writes to the searched text, the
// visibility, the assignee and the existence of tasks, by two users and
// an admin; after each, every query's pages (walked by cursor) and counts
// equal an uncached server's, for an admin, an anonymous caller and both
// users, read twice (filled, then from the cache). It fails when a write
// bumps too few generations: only the new text's lexemes, only the new
// audiences, or nothing for a plain reassignment.
func TestSearchMatchesDatabase(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, admin := api.User(t, domain.RoleAdmin)
	type user struct{ id, token string }
	var users []user
	for range 2 {
		id, tok := api.User(t, domain.RoleEditor)
		users = append(users, user{id, tok})
	}
	words := []string{"walrus", "pelican", "narwhal", "albatross"}
	rng := rand.New(rand.NewPCG(3, 9))
	phrase := func() string {
		var ws []string
		for _, w := range words {
			if rng.IntN(3) == 0 {
				ws = append(ws, w)
			}
		}
		return strings.Join(append(ws, fmt.Sprint(rng.IntN(1000))), " ")
	}
	var ids []string
	create := func() {
		u := users[rng.IntN(len(users))]
		id, _ := api.NewTask(t, u.token, map[string]any{"title": phrase(), "description": phrase(),
			"visibility": []string{"PUBLIC", "PRIVATE"}[rng.IntN(2)], "assigneeId": users[rng.IntN(len(users))].id})
		ids = append(ids, id)
	}
	for range 12 {
		create()
	}
	queries := []string{"walrus", "pelican narwhal", "walrus -albatross", "narwhal or albatross", "-pelican", "with the", "walrus-pelican"}
	viewers := []string{admin, "", users[0].token, users[1].token}
	check := func(step string) {
		t.Helper()
		for _, tok := range viewers {
			for _, q := range queries {
				after := any(nil)
				for page := 0; page < 10; page++ {
					vars := map[string]any{"q": q, "after": after}
					want := oracle.OK(t, tok, searchPageQuery, vars)
					require.Equal(t, want, api.OK(t, tok, searchPageQuery, vars), "%s: %q page %d", step, q, page)
					require.Equal(t, want, api.OK(t, tok, searchPageQuery, vars), "%s: %q page %d, again", step, q, page)
					if apitest.Get(want, "searchTasks", "pageInfo", "hasNextPage") != true {
						break
					}
					after = apitest.Get(want, "searchTasks", "pageInfo", "endCursor")
				}
			}
		}
	}
	check("seeded")
	before := searchStat(api)
	for step := range 30 {
		id := ids[rng.IntN(len(ids))]
		vars := map[string]any{"id": id}
		var what string
		switch x := rng.IntN(10); {
		case x < 3:
			what, vars["s"] = "title", phrase()
			api.OK(t, admin, `mutation($id: ID!, $s: String!) { updateTask(id: $id, input: {title: $s}) { id } }`, vars)
		case x < 4:
			what, vars["s"] = "description", phrase()
			api.OK(t, admin, `mutation($id: ID!, $s: String!) { updateTask(id: $id, input: {description: $s}) { id } }`, vars)
		case x < 5:
			what, vars["v"] = "visibility", []string{"PUBLIC", "PRIVATE"}[rng.IntN(2)]
			api.OK(t, admin, `mutation($id: ID!, $v: Visibility!) { updateTask(id: $id, input: {visibility: $v}) { id } }`, vars)
		case x < 7:
			what, vars["a"] = "reassign", users[rng.IntN(len(users))].id
			api.OK(t, admin, `mutation($id: ID!, $a: ID) { updateTask(id: $id, input: {assigneeId: $a}) { id } }`, vars)
		case x < 8:
			what = "priority"
			api.OK(t, admin, `mutation($id: ID!) { updateTask(id: $id, input: {priority: CRITICAL}) { id } }`, vars)
		case x < 9:
			what = "create"
			create()
		default:
			what = "delete"
			api.OK(t, admin, `mutation($id: ID!) { deleteTask(id: $id) }`, vars)
			for i, x := range ids {
				if x == id {
					ids = append(ids[:i], ids[i+1:]...)
					break
				}
			}
		}
		check(fmt.Sprintf("step %d (%s)", step, what))
	}
	after := searchStat(api)
	assert.Greater(t, after.Hits-before.Hits, after.Misses-before.Misses, "most reads are answered from the candidates")
}

// TestSearchSharedAcrossUsers: the public candidates of a query are one
// entry for every user and anonymous caller, each user's private ones
// their own; a user's private write retires neither the public entry nor
// another user's, and a public write to other words retires nothing. No
// user ever sees another's private task.
func TestSearchSharedAcrossUsers(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, a := api.User(t, domain.RoleEditor)
	bID, b := api.User(t, domain.RoleEditor)
	api.NewTask(t, a, map[string]any{"title": "Zanzibar harbour survey"})
	other, _ := api.NewTask(t, b, map[string]any{"title": "Quarterly numbers"})
	aPrivate, _ := api.NewTask(t, a, map[string]any{"title": "Zanzibar, A's own notes", "visibility": "PRIVATE"})
	vars := map[string]any{"q": "zanzibar"}
	read := func(tok string) (cache.Stat, map[string]any) {
		before := searchStat(api)
		d := api.OK(t, tok, searchPageQuery, vars)
		require.Equal(t, oracle.OK(t, tok, searchPageQuery, vars), d)
		after := searchStat(api)
		return cache.Stat{Hits: after.Hits - before.Hits, Misses: after.Misses - before.Misses}, d
	}
	ids := func(d map[string]any) []string {
		var out []string
		for _, n := range apitest.List(d, "searchTasks", "nodes") {
			out = append(out, apitest.Str(n, "id"))
		}
		return out
	}

	got, d := read(a)
	assert.Equal(t, cache.Stat{Hits: 2, Misses: 2}, got, "A's first read fills the public candidates and A's postings; the count reads them back")
	assert.Contains(t, ids(d), aPrivate)
	got, d = read(b)
	assert.Equal(t, cache.Stat{Hits: 3, Misses: 1}, got, "B shares the public candidates, and has postings of its own")
	assert.NotContains(t, ids(d), aPrivate, "B never sees A's private task")
	got, _ = read("")
	assert.Equal(t, cache.Stat{Hits: 2}, got, "an anonymous caller shares the public candidates")

	bPrivate, _ := api.NewTask(t, b, map[string]any{"title": "Zanzibar, B's own notes", "visibility": "PRIVATE", "assigneeId": bID})
	got, d = read(a)
	assert.Equal(t, cache.Stat{Hits: 4}, got, "B's private task retires nothing of A's")
	assert.NotContains(t, ids(d), bPrivate)
	got, d = read(b)
	assert.Equal(t, cache.Stat{Hits: 3, Misses: 1}, got, "B's postings were retired, the public candidates were kept")
	assert.Contains(t, ids(d), bPrivate)

	api.OK(t, b, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Quarterly numbers, revised"}) { id } }`, map[string]any{"id": other})
	got, _ = read(b)
	assert.Equal(t, cache.Stat{Hits: 4}, got, "a public write to other words retires nothing")

	// Assigning A's private task to B brings it into B's candidates.
	api.OK(t, a, `mutation($id: ID!, $u: ID) { updateTask(id: $id, input: {assigneeId: $u}) { id } }`, map[string]any{"id": aPrivate, "u": bID})
	_, d = read(b)
	assert.Contains(t, ids(d), aPrivate, "assigned to B, A's private task is B's to see")
	_, d = read(a)
	assert.Contains(t, ids(d), aPrivate)
}

// TestSearchRankFollowsTitleLength: a query with a lexeme in the title and
// another in the description ranks by their distance, which a longer title
// changes without moving either lexeme in its own part; the write must
// still retire the query's candidates.
func TestSearchRankFollowsTitleLength(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, admin := api.User(t, domain.RoleAdmin)
	near, _ := api.NewTask(t, admin, map[string]any{"title": "Quokka", "description": "wombat"})
	far, _ := api.NewTask(t, admin, map[string]any{"title": "Quokka census report", "description": "wombat"})
	vars := map[string]any{"q": "quokka wombat"}
	order := func(d map[string]any) []string {
		var out []string
		for _, n := range apitest.List(d, "searchTasks", "nodes") {
			out = append(out, apitest.Str(n, "id"))
		}
		return out
	}
	d := api.OK(t, admin, searchPageQuery, vars)
	require.Equal(t, []string{near, far}, order(d), "the nearer pair ranks first")
	api.OK(t, admin, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Quokka census report, full yearly edition"}) { id } }`,
		map[string]any{"id": near})
	want := oracle.OK(t, admin, searchPageQuery, vars)
	require.Equal(t, []string{far, near}, order(want), "the longer title now ranks last")
	assert.Equal(t, want, api.OK(t, admin, searchPageQuery, vars))
}

// TestSearchCreationJoinsSharedCandidates: a task created with a word joins
// the cached public and admin candidates of that word without retiring
// them; a later edit that drops the word, or a deletion, takes it out.
func TestSearchCreationJoinsSharedCandidates(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, admin := api.User(t, domain.RoleAdmin)
	_, editor := api.User(t, domain.RoleEditor)
	api.NewTask(t, admin, map[string]any{"title": "Quokka census"})
	vars := map[string]any{"q": "quokka"}
	check := func(step string, wantMisses int64) {
		t.Helper()
		for _, tok := range []string{admin, ""} {
			before := searchStat(api)
			want := oracle.OK(t, tok, searchPageQuery, vars)
			assert.Equal(t, want, api.OK(t, tok, searchPageQuery, vars), "%s (token %t)", step, tok != "")
			after := searchStat(api)
			assert.Equal(t, wantMisses, after.Misses-before.Misses, "%s (token %t): entries read again", step, tok != "")
		}
	}
	check("first read", 1)
	check("cached", 0)
	created, _ := api.NewTask(t, editor, map[string]any{"title": "Quokka habitat, new"})
	check("a creation joins the cached candidates", 0)
	d := api.OK(t, "", searchPageQuery, vars)
	require.Equal(t, 2, apitest.Num(d, "searchTasks", "totalCount"))
	api.OK(t, editor, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Wombat habitat"}) { id } }`, map[string]any{"id": created})
	check("an edit that drops the word takes it out", 1)
	other, _ := api.NewTask(t, editor, map[string]any{"title": "Quokka diet"})
	check("another creation", 0)
	api.OK(t, editor, `mutation($id: ID!) { deleteTask(id: $id) }`, map[string]any{"id": other})
	check("a deletion takes it out", 1)
}

// TestSearchAdditionsBelongToTheirEpoch: when the cache stops trusting what
// it holds (a write whose Redis work failed: here, a deletion Redis never
// heard of), the epoch moves on, and additions made before it are no longer
// merged into the candidates.
func TestSearchAdditionsBelongToTheirEpoch(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, admin := api.User(t, domain.RoleAdmin)
	api.NewTask(t, admin, map[string]any{"title": "Quokka census"})
	vars := map[string]any{"q": "quokka"}
	api.OK(t, "", searchPageQuery, vars)
	created, _ := api.NewTask(t, admin, map[string]any{"title": "Quokka habitat"})
	require.Equal(t, oracle.OK(t, "", searchPageQuery, vars), api.OK(t, "", searchPageQuery, vars))

	ctx := context.Background()
	_, err := api.Pool().Exec(ctx, "DELETE FROM tasks WHERE id = $1", created)
	require.NoError(t, err)
	require.NoError(t, api.Redis.Incr(ctx, api.Cache.Keys().Epoch()).Err())
	assert.Equal(t, oracle.OK(t, "", searchPageQuery, vars), api.OK(t, "", searchPageQuery, vars),
		"the addition of the deleted task belongs to the retired epoch")
}

// TestSearchPostingsOverTheCap: a user whose private tasks hold more
// postings than the cache keeps gets a marker instead of the hash, and
// their searches are still the database's, through entries of their own.
func TestSearchPostingsOverTheCap(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	api.Cache.SetSearchPostingsMax(3)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, user := api.User(t, domain.RoleEditor)
	mine, _ := api.NewTask(t, user, map[string]any{"title": "Quokka notes one", "visibility": "PRIVATE"})
	api.NewTask(t, user, map[string]any{"title": "Quokka notes two", "visibility": "PRIVATE"})
	api.NewTask(t, user, map[string]any{"title": "Public quokka"})
	vars := map[string]any{"q": "quokka"}
	for i := range 2 {
		want := oracle.OK(t, user, searchPageQuery, vars)
		require.Equal(t, want, api.OK(t, user, searchPageQuery, vars), "read %d", i)
		require.Equal(t, 3, apitest.Num(want, "searchTasks", "totalCount"))
	}
	keys, err := api.Redis.Keys(context.Background(), strings.TrimSuffix(api.Cache.Keys().Epoch(), ":epoch")+":sp:*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys, "the postings key holds a marker")
	for _, k := range keys {
		fields, err := api.Redis.HGetAll(context.Background(), k).Result()
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"~": "big"}, fields, "over the cap: no postings kept")
	}
	api.OK(t, user, `mutation($id: ID!) { updateTask(id: $id, input: {title: "Wombat notes"}) { id } }`, map[string]any{"id": mine})
	assert.Equal(t, oracle.OK(t, user, searchPageQuery, vars), api.OK(t, user, searchPageQuery, vars), "after an edit")
}

// TestSearchTextsOfOneQueryShareAnEntry: texts that make the same query
// (case, punctuation, stop words, the order of words joined by AND) share
// one entry, and the answers are an uncached server's; a phrase, whose
// order matters, does not share with its reverse.
func TestSearchTextsOfOneQueryShareAnEntry(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, a := api.User(t, domain.RoleEditor)
	api.NewTask(t, a, map[string]any{"title": "Zanzibar harbour survey"})
	api.NewTask(t, a, map[string]any{"title": "Harbour of Zanzibar, the survey"})
	api.NewTask(t, a, map[string]any{"title": "Zanzibar ferry timetable"})
	misses := func(text string) int64 {
		vars := map[string]any{"q": text}
		before := searchStat(api)
		require.Equal(t, oracle.OK(t, "", searchPageQuery, vars), api.OK(t, "", searchPageQuery, vars), text)
		return searchStat(api).Misses - before.Misses
	}
	assert.Equal(t, int64(1), misses("zanzibar harbour"), "the first text fills the entry")
	for _, text := range []string{"Harbour Zanzibar", "the harbour, zanzibar!", "ZANZIBAR and harbours"} {
		assert.Zero(t, misses(text), "%q is the same query", text)
	}
	assert.Equal(t, int64(1), misses(`"zanzibar harbour"`), "a phrase is another query")
	assert.Equal(t, int64(1), misses(`"harbour zanzibar"`), "and its reverse another still")
	assert.Equal(t, int64(1), misses("zanzibar or harbour"), "so is an OR")
}

// TestSearchPrivateAndFromPostings: a query whose words every match holds
// (AND, a phrase) finds no private candidates without a statement when the
// user's postings show that none of their tasks holds every word, though
// each word is held; when one task holds them all, or a word's postings
// are full (and may have been cut), it reads them. The answers are an
// uncached server's. Answering "none" whenever some word is missing from
// one task, or trusting a full posting, fails it.
func TestSearchPrivateAndFromPostings(t *testing.T) {
	apitest.RequireRedis(t)
	api := apitest.New(t)
	oracle := apitest.Serve(t, api.DBURL, nil, "ENTITY_CACHE", "off")
	_, user := api.User(t, domain.RoleEditor)
	for _, title := range []string{"Quokka notes", "Wombat diary", "Quokka wombat plans", "Numbat notes", "Dingo diary"} {
		api.NewTask(t, user, map[string]any{"title": title, "visibility": "PRIVATE"})
	}
	api.NewTask(t, user, map[string]any{"title": "Public numbat diary"})
	// The postings are filled by a one-word query.
	read := func(q string) {
		t.Helper()
		vars := map[string]any{"q": q}
		assert.Equal(t, oracle.OK(t, user, searchPageQuery, vars), api.OK(t, user, searchPageQuery, vars), q)
	}
	read("quokka")
	for _, c := range []struct {
		q     string
		fills int64 // the public entry, and the private one when read
	}{
		{"numbat diary", 1},        // each word held by a private task, none holds both
		{"\"dingo notes\"", 1},     // a phrase: the same
		{"quokka wombat", 2},       // one private task holds both
		{"quokka plans wombat", 2}, // and all three
		{"quokka or dingo", 2},     // not every match holds every word: read
	} {
		before := searchStat(api).Fills
		read(c.q)
		assert.Equal(t, c.fills, searchStat(api).Fills-before, "%s: entries filled", c.q)
	}

	// A word's postings keep its newest 100 tasks: the oldest, the only one
	// with both words, is not in them, and must still be found beside the
	// public match (a search that finds nothing at all is asked again of
	// PostgreSQL, which would hide the loss).
	api.NewTask(t, user, map[string]any{"title": "Koala emu", "visibility": "PRIVATE"})
	api.NewTask(t, user, map[string]any{"title": "Public koala emu"})
	for i := range domain.MaxSearchCandidates {
		api.NewTask(t, user, map[string]any{"title": fmt.Sprintf("Koala %d", i), "visibility": "PRIVATE"})
	}
	read("koala")
	before := searchStat(api).Fills
	read("koala emu")
	assert.Equal(t, int64(2), searchStat(api).Fills-before, "a full posting: the private entry is read")
}
