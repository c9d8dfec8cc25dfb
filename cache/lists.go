package cache

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/herotasks/api/domain"
	"github.com/redis/go-redis/v9"
)

// The list index keeps the first pages of the lists a frontend reads most
// (every task, a status board, someone's tasks, someone's active tasks; by
// creation, last change or due date) answerable without PostgreSQL, under
// writes: a list's order is a Redis sorted set that the writes themselves
// update, as Noria and ReadySet maintain query results, instead of a cached
// answer that every write into the list would retire.
//
// Partitions. A task state belongs to partitions named audience|dimension:
// the audiences are "all" (what admins see), "pub" for a public task, and
// "u:<id>" for each user who may see a private one (its creator and its
// assignee); the dimensions are "" (no filter), "st:<status>",
// "as:<assignee>" and "as:<assignee>:act" for the active statuses. A list
// is the merge of its viewer's audiences in one dimension: "pub" and
// "u:<me>" for a signed-in user, which are disjoint. Each partition has one
// sorted set per order field ("c", "u", "d"), the score being the sort key
// in microseconds (+inf for no due date) and ties falling to the member,
// the id, as in PostgreSQL's keyset order. A set holds its whole partition
// and a sentinel member, so an empty partition is told from an absent set.
//
// Coherence. Sets are filled whole from PostgreSQL on the first read, and
// then changed only by writes, after commit and before the write answers:
// one script removes the task from every set its last recorded state was in
// (and the state its write found under the row lock) and adds it, with its
// new keys, to the existing sets of its new state. A per-task record
// (version and partitions) orders writes whose scripts arrive out of commit
// order: an older version never overwrites a newer one, and removal follows
// what the sets hold, not what the writer thought. A fill holds a lease on
// its set from before its statement to the install; a write that finds the
// set absent and the lease held logs the task, and the install takes each
// row unless the task's record is newer, then replays the logged tasks from
// their records, so a snapshot never hides a write that has run its script
// (a write still to run its script finds the set and applies itself), and
// a hot partition is filled at the first try however often it is written.
// A fill whose lease expired installs nothing. Everything lives under the cache
// epoch, so a lost write (Redis unreachable) retires the index with the
// entities. Records outlive every set (their TTL is renewed past the sets'
// on every fill and write), so a set never holds a task its record forgot.

// listOrders are the order fields the index keeps, with their set suffix.
var listOrders = []listOrder{{domain.OrderCreatedAt, "c"}, {domain.OrderUpdatedAt, "u"}, {domain.OrderDueDate, "d"}}

type listOrder struct {
	field  domain.TaskOrderField
	suffix string
}

// listMaxPartition is the largest partition the index keeps: a larger one
// would cost a long read and install, and hold memory, for pages that
// PostgreSQL's keyset indexes serve well. Its lists are read from
// PostgreSQL; a marker remembers that for as long as a set would live.
const listMaxPartition = 25_000

// listFillChunk is how many rows of a partition one call stages: a few
// milliseconds of Redis's time, well inside the reads' timeout, so a fill
// of a large partition lets other clients' commands run between its chunks.
const listFillChunk = 500

// listSentinel is the member every set holds so that it exists while its
// partition is empty; it sorts after every id.
const listSentinel = "~"

// listPartitions are the partitions a task state belongs to.
func listPartitions(t *domain.Task) []string {
	auds := domain.Audiences(t)
	dims := []string{"", "st:" + string(t.Status)}
	if t.AssigneeID != nil {
		dims = append(dims, "as:"+*t.AssigneeID)
		if t.Status.Active() {
			dims = append(dims, "as:"+*t.AssigneeID+":act")
		}
	}
	out := make([]string, 0, len(auds)*len(dims))
	for _, a := range auds {
		for _, d := range dims {
			out = append(out, a+"|"+d)
		}
	}
	return out
}

// listRecord is what the index remembers of a task's state: its version,
// partitions and scores ("version;p1,p2;c;u;d"); t nil for a deleted task.
func listRecord(version int, t *domain.Task) string {
	if t == nil {
		return strconv.Itoa(version) + ";;;;"
	}
	sc := listScores(t)
	return strconv.Itoa(version) + ";" + strings.Join(listPartitions(t), ",") + ";" + sc[0] + ";" + sc[1] + ";" + sc[2]
}

