package repository

import (
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequiredLexeme: a lexeme every match holds is only read from a query
// of ANDs and FOLLOWED BYs, as PostgreSQL prints it.
func TestRequiredLexeme(t *testing.T) {
	for query, want := range map[string]string{
		`'rate' & 'limit'`:                    "limit",
		`'cach' <-> 'invalid'`:                "invalid",
		`'e-mail' <-> 'e' <-> 'mail' & 'fix'`: "e-mail",
		`'it''s' & 'x'`:                       "it's",
		`'x' & ( 'a' <-> 'bb' )`:              "bb",
		`'rate' | 'limit'`:                    "",
		`'rate' & !'limit'`:                   "",
		`!'limit'`:                            "",
		`'rate':* & 'limit'`:                  "",
		`'back\slash' & 'x'`:                  "",
		``:                                    "",
	} {
		assert.Equal(t, want, requiredLexeme(query), query)
	}
}

// TestAllLexemes: every operand, once each, of a query every match of
// which holds them all; none of any other query.
func TestAllLexemes(t *testing.T) {
	for query, want := range map[string][]string{
		`'rate' & 'limit'`:                    {"limit", "rate"},
		`'cach' <-> 'invalid'`:                {"cach", "invalid"},
		`'e-mail' <-> 'e' <-> 'mail' & 'fix'`: {"e", "e-mail", "fix", "mail"},
		`'test' & 'test'`:                     {"test"},
		`'x' & ( 'a' <-> 'bb' )`:              {"a", "bb", "x"},
		`'rate' | 'limit'`:                    nil,
		`'rate' & !'limit'`:                   nil,
		`'rate':* & 'limit'`:                  nil,
		`'back\slash' & 'x'`:                  nil,
		``:                                    nil,
	} {
		assert.Equal(t, want, allLexemes(query), query)
	}
}

func TestQueryKey(t *testing.T) {
	for query, want := range map[string]string{
		`'webhook' & 'cach'`:        `'cach' & 'webhook'`,
		`'cach' & 'webhook'`:        `'cach' & 'webhook'`,
		`'it''s' & 'a'`:             `'a' & 'it''s'`,
		`'test' & 'test'`:           `'test' & 'test'`,
		`'webhook'`:                 `'webhook'`,
		`'webhook' <-> 'cach'`:      `'webhook' <-> 'cach'`,
		`'webhook' | 'cach'`:        `'webhook' | 'cach'`,
		`'webhook' & !'cach'`:       `'webhook' & !'cach'`,
		`'webhook' & ( 'a' | 'b' )`: `'webhook' & ( 'a' | 'b' )`,
		`'rate':* & 'limit'`:        `'rate':* & 'limit'`,
		`'back\slash' & 'x'`:        "",
		``:                          "",
	} {
		assert.Equal(t, want, queryKey(query), query)
	}
}

// TestSearchTextOf: a row's search column entries ("lexeme {positions}
// weights") split into the title's lexemes (weight A) and the
// description's (weight B, counted from the title's last position), as
// SearchText holds them; an entry it cannot read is an error.
func TestSearchTextOf(t *testing.T) {
	st, err := searchTextOf([]string{"cach {1,4} AA", "webhook {3,9} AB", "it's a {6} B", "retri {7,8} BB"})
	require.NoError(t, err)
	assert.Equal(t, domain.SearchText{
		Title:       map[string]string{"cach": "{1,4}", "webhook": "{3}"},
		Description: map[string]string{"webhook": "{5}", "it's a": "{2}", "retri": "{3,4}"},
		TitleEnd:    4,
	}, st)
	for _, bad := range []string{"nopositions", "cach {1,2} A", "cach {x} A"} {
		_, err := searchTextOf([]string{bad})
		assert.Error(t, err, bad)
	}
}
