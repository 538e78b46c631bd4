package auth

import "golang.org/x/sys/unix"

// lowerThreadPriority sets the nice value of the calling OS thread (on
// Linux, niceness belongs to threads). Raising it needs no privilege; a
// failure only leaves the thread at normal priority.
func lowerThreadPriority(nice int) {
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
}