// listScores are t's sort keys in the order of listOrders.
func listScores(t *domain.Task) [3]string {
	due := "+inf"
	if t.DueDate != nil {
		due = strconv.FormatInt(t.DueDate.UnixMicro(), 10)
	}
	return [3]string{strconv.FormatInt(t.CreatedAt.UnixMicro(), 10), strconv.FormatInt(t.UpdatedAt.UnixMicro(), 10), due}
}

// listShape is an indexable list request: the partitions to merge, the
// order's set suffix and direction.
type listShape struct {
	parts  []string
	suffix string
	desc   bool
	order  domain.TaskOrder
}

// indexable reports whether the index answers q: a first page forward, no
// tag, in an indexed order, filtered by nothing, one status, or an assignee
// (with or without active).
func indexable(q domain.TaskQuery, tagID string) (listShape, bool) {
	if q.After != "" || q.Backward || tagID != "" || q.First <= 0 {
		return listShape{}, false
	}
	order := q.Order
	if !order.Field.Valid() {
		order = domain.DefaultTaskOrder
	}
	if !order.Direction.Valid() {
		order.Direction = domain.Desc
	}
	sh := listShape{desc: order.Direction == domain.Desc, order: order}
	for _, o := range listOrders {
		if o.field == order.Field {
			sh.suffix = o.suffix
		}
	}
	dim, ok := listDimension(q.Filter)
	if sh.suffix == "" || !ok {
		return listShape{}, false
	}
	sh.parts = viewerPartitions(q.Viewer, dim)
	return sh, true
}

// listDimension is the dimension a filter selects, if the index has it.
func listDimension(f domain.TaskFilter) (string, bool) {
	if len(f.Priority) > 0 || len(f.Type) > 0 || len(f.Phase) > 0 || f.Unassigned != nil || f.Tag != nil ||
		f.DueBefore != nil || f.DueAfter != nil || f.Overdue != nil || f.Visibility != nil || f.CreatedByID != nil {
		return "", false
	}
	switch {
	case f.AssigneeID != nil && len(f.Status) == 0 && f.Active == nil:
		return "as:" + *f.AssigneeID, true
	case f.AssigneeID != nil && len(f.Status) == 0 && *f.Active:
		return "as:" + *f.AssigneeID + ":act", true
	case f.AssigneeID == nil && len(f.Status) == 1 && f.Active == nil:
		return "st:" + string(f.Status[0]), true
	case f.AssigneeID == nil && len(f.Status) == 0 && f.Active == nil:
		return "", true
	}
	return "", false
}

// viewerPartitions are the disjoint partitions whose union v sees in dim.
func viewerPartitions(v domain.Viewer, dim string) []string {
	auds := domain.ViewerAudiences(v)
	for i, a := range auds {
		auds[i] = a + "|" + dim
	}
	return auds
}

// partitionQuery is the query whose rows are exactly a partition.
func partitionQuery(part string, field domain.TaskOrderField, limit int) domain.TaskQuery {
	aud, dim, _ := strings.Cut(part, "|")
	// In the set's order, so the statement walks the index that serves the list.
	q := domain.TaskQuery{First: limit, Order: domain.TaskOrder{Field: field, Direction: domain.Desc}}
	switch {
	case aud == "all":
		q.Viewer = domain.Viewer{Role: domain.RoleAdmin}
	case aud == "pub":
		q.Viewer = domain.Viewer{} // anonymous: public tasks only
	default:
		private := domain.VisibilityPrivate
		q.Viewer = domain.Viewer{UserID: strings.TrimPrefix(aud, "u:"), Role: domain.RoleViewer}
		q.Filter.Visibility = &private
	}
	switch {
	case strings.HasPrefix(dim, "st:"):
		q.Filter.Status = []domain.TaskStatus{domain.TaskStatus(strings.TrimPrefix(dim, "st:"))}
	case strings.HasPrefix(dim, "as:"):
		id, act := strings.CutSuffix(strings.TrimPrefix(dim, "as:"), ":act")
		q.Filter.AssigneeID = &id
		if act {
			q.Filter.Active = &act
		}
	}
	return q
}

// listBase is the key prefix of the index; the epoch follows it.
func (c *Cache) listBase() string { return c.keys.prefix + ":li:" }

