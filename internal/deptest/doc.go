// Package deptest holds the test that enforces the package map of
// shared/design.md: which Switchboard packages may depend on which.
package deptest
