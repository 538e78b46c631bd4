package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bitgate/internal/database"
)

// TestCorruptSQLiteFileRefused corrupts five data pages of an SQLite file
// and starts bitgate on it: it must refuse to start, exit 1 and say that
// the file is corrupt. Before, it started, said ready, and failed the
// queries that read those pages.
func TestCorruptSQLiteFileRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bitgate.db")
	db, err := database.Open(t.Context(), "file:"+path, database.Options{})
	require.NoError(t, err)
	for i := range 200 {
		_, err := db.Client.Book.Create().SetTitle(strings.Repeat("a title ", 50) + strconv.Itoa(i)).SetAuthor("an author").Save(t.Context())
		require.NoError(t, err)
	}
	require.NoError(t, db.Close()) // checkpoints the WAL into the file

	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	const pageSize = 4096
	info, err := f.Stat()
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(30*pageSize), "the books fill pages")
	garbage := bytes.Repeat([]byte{0xA5}, 5*pageSize)
	_, err = f.WriteAt(garbage, 20*pageSize) // pages 21 to 25 hold books
	require.NoError(t, err)
	require.NoError(t, f.Close())

	r := runBitgate(t, map[string]string{"DATABASE_URL": "file:" + path, "ADDR": "127.0.0.1:0"})
	require.Equal(t, 1, r.status, "stderr: %s", r.stderr)
	require.Contains(t, r.stderr, "database file is corrupt: "+path)
	require.Contains(t, r.stderr, "quick_check")
}

// TestSQLiteFileFaultsNamedAtStart starts bitgate on SQLite files it
// cannot use for other reasons than corruption: each must exit 1 with its
// own message, so that no operator restores a backup over a healthy file.
// Before, every one of them that SQLite met said "database file is
// corrupt".
func TestSQLiteFileFaultsNamedAtStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// arrange returns the database's path and the environment bitgate
		// runs in, beside DATABASE_URL.
		arrange func(t *testing.T) (string, map[string]string)
		want    []string
	}{{
		// The case: the file is the server's, its directory is not.
		name: "a directory the server cannot write",
		arrange: func(t *testing.T) (string, map[string]string) {
			path := existingDatabase(t)
			env := unprivileged(t, filepath.Dir(path))
			require.NoError(t, os.Chmod(filepath.Dir(path), 0o500))
			return path, env
		},
		want: []string{"database file is read-only: ", " is not writable: attempt to write a readonly database"},
	}, {
		name: "a file the server cannot read",
		arrange: func(t *testing.T) (string, map[string]string) {
			path := existingDatabase(t)
			env := unprivileged(t, filepath.Dir(path))
			require.NoError(t, os.Chmod(path, 0))
			return path, env
		},
		want: []string{"cannot open the database file: ", "the file is not readable", "permission denied"},
	}, {
		name: "a directory where the file should be",
		arrange: func(t *testing.T) (string, map[string]string) {
			path := filepath.Join(t.TempDir(), "bitgate.db")
			require.NoError(t, os.Mkdir(path, 0o700))
			return path, nil
		},
		want: []string{"cannot open the database file: ", "is a directory"},
	}, {
		// Reading /proc/self/mem where nothing is mapped fails with EIO,
		// as reading a failing disk does.
		name: "a file whose reads fail",
		arrange: func(*testing.T) (string, map[string]string) {
			return "/proc/self/mem", nil
		},
		want: []string{"I/O error on the database file: ", "disk I/O error"},
	}, {
		name: "a full disk",
		arrange: func(t *testing.T) (string, map[string]string) {
			dir := smallFileSystem(t)
			path := existingDatabase(t, dir)
			fill(t, dir)
			return path, nil
		},
		want: []string{"disk full: ", "free space on its file system"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, env := tc.arrange(t)
			if env == nil {
				env = map[string]string{}
			}
			env["DATABASE_URL"] = "file:" + path
			env["ADDR"] = "127.0.0.1:0"
			env["JWT_SECRET"] = strings.Repeat("s", 32) // no secret file to make
			env["TOTP_ENCRYPTION_KEY"] = strings.Repeat("k", 43)
			r := runBitgate(t, env)
			require.Equal(t, 1, r.status, "stderr: %s", r.stderr)
			for _, want := range tc.want {
				require.Contains(t, r.stderr, want)
			}
			require.Contains(t, r.stderr, path)
			require.NotContains(t, r.stderr, "corrupt")
		})
	}
}

// existingDatabase makes a migrated SQLite database in dir (a new
// temporary directory if none) and returns its path.
func existingDatabase(t *testing.T, dir ...string) string {
	t.Helper()
	if len(dir) == 0 {
		dir = []string{t.TempDir()}
	}
	path := filepath.Join(dir[0], "bitgate.db")
	db, err := database.Open(t.Context(), "file:"+path, database.Options{})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	return path
}

// testUIDEnv names the user id runBitgate's process takes before main
// runs (see unprivileged).
const testUIDEnv = "BITGATE_TEST_UID"

// nobody is the user id of an unprivileged bitgate.
const nobody = 65534

// unprivileged makes a test's permissions bind bitgate as they bind an
// unprivileged server, whom chmod stops: when the tests run as root,
// bitgate runs as the user nobody, owner of dir and its files (and the
// directories above dir let it through). It returns the environment that
// says so to runBitgate.
func unprivileged(t *testing.T, dir string) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		return map[string]string{}
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.Chown(filepath.Join(dir, e.Name()), nobody, nobody))
	}
	require.NoError(t, os.Chown(dir, nobody, nobody))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711)) // t.TempDir's parent is 0700
	return map[string]string{testUIDEnv: strconv.Itoa(nobody)}
}

// dropPrivileges makes the process the user uid (and the group of the same
// id), without supplementary groups: it no longer passes permission
// checks as root. It exits when it cannot.
func dropPrivileges(uid string) {
	id, err := strconv.Atoi(uid)
	if err == nil {
		err = syscall.Setgroups(nil)
	}
	if err == nil {
		err = syscall.Setgid(id)
	}
	if err == nil {
		err = syscall.Setuid(id)
	}
	if err != nil {
		os.Stderr.WriteString("drop privileges: " + err.Error() + "\n")
		os.Exit(3)
	}
}

// smallFileSystem mounts a file system of 1 MiB of its own (a tmpfs) for
// the test and returns its directory. It skips the test where the process
// may not mount (not root).
func smallFileSystem(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0700"); err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skip("mounting a tmpfs needs root (CAP_SYS_ADMIN):", err)
		}
		require.NoError(t, err, "mount a tmpfs")
	}
	t.Cleanup(func() { require.NoError(t, unix.Unmount(dir, 0)) })
	return dir
}

// fill writes a file into dir until its file system has no space left.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	require.NoError(t, err)
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return
		}
	}
}