// listReadScript reads, for each set ARGV[6..], its size without the
// sentinel and its first ARGV[2]+1 members with scores (reversed when
// ARGV[3] is 1). An absent set answers {-1, lease} when this reader took
// its fill lease (ARGV[5] and the set's position), {-2} when another reader
// holds it, {-3} for a partition too big to keep. The epoch comes first.
var listReadScript = redis.NewScript(`local ep = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ep .. ':'
local out = {ep}
for i = 6, #ARGV do
  local k = base .. ARGV[i]
  local n = redis.call('ZCARD', k)
  if n == 0 and redis.call('EXISTS', base .. 'big:' .. ARGV[i]) == 1 then
    out[#out + 1] = {-3}
  elseif n == 0 then
    local lease = ARGV[5] .. i
    if redis.call('SET', base .. 'lease:' .. ARGV[i], lease, 'NX', 'PX', ARGV[4]) then
      redis.call('DEL', base .. 'log:' .. ARGV[i])
      out[#out + 1] = {-1, lease}
    else
      out[#out + 1] = {-2}
    end
  else
    local r
    if ARGV[3] == '1' then
      r = redis.call('ZRANGE', k, 0, tonumber(ARGV[2]), 'REV', 'WITHSCORES')
    else
      r = redis.call('ZRANGE', k, 0, tonumber(ARGV[2]), 'WITHSCORES')
    end
    table.insert(r, 1, n - 1)
    out[#out + 1] = r
  end
end
return out`)

// listCountScript counts each partition ARGV[2..] from whichever of its
// sets exists (they all hold the whole partition); -1 when none does.
var listCountScript = redis.NewScript(`local ep = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ep .. ':'
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = -1
  for _, s in ipairs({'u', 'c', 'd'}) do
    local n = redis.call('ZCARD', base .. ARGV[i] .. '|' .. s)
    if n > 0 then
      out[#out] = n - 1
      break
    end
  end
end
return out`)

// listStageScript adds rows ARGV[8..] (in threes: id, record, score) of a
// partition being filled (ARGV[3] partition, ARGV[4] order suffix, ARGV[5]
// the lease the reader took before its statement) to the fill's own staging
// set, in epoch ARGV[2], while the lease is still the reader's. A row is
// taken unless the task's record is newer (a write committed after the
// statement and has run its script: that write was logged for the fill
// to replay). A fill stages its rows a chunk per call (listFillChunk), so
// a partition of thousands of tasks does not hold Redis for the whole of
// it.
var listStageScript = redis.NewScript(`local ep = redis.call('GET', KEYS[1]) or '0'
if ep ~= ARGV[2] then return 0 end
local base = ARGV[1] .. ep .. ':'
local key = ARGV[3] .. '|' .. ARGV[4]
if redis.call('GET', base .. 'lease:' .. key) ~= ARGV[5] then return 0 end
local stage, rec = base .. 'stage:' .. key .. ':' .. ARGV[5], base .. 'rec'
local z = {}
local function version(r) return tonumber(string.match(r, '^(%d+);')) end
for i = 8, #ARGV, 3 do
  local cur = redis.call('HGET', rec, ARGV[i])
  if not cur then
    redis.call('HSET', rec, ARGV[i], ARGV[i + 1])
  end
  if not cur or version(cur) <= version(ARGV[i + 1]) then
    z[#z + 1] = ARGV[i + 2]
    z[#z + 1] = ARGV[i]
    if #z >= 1000 then
      redis.call('ZADD', stage, unpack(z))
      z = {}
    end
  end
end
if #z > 0 then redis.call('ZADD', stage, unpack(z)) end
redis.call('PEXPIRE', stage, ARGV[6])
redis.call('PEXPIRE', rec, ARGV[7])
return 1`)

