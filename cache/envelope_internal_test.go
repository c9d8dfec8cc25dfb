package cache

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, epoch := range []int64{0, 1, -1, 300, math.MaxInt64, math.MinInt64} {
		for _, payload := range []string{"", "x", "\x00\xff payload"} {
			raw := string(envelope(tagValue, epoch, []byte(payload)))
			tag, ep, got, ok := openEnvelope(raw)
			assert.True(t, ok)
			assert.Equal(t, byte(tagValue), tag)
			assert.Equal(t, epoch, ep)
			assert.Equal(t, payload, got)
		}
	}
}

func TestOpenEnvelopeRejectsDamage(t *testing.T) {
	for _, raw := range []string{"", "V", "V\xff", "V\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"} {
		_, _, _, ok := openEnvelope(raw)
		assert.False(t, ok, "%q", raw)
	}
}
