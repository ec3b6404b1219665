// Package demo runs the whole product on the bundled sample calls: an
// engine with the web pages, the tokens to sign in with, and the sample
// calls replayed continuously at real speed as several agents' endpoints
// would, so the overlay, the supervisor wall and the call history fill up
// live. `earshot demo` (and so `make demo`) is its command.
package demo