// listFillScript installs a partition's set (ARGV[3] partition, ARGV[4]
// order suffix, ARGV[5] the lease the reader took before its statement) in
// epoch ARGV[2] from the rows it staged (listStageScript), with the
// sentinel ARGV[8], while the lease is still the reader's; then the writes
// logged while the lease was held are replayed from their records. Writes
// still to run their scripts find the set and apply themselves.
var listFillScript = redis.NewScript(`local ep = redis.call('GET', KEYS[1]) or '0'
if ep ~= ARGV[2] then return 0 end
local base = ARGV[1] .. ep .. ':'
local key = ARGV[3] .. '|' .. ARGV[4]
local set, lease, log = base .. key, base .. 'lease:' .. key, base .. 'log:' .. key
local stage = base .. 'stage:' .. key .. ':' .. ARGV[5]
if redis.call('GET', lease) ~= ARGV[5] then
  redis.call('DEL', stage)
  return 0
end
redis.call('DEL', lease)
if redis.call('EXISTS', set) == 1 then
  redis.call('DEL', log, stage)
  return 0
end
local rec = base .. 'rec'
if redis.call('EXISTS', stage) == 1 then redis.call('RENAME', stage, set) end
redis.call('ZADD', set, ARGV[8], '~')
local field = ({c = 3, u = 4, d = 5})[ARGV[4]]
for _, id in ipairs(redis.call('LRANGE', log, 0, -1)) do
  local cur = redis.call('HGET', rec, id)
  if cur then
    local f = {}
    for x in string.gmatch(cur .. ';', '([^;]*);') do f[#f + 1] = x end
    if string.find(',' .. f[2] .. ',', ',' .. ARGV[3] .. ',', 1, true) then
      redis.call('ZADD', set, f[field], id)
    else
      redis.call('ZREM', set, id)
    end
  end
end
redis.call('DEL', log)
redis.call('PEXPIRE', set, ARGV[6])
redis.call('PEXPIRE', rec, ARGV[7])
return 1`)

// listWriteScript applies a committed task state (ARGV[2] id, ARGV[3] its
// record: version;partitions;scores, the partitions empty once deleted;
// ARGV[4] the partitions of the state the write found) unless a newer
// version was applied: out of every set the last recorded state or the
// found state was in, into the existing sets of the new state, with its
// new scores. Where a set is being filled (its lease is held), the write
// is logged for the fill to replay.
var listWriteScript = redis.NewScript(`local ep = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ep .. ':'
local rec, id = base .. 'rec', ARGV[2]
local function fields(r)
  local f = {}
  for x in string.gmatch(r .. ';', '([^;]*);') do f[#f + 1] = x end
  return f
end
local now = fields(ARGV[3])
local cur = redis.call('HGET', rec, id)
local parts, seen = {}, {}
local function note(list)
  for p in string.gmatch(list, '[^,]+') do
    if not seen[p] then seen[p] = true; parts[#parts + 1] = p end
  end
end
if cur then
  local was = fields(cur)
  if tonumber(was[1]) >= tonumber(now[1]) then return 0 end
  note(was[2])
end
note(ARGV[4])
local isnew = {}
for p in string.gmatch(now[2], '[^,]+') do isnew[p] = true end
note(now[2])
local sfx = {'c', 'u', 'd'}
for _, p in ipairs(parts) do
  local sets, leases = {}, {}
  for i, s in ipairs(sfx) do
    sets[i] = base .. p .. '|' .. s
    leases[i] = base .. 'lease:' .. p .. '|' .. s
  end
  -- Most partitions have no set and no fill under way: one call each tells.
  local nsets = redis.call('EXISTS', unpack(sets))
  local nleases = nsets < 3 and redis.call('EXISTS', unpack(leases)) or 0
  if nsets + nleases > 0 then
    for i, s in ipairs(sfx) do
      if nsets > 0 and redis.call('EXISTS', sets[i]) == 1 then
        if isnew[p] then
          redis.call('ZADD', sets[i], now[2 + i], id)
        else
          redis.call('ZREM', sets[i], id)
        end
      elseif nleases > 0 and redis.call('EXISTS', leases[i]) == 1 then
        local log = base .. 'log:' .. p .. '|' .. s
        redis.call('RPUSH', log, id)
        redis.call('PEXPIRE', log, ARGV[5])
      end
    end
  end
end
redis.call('HSET', rec, id, ARGV[3])
redis.call('PEXPIRE', rec, ARGV[6])
return 1`)

// listSetTTL is how long a filled set lives; records are kept longer than
// any set (listRecordTTL), write logs as long as a lease.
func (c *Cache) listSetTTL() int64 { return c.opts.RelationTTL.Milliseconds() }

func (c *Cache) listRecordTTL() int64 { return 2*c.opts.RelationTTL.Milliseconds() + 60_000 }

// listEntry is one member of a set read.
type listEntry struct {
	id    string
	score float64
}

// listSet is one partition's set as read: its size without the sentinel
// and its first members, or (n < 0) what listReadScript answers for a set
// that is not there.
type listSet struct {
	n       int64
	entries []listEntry
	lease   string // n == -1: the fill lease this reader took
}

