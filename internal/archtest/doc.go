// Package archtest holds the test that the import graph keeps the layers
// docs/architecture.md draws. It has no code of its own.
package archtest
