package domain

import (
	"regexp"
	"strings"
	"time"
)

// Tag is a label shared by tasks and subtasks. A tag never changes once
// created (there is no update or delete: linking a name that exists reuses
// its tag), which lets the entity cache keep tags in process.
type Tag struct {
	ID        string
	Name      string
	Color     string
	CreatedAt time.Time
}

var tagName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,49}$`)

// NormalizeTagNames lowercases and trims names, drops duplicates and checks
// each against the tag name rules. field names the input for errors.
func NormalizeTagNames(field string, names []string) ([]string, error) {
	if len(names) > 50 {
		return nil, Invalid(field, "at most 50 tags at once")
	}
	out := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if !tagName.MatchString(n) {
			return nil, Invalid(field, "tag %q must be 1 to 50 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", n)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// TagColor derives a stable display colour from a tag name.
func TagColor(name string) string {
	palette := []string{"#ef4444", "#f97316", "#eab308", "#22c55e", "#14b8a6", "#3b82f6", "#6366f1", "#a855f7", "#ec4899", "#6b7280"}
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return palette[h%uint32(len(palette))]
}