// listPlain reads sh's sets with plain commands (ZCARD, ZRANGE) under the
// epoch this instance last saw, and the epoch after them: since epochs only
// grow, an epoch that has not moved by then was the epoch throughout. A
// script would cost Redis the conversion of every member to Lua and back,
// most of a board's Redis time. ok is false before the first scripted
// read, when the epoch moved, or when a set is missing: the script then
// takes the fill lease.
func (s *store) listPlain(ctx context.Context, sh listShape, first int) (sets []listSet, epoch string, ok bool) {
	cards := make([]*redis.IntCmd, len(sh.parts))
	ranges := make([]*redis.ZSliceCmd, len(sh.parts))
	epoch, ok = s.c.plainListRead(ctx, func(ctx context.Context, pipe redis.Pipeliner, base string) {
		for i, p := range sh.parts {
			key := base + p + "|" + sh.suffix
			cards[i] = pipe.ZCard(ctx, key)
			ranges[i] = pipe.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: key, Start: 0, Stop: int64(first) + 1, Rev: sh.desc})
		}
	})
	if !ok {
		return nil, "", false
	}
	sets = make([]listSet, len(sh.parts))
	for i := range sh.parts {
		n := cards[i].Val()
		if n == 0 {
			return nil, "", false
		}
		sets[i].n = n - 1
		for _, z := range ranges[i].Val() {
			if id, _ := z.Member.(string); id != listSentinel {
				sets[i].entries = append(sets[i].entries, listEntry{id, z.Score})
			}
		}
	}
	return sets, epoch, true
}

// plainListRead sends the commands queue adds (keys under base, the index's
// prefix in the epoch this instance last saw) and then a GET of the epoch,
// in one round trip. ok is false before the first scripted read, when Redis
// failed, or when the epoch moved (which it records): since epochs only
// grow, an epoch that has not moved by the GET was the epoch throughout.
func (c *Cache) plainListRead(ctx context.Context, queue func(ctx context.Context, pipe redis.Pipeliner, base string)) (epoch string, ok bool) {
	known := c.listEpoch.Load()
	if known == nil {
		return "", false
	}
	var now *redis.StringCmd
	err := c.do(ctx, func(ctx context.Context) error {
		pipe := c.rdb.Pipeline()
		queue(ctx, pipe, c.listBase()+*known+":")
		now = pipe.Get(ctx, c.keys.Epoch())
		_, err := pipe.Exec(ctx)
		return err
	})
	if err != nil {
		return "", false
	}
	epoch, err = now.Result()
	if err == redis.Nil {
		epoch = "0"
	} else if err != nil {
		return "", false
	}
	if epoch != *known {
		c.listEpoch.Store(&epoch)
		return "", false
	}
	return epoch, true
}

// listScripted reads sh's sets with listReadScript, which also takes the
// fill lease of a set that is not there.
func (s *store) listScripted(ctx context.Context, sh listShape, first int) (sets []listSet, epoch string, ok bool) {
	c := s.c
	args := make([]any, 0, 5+len(sh.parts))
	rev := "0"
	if sh.desc {
		rev = "1"
	}
	args = append(args, c.listBase(), first+1, rev, c.opts.LeaseTTL.Milliseconds(), newLease())
	for _, p := range sh.parts {
		args = append(args, p+"|"+sh.suffix)
	}
	var res []any
	err := c.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = listReadScript.Run(ctx, c.rdb, []string{c.keys.Epoch()}, args...).Slice()
		return err
	})
	if err != nil || len(res) != 1+len(sh.parts) {
		return nil, "", false
	}
	epoch, _ = res[0].(string)
	c.listEpoch.Store(&epoch)
	sets = make([]listSet, len(sh.parts))
	for i := range sh.parts {
		r, _ := res[1+i].([]any)
		if len(r) == 0 {
			return nil, "", false
		}
		sets[i].n, _ = r[0].(int64)
		if sets[i].n == -1 && len(r) > 1 {
			sets[i].lease, _ = r[1].(string)
		}
		if sets[i].n < 0 {
			continue
		}
		for j := 1; j+1 < len(r); j += 2 {
			id, _ := r[j].(string)
			if id == listSentinel {
				continue
			}
			sc, _ := r[j+1].(string)
			f, err := strconv.ParseFloat(sc, 64)
			if err != nil {
				return nil, "", false
			}
			sets[i].entries = append(sets[i].entries, listEntry{id, f})
		}
	}
	return sets, epoch, true
}

