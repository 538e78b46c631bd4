//go:build !linux

package auth

// lowerThreadPriority does nothing where threads have no priority of their own.
func lowerThreadPriority(int) {}
