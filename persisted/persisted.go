// Package persisted owns persisted operations: automatic persisted queries
// (APQ: a client sends the sha256 of a document instead of the document,
// kept in Redis with a TTL) and trusted documents (PERSISTED_QUERIES=only:
// the server runs only documents whose hash is registered, from the
// manifest built out of examples/ at development time or registered by an
// admin at run time and kept in PostgreSQL).
package persisted

//go:generate go run ../cmd/manifestgen -examples ../examples -out manifest.json

import (
	"crypto/sha256"
	"encoding/hex"
)

// Mode is how the server treats persisted operations (PERSISTED_QUERIES).
type Mode string

const (
	// Off ignores the persistedQuery extension: every request sends its document.
	Off Mode = "off"
	// APQ runs any document; a client may send its hash instead once the
	// server has seen it (Redis), or at once for a registered document.
	APQ Mode = "apq"
	// Only runs registered documents and refuses everything else with
	// PERSISTED_QUERY_NOT_FOUND before parsing. Admins are exempt, so they
	// can register documents and operate the server.
	Only Mode = "only"
)

// Hash is the id of a document: the lowercase hex sha256 of its exact text,
// as Apollo's persisted-query protocol and manifest define it.
func Hash(document string) string {
	h := sha256.Sum256([]byte(document))
	return hex.EncodeToString(h[:])
}
