package cache_test

// Codecs for cached values, compared on what the cache stores: a whole task
// (an entity) and a list of 5 ids (a relation). The cache uses
// msgpack.Marshal/Unmarshal today.
//
//	go test -run '^$' -bench Codec -benchmem ./cache/
//
// Metrics: ns/op, B/op, allocs/op and bytes (the encoded size, without the
// cache's envelope of a tag byte and the epoch).

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/herotasks/api/domain"
	"github.com/vmihailenco/msgpack/v5"
)

type codec struct {
	name string
	enc  func(v any) ([]byte, error)
	dec  func(b []byte, v any) error // v is a pointer to the value's type
}

// cborExact keeps time.Time to the nanosecond (RFC 3339, UTC); cbor's
// default, whole Unix seconds, would drop the microseconds PostgreSQL keeps.
var cborExact = func() cbor.EncMode {
	m, err := cbor.EncOptions{Time: cbor.TimeRFC3339NanoUTC}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

var codecs = []codec{
	{"msgpack", msgpack.Marshal, msgpack.Unmarshal},
	{"msgpack-array", func(v any) ([]byte, error) {
		// msgpack.Marshal with the encoder's array flag: the same pooled
		// encoder, fields by position instead of by name.
		var buf bytes.Buffer
		enc := msgpack.GetEncoder()
		enc.Reset(&buf)
		enc.UseArrayEncodedStructs(true)
		err := enc.Encode(v)
		msgpack.PutEncoder(enc)
		return buf.Bytes(), err
	}, msgpack.Unmarshal},
	{"json", json.Marshal, json.Unmarshal},
	{"gob", func(v any) ([]byte, error) {
		// A fresh encoder per value, as a cache storing values one by one
		// needs: every value carries its type description.
		var buf bytes.Buffer
		err := gob.NewEncoder(&buf).Encode(v)
		return buf.Bytes(), err
	}, func(b []byte, v any) error { return gob.NewDecoder(bytes.NewReader(b)).Decode(v) }},
	{"cbor", cborExact.Marshal, cbor.Unmarshal},
}

// benchTask is a task as the cache holds it: every field set, a
// 300-character description, timestamps with microseconds.
func benchTask() *domain.Task {
	at := func(s string) *time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return &t
	}
	f := func(v float64) *float64 { return &v }
	s := func(v string) *string { return &v }
	desc := strings.Repeat("Move the export job off the request path: enqueue it, stream rows in batches of 500, and report progress. ", 3)[:300]
	return &domain.Task{
		ID:             "0b6c1f52-8d4e-4a8e-9a57-2f0e6f3c9d41",
		Seq:            4821,
		Title:          "Stream CSV exports in the background instead of buffering them",
		Description:    desc,
		Status:         domain.StatusInProgress,
		Priority:       domain.PriorityHigh,
		Type:           domain.TypeFeature,
		Phase:          domain.PhaseApply,
		Visibility:     domain.VisibilityPublic,
		DueDate:        at("2026-12-15T17:00:00Z"),
		StartedAt:      at("2026-11-20T09:12:44.518302Z"),
		CompletedAt:    at("2026-11-26T16:40:03.090117Z"),
		EstimatedHours: f(12.5),
		ActualHours:    f(9.75),
		AssigneeID:     s("5d2a9e0c-3b71-4f6e-8c1d-7a4b2e9f0c36"),
		CreatedByID:    s("a8f3c2d1-6e5b-4a79-b0c8-1d2e3f4a5b6c"),
		Version:        7,
		CreatedAt:      *at("2026-11-18T14:03:27.774215Z"),
		UpdatedAt:      *at("2026-11-26T16:40:03.090117Z"),
	}
}

// benchIDs is a relation list: a task's 5 subtask ids.
func benchIDs() []string {
	return []string{
		"1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "2e1f0a3b-5c4d-4e6f-9a8b-c7d6e5f4a3b2",
		"3d2c1b0a-6f5e-4d4c-8b3a-291807f6e5d4", "4c3b2a19-7e6d-4c5b-9a49-38271605f4e3",
		"5b4a3928-8d7c-4b6a-8958-47362514e3d2",
	}
}

func BenchmarkCodec(b *testing.B) {
	b.Run("task", func(b *testing.B) { benchCodecs(b, benchTask()) })
	b.Run("ids5", func(b *testing.B) { benchCodecs(b, benchIDs()) })
}

// benchCodecs encodes and decodes v (decoding into a fresh value of v's
// type through a pointer, as the cache's fetch does), after checking that
// every codec gives v back.
func benchCodecs[V any](b *testing.B, v V) {
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			buf, err := c.enc(v)
			if err != nil {
				b.Fatal(err)
			}
			var back V
			if err := c.dec(buf, &back); err != nil {
				b.Fatal(err)
			}
			if !reflect.DeepEqual(utc(v), utc(back)) {
				b.Fatalf("%s does not round-trip:\n got %+v\nwant %+v", c.name, back, v)
			}
			b.Run("encode", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if buf, err = c.enc(v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(buf)), "bytes")
			})
			b.Run("decode", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var out V
					if err := c.dec(buf, &out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(buf)), "bytes")
			})
		})
	}
}

// utc returns v with its task's times in UTC: codecs may decode the same
// instant in another location, which the cache does not care about.
func utc(v any) any {
	t, ok := v.(*domain.Task)
	if !ok || t == nil {
		return v
	}
	c := *t
	for _, p := range []**time.Time{&c.DueDate, &c.StartedAt, &c.CompletedAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c
}
