// Package cli is the command framework both Earshot binaries share:
// sub-commands registered by name, one help and version convention, one
// exit-code convention (0 ok, 1 failed, 2 usage), signal handling that
// drains on the first SIGINT/SIGTERM and dies on the second, and the one
// version string both report.
package cli
