package repository

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/herotasks/api/domain"
)

// A cursor is base64url JSON of the ordering it belongs to and the keyset
// values of the last row, as text. It is opaque to clients; the ordering is
// checked so a cursor from one sort order cannot be replayed on another.
type cursor struct {
	Order  string   `json:"o"`
	Values []string `json:"v"`
}

const maxCursorLen = 512

func encodeCursor(order string, values []string) string {
	b, _ := json.Marshal(cursor{Order: order, Values: values}) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor checks that s is a cursor of order whose values parse as the
// given PostgreSQL types, so a forged cursor is bad input, not a SQL error.
func decodeCursor(s, order string, casts []string) ([]string, error) {
	bad := domain.Invalid("after", "not a cursor of this list; pass an endCursor returned with the same arguments")
	if len(s) > maxCursorLen {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if json.Unmarshal(b, &c) != nil || c.Order != order || len(c.Values) != len(casts) {
		return nil, bad
	}
	for i, v := range c.Values {
		if !parses(v, casts[i]) {
			return nil, bad
		}
	}
	return c.Values, nil
}

func parses(v, cast string) bool {
	var err error
	switch cast {
	case "timestamptz":
		if v == "infinity" {
			return true
		}
		_, err = time.Parse(time.RFC3339Nano, v)
	case "uuid":
		_, err = uuid.Parse(v)
	case "float8":
		_, err = strconv.ParseFloat(v, 64)
	case "task_priority":
		return domain.TaskPriority(v).Valid()
	default:
		return false
	}
	return err == nil
}

// searchOrder names a search's ordering: the score depends on the text.
func searchOrder(text string) string {
	h := fnv.New64a()
	h.Write([]byte(text))
	return "SEARCH:" + strconv.FormatUint(h.Sum64(), 36)
}

// validUUID reports whether s parses as a uuid.
func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil
}