// listIDs answers an indexable list from the index: the ids of its first
// page, whether more follow, and the list's size. ok is false when the
// index could not (Redis unusable, a set not filled yet); the caller reads
// PostgreSQL then. A missing set is filled first when this reader holds its
// lease.
func (s *store) listIDs(ctx context.Context, sh listShape, first int) (ids []string, more bool, total int, ok bool) {
	c := s.c
	if c.cluster || !c.usable(ctx) {
		return nil, false, 0, false
	}
	for attempt := 0; attempt < 2; attempt++ {
		sets, epoch, ok := s.listPlain(ctx, sh, first)
		if !ok {
			if sets, epoch, ok = s.listScripted(ctx, sh, first); !ok {
				c.stats.kinds[KindList].errors.Add(1)
				return nil, false, 0, false
			}
		}
		var merged []listEntry
		filled := false
		for i, p := range sh.parts {
			switch r := sets[i]; r.n {
			case -1:
				s.fillList(ctx, epoch, p, sh.suffix, r.lease)
				filled = true
				continue
			case -2, -3:
				c.stats.kinds[KindList].misses.Add(1)
				return nil, false, 0, false
			default:
				total += int(r.n)
				merged = append(merged, r.entries...)
			}
		}
		if filled {
			total = 0
			c.stats.kinds[KindList].misses.Add(1)
			continue // read again what was just filled
		}
		slices.SortFunc(merged, func(a, b listEntry) int {
			r := cmp.Or(cmp.Compare(a.score, b.score), strings.Compare(a.id, b.id))
			if sh.desc {
				return -r
			}
			return r
		})
		if len(merged) > first {
			merged, more = merged[:first], true
		}
		ids = make([]string, len(merged))
		for i, e := range merged {
			ids[i] = e.id
		}
		c.stats.kinds[KindList].hits.Add(1)
		return ids, more, total, true
	}
	return nil, false, 0, false
}

// fillList reads a whole partition from the primary and installs its set
// for order suffix sfx while it holds the lease (listFillScript).
func (s *store) fillList(ctx context.Context, epoch, part, sfx, lease string) {
	c := s.c
	idx := slices.IndexFunc(listOrders, func(o listOrder) bool { return o.suffix == sfx })
	// Only the tasks' states: the index keeps ids, versions, partitions and
	// scores, and the rows come from the entity cache when a page is read.
	tasks, more, err := s.Store.ListTaskStates(domain.ReadPrimary(ctx), partitionQuery(part, listOrders[idx].field, c.listMax))
	if err != nil {
		return
	}
	if hook := c.afterListLoad.Load(); hook != nil {
		(*hook)(part)
	}
	if more {
		err := c.do(ctx, func(ctx context.Context) error {
			return c.rdb.Set(ctx, c.listBase()+epoch+":big:"+part+"|"+sfx, "1", c.opts.RelationTTL).Err()
		})
		if err != nil {
			c.stats.kinds[KindList].errors.Add(1)
		}
		return
	}
	// The rows go to Redis a chunk per call, so that other clients' commands
	// run between them; the set appears whole, with the writes logged
	// meanwhile replayed, in the last call.
	head := []any{c.listBase(), epoch, part, sfx, lease, c.listSetTTL(), c.listRecordTTL()}
	// A staging set lives as long as a lease could: a reader that dies
	// mid-fill leaves nothing behind for long.
	stageHead := []any{c.listBase(), epoch, part, sfx, lease, 2 * c.opts.LeaseTTL.Milliseconds(), c.listRecordTTL()}
	for len(tasks) > 0 {
		chunk := tasks[:min(len(tasks), c.listChunk)]
		tasks = tasks[len(chunk):]
		args := append(make([]any, 0, len(stageHead)+3*len(chunk)), stageHead...)
		for _, t := range chunk {
			args = append(args, t.ID, listRecord(t.Version, t), listScores(t)[idx])
		}
		var staged int64
		err := c.do(ctx, func(ctx context.Context) error {
			var err error
			staged, err = listStageScript.Run(ctx, c.rdb, []string{c.keys.Epoch()}, args...).Int64()
			return err
		})
		if err != nil {
			c.stats.kinds[KindList].errors.Add(1)
			return
		}
		if staged == 0 {
			return // the lease or the epoch is gone: another reader fills
		}
		if hook := c.afterListChunk.Load(); hook != nil {
			(*hook)(part)
		}
	}
	var installed int64
	err = c.do(ctx, func(ctx context.Context) error {
		var err error
		installed, err = listFillScript.Run(ctx, c.rdb, []string{c.keys.Epoch()}, append(head, "+inf")...).Int64()
		return err
	})
	if err != nil {
		c.stats.kinds[KindList].errors.Add(1)
		return
	}
	c.stats.kinds[KindList].fills.Add(installed)
}

