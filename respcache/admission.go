package respcache

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Admission keeps the cache off the operations it does not pay for. A
// looked-up answer that is not there costs a lookup, the recording of every
// read's tags and a store; an operation whose answers are changed by writes
// faster than they are asked again (a board ordered by last change under a
// frontend's writes, a search whose words and user rarely repeat) pays that
// on every call and gets nothing. Each operation (its name and document) is
// judged on its last admissionSample lookups: one hit in fewer than
// MinHitRatio of them sends it around the cache for admissionPause, after
// which it is tried again, so a shape whose traffic changes is cached again.
// Going around the cache is always safe: the operation runs as it would
// without the cache, through the entity layer. Shapes are kept in an LRU
// of admissionShapes: query texts come from clients, and a forgotten shape
// only starts its sample again.
type admission struct {
	min    float64
	shapes *lru.Cache[string, *shapeStats]
}

// admissionShapes is how many operations admission keeps statistics of.
const admissionShapes = 4096

func newAdmission(min float64, size int) admission {
	a := admission{min: min}
	if min > 0 {
		a.shapes, _ = lru.New[string, *shapeStats](size)
	}
	return a
}

type shapeStats struct {
	mu            sync.Mutex
	lookups, hits int
	bypassUntil   time.Time
}

const (
	admissionSample = 200
	admissionPause  = 20 * time.Second
)

// admit reports whether shape may use the cache now.
func (a *admission) admit(shape string, now time.Time) bool {
	if a.min <= 0 {
		return true
	}
	s, ok := a.shapes.Get(shape)
	if !ok {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !now.Before(s.bypassUntil)
}

// record counts a lookup of shape; it reports whether that lookup ended a
// sample that sent the shape around the cache.
func (a *admission) record(shape string, hit bool, now time.Time) bool {
	if a.min <= 0 {
		return false
	}
	s := &shapeStats{} // admit keeps a shape in use recent
	if prev, found, _ := a.shapes.PeekOrAdd(shape, s); found {
		s = prev
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if hit {
		s.hits++
	}
	if s.lookups < admissionSample {
		return false
	}
	poor := float64(s.hits) < a.min*float64(s.lookups)
	if poor {
		s.bypassUntil = now.Add(admissionPause)
	}
	s.lookups, s.hits = 0, 0
	return poor
}
