// Package domain holds the Hero Tasks types that every layer shares (the
// GraphQL layer binds to them, the repository fills them), the workflow rules
// that are pure functions of those types, and the error contract.
package domain
