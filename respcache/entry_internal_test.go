package respcache

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEntryRoundTrip: an entry comes back as stored, its data byte for byte
// (not re-encoded), and an entry stored whole by the earlier format still
// reads.
func TestEntryRoundTrip(t *testing.T) {
	data := json.RawMessage(`{"task":{"title":"line one\nline two","tags":[{"name":"a"}]}}`)
	e := &entry{entryHead{Epoch: "7", Tokens: map[string]string{"t:1": "x", "l:pub|st:READY": "y\nz"}, At: 1234}, data}
	raw, err := encodeEntry(e)
	require.NoError(t, err)
	got := decodeEntry(string(raw))
	require.NotNil(t, got)
	assert.Equal(t, e, got)

	whole, err := json.Marshal(e)
	require.NoError(t, err)
	old := decodeEntry(string(whole))
	require.NotNil(t, old)
	assert.Equal(t, e.Tokens, old.Tokens)
	assert.JSONEq(t, string(data), string(old.Data))

	null, err := encodeEntry(&entry{entryHead{Epoch: "1"}, json.RawMessage("null")})
	require.NoError(t, err)
	assert.NotNil(t, decodeEntry(string(null)))
}

// TestEntryRejectsDamage: a cut or garbled entry is a miss, never served.
func TestEntryRejectsDamage(t *testing.T) {
	raw, err := encodeEntry(&entry{entryHead{Epoch: "7", Tokens: map[string]string{"t:1": "x"}}, json.RawMessage(`{"a":1}`)})
	require.NoError(t, err)
	for _, bad := range []string{string(raw[:len(raw)-1]), string(raw[:5]), "{", "garbage\n{}", string(raw[:len(raw)-len(`{"a":1}`)])} {
		assert.Nil(t, decodeEntry(bad), "%q", bad)
	}
}
