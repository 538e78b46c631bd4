package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"bitgate/internal/auth"
)

// raiseOpenFiles raises this process's soft limit on open files to at
// least need (up to the hard limit), or says how to raise the hard limit.
func raiseOpenFiles(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	if lim.Max < uint64(need) {
		return fmt.Errorf("the keep-alive scenarios need %d open files and the hard limit is %d: raise it (ulimit -Hn %d, as root) or lower -keepalive", need, lim.Max, need)
	}
	lim.Cur = uint64(need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open-file limit to %d: %w", need, err)
	}
	return nil
}

// timeHashes returns the median time of five argon2id hashes with the
// server's parameters, one at a time: what one hashing worker needs per
// sign-in.
func timeHashes() time.Duration {
	times := make([]time.Duration, 5)
	for i := range times {
		start := time.Now()
		if _, err := auth.HashPassword("a password to time"); err != nil {
			panic(err) // only a broken random source fails
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// memWatch reads a process's resident memory from /proc.
type memWatch struct {
	pid  int
	mu   sync.Mutex
	high int64
}

// newMemWatch watches pid; 0 watches nothing.
func newMemWatch(pid int) *memWatch { return &memWatch{pid: pid} }

// watch samples VmRSS every 50 ms until the returned function is called,
// which returns the largest sample (0 without a pid).
func (m *memWatch) watch() func() int64 {
	if m.pid == 0 {
		return func() int64 { return 0 }
	}
	done := make(chan struct{})
	result := make(chan int64)
	go func() {
		var top int64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			top = max(top, m.read("VmRSS:"))
			select {
			case <-done:
				result <- top
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		top := <-result
		m.mu.Lock()
		m.high = max(m.high, top)
		m.mu.Unlock()
		return top
	}
}

// peak returns the process's VmHWM (its peak resident memory since it
// started), or the largest sample if that cannot be read.
func (m *memWatch) peak() int64 {
	if m.pid == 0 {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.high, m.read("VmHWM:"))
}

// read returns a field of /proc/<pid>/status in bytes, or 0.
func (m *memWatch) read(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := bytes.Fields(rest)
			if len(f) == 2 && string(f[1]) == "kB" {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
