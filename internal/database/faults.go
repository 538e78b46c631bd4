package database

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The faults of an SQLite file that Open refuses to start on, and that
// Ready names when a write fails: each error wraps one of them, the path,
// the error of SQLite or of the system, and what to do.
var (
	ErrCorrupt    = errors.New("database file is corrupt")
	ErrReadOnly   = errors.New("database file is read-only")
	ErrDiskFull   = errors.New("disk full")
	ErrIO         = errors.New("I/O error on the database file")
	ErrCannotOpen = errors.New("cannot open the database file")
)

// faultAdvice says what an operator can do about each fault.
var faultAdvice = map[error]string{
	ErrCorrupt:    "restore it from a backup",
	ErrReadOnly:   "the server must be able to write the file and to create the files SQLite keeps beside it (-wal, -shm)",
	ErrDiskFull:   "free space on its file system",
	ErrIO:         "check the disk and the system log",
	ErrCannotOpen: "check the path and its permissions",
}

// sqliteFault returns err, met using the SQLite file at path, wrapped in the
// fault it shows (see ErrCorrupt and the others), or err itself when it is
// not a fault of the file (a lock held too long, a cancelled call, a
// constraint). The fault is the one SQLite or the system names, told
// apart where their codes do not: an I/O error, or a file SQLite cannot
// open, on a file system with no space left is a full disk (SQLite cannot
// grow its -shm file there), and a file it cannot open in a directory the
// server cannot write is a read-only one.
func sqliteFault(path string, err error) error {
	fault := faultOf(err)
	if fault == nil {
		return err
	}
	dir := filepath.Dir(path)
	var detail string
	switch {
	case fault == ErrIO || fault == ErrCannotOpen:
		if noSpaceLeft(dir) {
			fault = ErrDiskFull
			break
		}
		if fault == ErrIO {
			break
		}
		fallthrough
	case fault == ErrReadOnly:
		switch {
		case exists(path) && !readable(path):
			fault, detail = ErrCannotOpen, "the file is not readable: "
		case !writable(dir):
			fault, detail = ErrReadOnly, "the directory "+dir+" is not writable: "
		case exists(path) && !writable(path):
			fault, detail = ErrReadOnly, "the file is not writable: "
		}
	}
	return fmt.Errorf("%w: %s: %s%w; %s", fault, path, detail, err, faultAdvice[fault])
}

// faultOf returns the fault that err names, or nil: SQLite's primary
// result code, or the errno of a system call on the file.
func faultOf(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return ErrCorrupt
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return ErrReadOnly
		case sqlite3.SQLITE_FULL:
			return ErrDiskFull
		case sqlite3.SQLITE_IOERR:
			return ErrIO
		case sqlite3.SQLITE_CANTOPEN:
			return ErrCannotOpen
		}
		return nil
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return nil
	}
	switch {
	case errors.Is(err, syscall.EROFS):
		return ErrReadOnly
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return ErrDiskFull
	case errors.Is(err, syscall.EIO):
		return ErrIO
	}
	return ErrCannotOpen // not found, a directory, permission denied, …
}

// exists reports whether there is a file at path.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