// ListTasks answers the first pages the index keeps from Redis, the rows
// through the entity cache; any other page, and any page the index cannot
// answer now, from PostgreSQL, whose statement brings the rows with it.
func (s *store) ListTasks(ctx context.Context, q domain.TaskQuery, tagID string) (*domain.TaskPage, error) {
	sh, ok := indexable(q, tagID)
	if !ok {
		return s.Store.ListTasks(ctx, q, tagID)
	}
	cur, canCursor := s.Store.(domain.TaskCursors)
	if !canCursor {
		return s.Store.ListTasks(ctx, q, tagID)
	}
	ids, more, total, ok := s.listIDs(ctx, sh, q.First)
	if !ok {
		return s.Store.ListTasks(ctx, q, tagID)
	}
	s.c.pageAhead(ctx, ids)
	m, err := s.tasks(ctx, ids)
	if err != nil {
		return nil, err
	}
	page := &domain.TaskPage{HasNextPage: more, Total: &total, Edges: make([]domain.TaskEdge, 0, len(ids))}
	// Boards ask for the end cursor, not each card's.
	encode := func(t *domain.Task) string { return cur.TaskCursor(t, sh.order) }
	for _, id := range ids {
		t, ok := m[id]
		if !ok || !t.VisibleTo(q.Viewer) {
			continue // deleted, or turned private, by a write that answered after the set was read
		}
		page.Edges = append(page.Edges, domain.LazyTaskEdge(t, encode))
	}
	return page, nil
}

// listCountPlain counts each partition from whichever of its sets exists,
// as listCountScript does, with plain commands (plainListRead); ok is false
// when it cannot.
func (s *store) listCountPlain(ctx context.Context, parts []string) (counts []int64, ok bool) {
	cards := make([]*redis.IntCmd, 0, 3*len(parts))
	if _, ok = s.c.plainListRead(ctx, func(ctx context.Context, pipe redis.Pipeliner, base string) {
		for _, p := range parts {
			for _, sfx := range []string{"u", "c", "d"} {
				cards = append(cards, pipe.ZCard(ctx, base+p+"|"+sfx))
			}
		}
	}); !ok {
		return nil, false
	}
	counts = make([]int64, len(parts))
	for i := range parts {
		counts[i] = -1
		for _, card := range cards[3*i : 3*i+3] {
			if n := card.Val(); n > 0 {
				counts[i] = n - 1
				break
			}
		}
		if counts[i] < 0 {
			return nil, false
		}
	}
	return counts, true
}

// CountTasks counts an indexable list from the sizes of its partitions'
// sets, in whichever order a list filled them; it fills none itself (the
// list beside it fills the order it needs).
func (s *store) CountTasks(ctx context.Context, v domain.Viewer, f domain.TaskFilter, tagID string) (int, error) {
	if sh, ok := indexable(domain.TaskQuery{Viewer: v, Filter: f, First: 1}, tagID); ok && !s.c.cluster && s.c.usable(ctx) {
		counts, ok := s.listCountPlain(ctx, sh.parts)
		var err error
		if !ok {
			args := []any{s.c.listBase()}
			for _, p := range sh.parts {
				args = append(args, p)
			}
			err = s.c.do(ctx, func(ctx context.Context) error {
				var err error
				counts, err = listCountScript.Run(ctx, s.c.rdb, []string{s.c.keys.Epoch()}, args...).Int64Slice()
				return err
			})
		}
		total := 0
		for _, n := range counts {
			if n < 0 {
				err = redis.Nil
			}
			total += int(n)
		}
		if err == nil && len(counts) == len(sh.parts) {
			s.c.stats.kinds[KindList].hits.Add(1)
			return total, nil
		}
		s.c.stats.kinds[KindList].misses.Add(1)
	}
	return s.Store.CountTasks(ctx, v, f, tagID)
}
