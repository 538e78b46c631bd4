package database

import "golang.org/x/sys/unix"

// noSpaceLeft reports whether the file system of dir has less than the
// 32 KiB of an SQLite -shm file left for this process (the blocks
// reserved for root count for root only).
func noSpaceLeft(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil || st.Blocks == 0 { // /proc and the like count no blocks
		return false
	}
	free := st.Bavail
	if unix.Geteuid() == 0 {
		free = st.Bfree
	}
	return free*uint64(st.Bsize) < 32<<10
}

// writable reports whether the process may write path.
func writable(path string) bool { return unix.Access(path, unix.W_OK) == nil }

// readable reports whether the process may read path.
func readable(path string) bool { return unix.Access(path, unix.R_OK) == nil }
