// Package localengine runs an Earshot engine inside this process on a TCP
// listener, for the commands that bring their own engine (`earshot demo`,
// `earshot bench live`) and for tests that need a real one.
package localengine
