package cost

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/herotasks/api/breaker"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// BudgetOptions configure the per-client budget.
type BudgetOptions struct {
	Capacity    int64         // points a client may spend at once (COST_BUDGET_CAPACITY)
	RestoreRate int64         // points restored per second (COST_BUDGET_RESTORE_RATE)
	Prefix      string        // Redis key prefix; a bucket is <Prefix>:<subject>
	Timeout     time.Duration // per Redis round trip
}

// Budget is a token bucket per client, kept in Redis so that every server
// instance draws on the same one. Each request costs one script call, which
// refills the bucket by the time passed (Redis's clock, so instances need no
// common clock) and takes the requested cost; after execution the
// difference between requested and actual cost is settled with a second
// call. When Redis cannot be reached the instance falls back to buckets of
// its own (a client may then spend its budget once per instance), behind a
// circuit breaker so a dead Redis costs no request more than a timeout.
// A nil *Budget allows everything.
type Budget struct {
	rdb     redis.UniversalClient // nil: in-process buckets only
	opts    BudgetOptions
	breaker *gobreaker.CircuitBreaker[[]int64]
	local   localBuckets
}

// Throttle is a bucket's state after a request: extensions.cost.throttleStatus.
type Throttle struct {
	MaximumAvailable   int64 `json:"maximumAvailable"`
	CurrentlyAvailable int64 `json:"currentlyAvailable"`
	RestoreRate        int64 `json:"restoreRate"`

	Allowed    bool          `json:"-"` // the points were taken
	RetryAfter time.Duration `json:"-"` // when refused: until the bucket holds enough
	Local      bool          `json:"-"` // answered by this instance's own bucket (Redis unreachable)
}

// NewBudget returns a budget over rdb (nil: in-process only).
func NewBudget(rdb redis.UniversalClient, o BudgetOptions) *Budget {
	if o.Timeout <= 0 {
		o.Timeout = 50 * time.Millisecond
	}
	b := &Budget{rdb: rdb, opts: o}
	b.local = localBuckets{m: map[string]*bucket{}, capacity: float64(o.Capacity), rate: float64(o.RestoreRate)}
	b.breaker = breaker.New[[]int64]("redis-budget", nil)
	return b
}

// bucketScript is the token bucket: KEYS[1] a hash {tokens, ts}; ARGV
// capacity, restore rate per second, n, mode. Mode "take" takes n points
// when the bucket holds them (n = 0 only looks); mode "adjust" adds -n
// points unconditionally (a refund when n < 0; a charge, which may leave
// the bucket below zero, when n > 0). It returns {allowed, points left
// (floored), milliseconds until n points are there}. The clock is Redis's
// TIME, so every instance agrees on it.
var bucketScript = redis.NewScript(`
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000000)
  ts = now
end
local allowed = 1
local wait = 0
if ARGV[4] == 'adjust' then
  tokens = math.min(capacity, tokens - n)
elseif n > tokens then
  allowed = 0
  wait = math.ceil((n - tokens) * 1000 / rate)
else
  tokens = tokens - n
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {allowed, math.floor(tokens), wait}
`)

// Take takes n points from subject's bucket when it holds them (n = 0 only
// reports the state).
func (b *Budget) Take(ctx context.Context, subject string, n int64) Throttle {
	if b == nil {
		return Throttle{Allowed: true}
	}
	if b.rdb != nil {
		if t, err := b.script(ctx, subject, n, "take"); err == nil {
			return t
		}
	}
	return b.local.apply(b, subject, n, false, time.Now())
}

// Settle adjusts subject's bucket after execution by requested - actual:
// a refund when the operation cost less than requested, a further charge
// when it cost more. from is the Throttle of the Take it settles, so the
// points go back to the bucket that paid; a settlement Redis misses is
// lost (the error says so).
func (b *Budget) Settle(ctx context.Context, subject string, requested, actual int64, from Throttle) (Throttle, error) {
	if b == nil {
		return Throttle{Allowed: true}, nil
	}
	if b.rdb != nil && !from.Local {
		return b.script(ctx, subject, actual-requested, "adjust")
	}
	return b.local.apply(b, subject, actual-requested, true, time.Now()), nil
}

func (b *Budget) script(ctx context.Context, subject string, n int64, mode string) (Throttle, error) {
	res, err := b.breaker.Execute(func() ([]int64, error) {
		ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
		defer cancel()
		return bucketScript.Run(ctx, b.rdb, []string{b.opts.Prefix + ":" + subject},
			b.opts.Capacity, b.opts.RestoreRate, n, mode).Int64Slice()
	})
	if err != nil {
		return Throttle{}, err
	}
	if len(res) != 3 {
		return Throttle{}, errors.New("cost: unexpected reply from the budget script")
	}
	return b.throttle(res[0] == 1, res[1], time.Duration(res[2])*time.Millisecond, false), nil
}

func (b *Budget) throttle(allowed bool, left int64, wait time.Duration, local bool) Throttle {
	return Throttle{MaximumAvailable: b.opts.Capacity, CurrentlyAvailable: left, RestoreRate: b.opts.RestoreRate,
		Allowed: allowed, RetryAfter: wait, Local: local}
}

// localBuckets are the in-process fallback: the same bucket as the script,
// on this instance's clock.
type localBuckets struct {
	mu             sync.Mutex
	m              map[string]*bucket
	capacity, rate float64
	sweepAt        int
}

type bucket struct {
	tokens float64
	ts     time.Time
}

func (l *localBuckets) apply(b *Budget, subject string, n int64, adjust bool, now time.Time) Throttle {
	l.mu.Lock()
	defer l.mu.Unlock()
	bk := l.m[subject]
	if bk == nil {
		l.sweep(now)
		bk = &bucket{tokens: l.capacity, ts: now}
		l.m[subject] = bk
	}
	if d := now.Sub(bk.ts); d > 0 {
		bk.tokens = math.Min(l.capacity, bk.tokens+d.Seconds()*l.rate)
		bk.ts = now
	}
	allowed, wait := true, time.Duration(0)
	switch {
	case adjust:
		bk.tokens = math.Min(l.capacity, bk.tokens-float64(n))
	case float64(n) > bk.tokens:
		allowed = false
		wait = time.Duration(math.Ceil((float64(n)-bk.tokens)*1000/l.rate)) * time.Millisecond
	default:
		bk.tokens -= float64(n)
	}
	return b.throttle(allowed, int64(math.Floor(bk.tokens)), wait, true)
}

// sweep forgets buckets that have refilled (a fresh one is the same), once
// the map has doubled since the last sweep.
func (l *localBuckets) sweep(now time.Time) {
	if len(l.m) < max(l.sweepAt, 1024) {
		return
	}
	for k, bk := range l.m {
		if bk.tokens+now.Sub(bk.ts).Seconds()*l.rate >= l.capacity {
			delete(l.m, k)
		}
	}
	l.sweepAt = 2 * len(l.m)
}
