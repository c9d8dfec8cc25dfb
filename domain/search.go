package domain

import (
	"context"
	"strings"
	"time"
)

// MaxSearchCandidates bounds the tasks a search ranks: the newest matches
// its viewer may see (see repository.Search).
const MaxSearchCandidates = 100

// SearchHit is a search candidate: a matching task, its creation time (the
// candidates are the newest matches) and its score for the query.
type SearchHit struct {
	ID        string
	CreatedAt time.Time
	Score     float64
}

// TaskSearcher is the repository's search taken apart, for a cache that
// keeps candidates per audience and serves pages from them. An audience is
// a disjoint set of tasks: "all" (what admins see), "pub" (public tasks),
// or "u:<user id>" (the private tasks that user created or is assigned).
// An admin's candidates are those of "all", an anonymous caller's those of
// "pub", a user's the newest MaxSearchCandidates of "pub" and "u:<id>"
// together; ranked by score, then newest first, they are the pages that
// Reader.SearchTasks returns when the words match as given.
type TaskSearcher interface {
	// SearchTerms parses text as a query (see SearchQuery).
	SearchTerms(ctx context.Context, text string) (SearchQuery, error)
	// SearchCandidates returns an audience's candidates for text, with
	// the words as given: its newest MaxSearchCandidates matches, newest
	// first.
	SearchCandidates(ctx context.Context, audience, text string) ([]SearchHit, error)
	// SearchPostings returns, for each lexeme of an audience's tasks, the
	// candidates of the query made of that lexeme alone: newest first, at
	// most MaxSearchCandidates each, and at most limit in all (complete
	// false when there are more, with nothing returned). Lexemes holding a
	// backslash are left out.
	SearchPostings(ctx context.Context, audience string, limit int) (postings map[string][]SearchHit, complete bool, err error)
	// SearchTexts returns each task's searched text as lexemes (see
	// SearchText), with Scores only when scores is set.
	SearchTexts(ctx context.Context, tasks []*Task, scores bool) ([]SearchText, error)
	// SearchCursor is the cursor of h in a search for text whose words
	// matched as given.
	SearchCursor(text string, h SearchHit) string
	// DecodeSearchCursor reads a cursor of a search for text: the last
	// row's keys, and exact false for a search whose words were corrected.
	// A cursor that does not decode is EINVALID on "after".
	DecodeSearchCursor(after, text string) (h SearchHit, exact bool, err error)
}

// NewestFirst orders hits by creation time, newest first, then by id
// descending: the order in which a search takes its candidates.
func NewestFirst(a, b SearchHit) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// SearchQuery is what a query text is made of.
type SearchQuery struct {
	// Lexemes are every lexeme of the text, those of its query among them.
	Lexemes []string
	// Open: a task may match the query holding none of them (a negation,
	// or no lexeme at all).
	Open bool
	// Single is the query's one lexeme when it is made of nothing else
	// (and holds no quote or backslash), "" otherwise.
	Single string
	// Required is a lexeme every task matching the query holds (the
	// longest, likely the rarest, of a query whose operators are all AND
	// or FOLLOWED BY), "" when there is none.
	Required string
	// All are the lexemes every task matching the query holds, each of
	// them (the operands of a query whose operators are all AND or
	// FOLLOWED BY); nil when there are none.
	All []string
	// Key is the query in a canonical form: texts with the same Key find
	// and rank the same tasks (case, stop words, punctuation and the order
	// of words joined by AND do not change it). "" when none is known.
	Key string
}

// SearchText is a task's searched text (its title with weight A, then its
// description with weight B) as lexemes: where each occurs in the title
// and in the description (positions as text, each part counted from its
// start), and the title's last position, which the description's positions
// follow in the search column. Whether a task matches a query, and its
// score, depend only on the positions of the query's lexemes in the column.
type SearchText struct {
	Title, Description map[string]string
	TitleEnd           int
	// Scores are the task's score for the query made of each lexeme alone
	// (lexemes holding a backslash left out).
	Scores map[string]float64
}

// ViewerAudiences are the disjoint audiences whose tasks v may see.
func ViewerAudiences(v Viewer) []string {
	switch {
	case v.IsAdmin():
		return []string{"all"}
	case v.Anonymous():
		return []string{"pub"}
	}
	return []string{"pub", "u:" + v.UserID}
}

// Audiences are the audiences a task state belongs to: "all", and "pub"
// for a public task or "u:<id>" for the creator and the assignee of a
// private one.
func Audiences(t *Task) []string {
	auds := []string{"all"}
	switch {
	case t.Visibility == VisibilityPublic:
		auds = append(auds, "pub")
	default:
		if t.CreatedByID != nil {
			auds = append(auds, "u:"+*t.CreatedByID)
		}
		if t.AssigneeID != nil && (t.CreatedByID == nil || *t.AssigneeID != *t.CreatedByID) {
			auds = append(auds, "u:"+*t.AssigneeID)
		}
	}
	return auds
}
