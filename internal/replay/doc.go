// Package replay streams decoded calls to an engine over the ingest
// protocol as an endpoint would, at real speed or faster, and decodes the
// embedded sample calls for it. `earshot replay`, `earshot demo` and
// `earshot bench live` are its users.
package replay
