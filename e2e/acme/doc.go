// Package acme tests bulwark's ACME certificates against a real ACME
// server: Let's Encrypt's Pebble, run in-process on loopback. It is its own
// module so that Pebble stays out of the library's go.mod.
package acme
