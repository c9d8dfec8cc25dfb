package bench_test

import (
	"testing"
	"time"

	"github.com/herotasks/api/bench"
	"github.com/stretchr/testify/assert"
)

func TestCommandCalls(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_get:calls=7,usec=10,usec_per_call=1.43,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=3,usec=90,usec_per_call=30.00\r\ncmdstat_evalsha:calls=5,usec=50,usec_per_call=10.00\r\n"
	assert.Equal(t, int64(12), bench.CommandCalls(info), "INFO itself is left out")
	assert.Zero(t, bench.CommandCalls(""))
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		assert.Equal(t, tc.want, bench.Percentile(d, tc.p), "Percentile(1..100 ms, %v)", tc.p)
	}
	assert.Zero(t, bench.Percentile(nil, 0.5))
}

func TestRatios(t *testing.T) {
	assert.True(t, bench.AtLeast("x", "req/s", 200, 100, 2).Met)
	assert.False(t, bench.AtLeast("x", "req/s", 199, 100, 2).Met)
	assert.True(t, bench.AtMost("x", "p99", 50, 100, 0.5).Met)
	assert.False(t, bench.AtMost("x", "p99", 51, 100, 0.5).Met)
	assert.False(t, bench.AtLeast("x", "req/s", 1, 0, 2).Met, "no peer result is not a met target")
}

func TestMedian(t *testing.T) {
	rounds := []bench.Result{{Round: 1, RPS: 30}, {Round: 2, RPS: 10}, {Round: 3, RPS: 20}}
	assert.Equal(t, 3, bench.Median(rounds).Round)
	assert.Equal(t, 2, bench.Median(rounds[1:]).Round, "the lower middle of an even count")
	assert.Equal(t, 1, bench.Median(rounds[:1]).Round)
	assert.Equal(t, 1, rounds[0].Round, "the rounds are left in place")
}
