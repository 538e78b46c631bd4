//go:build !linux

package database

// noSpaceLeft reports whether the file system of dir is full: unknown
// here, so SQLite's own error stands.
func noSpaceLeft(string) bool { return false }

// writable reports whether the process may write path: unknown here.
func writable(string) bool { return true }

// readable reports whether the process may read path: unknown here.
func readable(string) bool { return true }
