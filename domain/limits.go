package domain

import (
	"math"
	"strings"
	"unicode/utf8"
)

// The bounds of what a client may send, checked once here. The SQL CHECK
// constraints of the migrations repeat the text bounds so that no writer
// can go around them; a repository test holds the two in step.
const (
	// MaxPage bounds every page size (first, last, and the ids of one
	// nodes call); the cost analyzer refuses slicing arguments outside
	// 0..MaxPage before any resolver runs.
	MaxPage        = 100
	MaxTitle       = 500   // characters of a task's or subtask's title (at least 1)
	MaxDescription = 20000 // characters of a description
	MaxSearch      = 200   // characters of a search query (at least 1)
	MaxName        = 100   // characters of an API token's name (at least 1)
	MaxHours       = 100000
)

// PageSize checks a page size argument: 0 to MaxPage (0 asks for no rows,
// only what a connection says about them, such as totalCount).
func PageSize(field string, n int) error {
	if n < 0 || n > MaxPage {
		return Invalid(field, "must be between 0 and %d", MaxPage)
	}
	return nil
}

// Text trims s and checks it has 1 to max characters.
func Text(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > max {
		return "", Invalid(field, "must be 1 to %d characters", max)
	}
	return s, nil
}

// Title checks a task's or subtask's title.
func Title(field, s string) (string, error) { return Text(field, s, MaxTitle) }

// Description checks a description: at most MaxDescription characters.
func Description(field, s string) (string, error) {
	if utf8.RuneCountInString(s) > MaxDescription {
		return "", Invalid(field, "must be at most %d characters", MaxDescription)
	}
	return s, nil
}

// Hours checks an estimate or a record of hours, when given.
func Hours(field string, h *float64) error {
	if h != nil && (math.IsNaN(*h) || *h < 0 || *h > MaxHours) {
		return Invalid(field, "must be between 0 and %d", MaxHours)
	}
	return nil
}
