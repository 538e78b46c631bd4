package apitest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bitgate/internal/database"
)

// Proxy is a TCP proxy between a test server and its PostgreSQL database
// that a test can break the way databases break: Freeze stops forwarding
// while every connection stays open (a database that hangs, like one
// stopped with SIGSTOP), Cut closes every connection and every new one at
// once (a database that is down), and Restore heals both.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	change *sync.Cond // signalled when state changes
	state  proxyState
	conns  map[net.Conn]struct{}
}

type proxyState int

const (
	forwarding proxyState = iota
	frozen
	cut
)

// PostgresBehindProxy returns the URL of a fresh PostgreSQL database (see
// FreshDatabase) that goes through a new Proxy, and the Proxy, which stops
// when the test ends. In the SQLite pass it skips the test.
func PostgresBehindProxy(t testing.TB) (string, *Proxy) {
	t.Helper()
	if postgresURL == "" {
		t.Skip("PostgreSQL only (TEST_DATABASE_URL)")
	}
	u, err := url.Parse(FreshDatabase(t))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &Proxy{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	p.change = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(p.close)
	u.Host = ln.Addr().String()
	return u.String(), p
}

// Freeze stops forwarding: connections stay open, nothing goes through.
func (p *Proxy) Freeze() { p.set(frozen) }

// Cut closes every connection, and closes new ones as they come.
func (p *Proxy) Cut() { p.set(cut) }

// Restore forwards again, new connections and frozen ones alike.
func (p *Proxy) Restore() { p.set(forwarding) }

// set changes the state; cutting closes every connection.
func (p *Proxy) set(s proxyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = s
	if s == cut {
		for c := range p.conns {
			c.Close()
		}
	}
	p.change.Broadcast()
}

// close stops the proxy and closes every connection.
func (p *Proxy) close() {
	p.ln.Close()
	p.Cut()
}

// accept serves connections until the listener closes.
func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(client)
	}
}

// serve connects client to the target once the proxy forwards, then
// copies both ways.
func (p *Proxy) serve(client net.Conn) {
	if !p.track(client) || !p.await() {
		client.Close()
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(server) {
		client.Close()
		server.Close()
		return
	}
	go p.pipe(server, client)
	p.pipe(client, server)
}

// track registers c, to be closed by a cut; it reports false if the proxy
// is cut.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// await waits while the proxy is frozen; it reports false if it is cut.
func (p *Proxy) await() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.state == frozen {
		p.change.Wait()
	}
	return p.state == forwarding
}

// pipe copies from src to dst, holding what it read while the proxy is
// frozen, and closes both when either side ends or the proxy is cut.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.await() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			p.await() // a frozen database learns nothing until it thaws
			return
		}
	}
}

// LockWrites holds a write lock on the server's database from a
// connection of its own, as a stuck process or a long migration would: on
// SQLite the file's write lock, on PostgreSQL an EXCLUSIVE lock on the
// users table. Writes (a sign-up) wait for it; plain reads do not. It
// returns the function that lets go, which also runs when the test ends.
func (c *Client) LockWrites(t testing.TB) (release func()) {
	t.Helper()
	driver, lock := "sqlite", []string{"BEGIN IMMEDIATE"}
	if database.IsPostgres(c.DatabaseURL) {
		driver, lock = "pgx", []string{"BEGIN", "LOCK TABLE users IN EXCLUSIVE MODE"}
	}
	db, err := sql.Open(driver, c.DatabaseURL)
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	for _, stmt := range lock {
		_, err := conn.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, err := conn.ExecContext(ctx, "ROLLBACK")
			require.NoError(t, err, "release the write lock")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// RowLock is a row of the server's database that the test holds locked,
// on PostgreSQL, to line requests up behind it (see LockRow).
type RowLock struct {
	db   *sql.DB
	tx   *sql.Tx
	once sync.Once
}

// LockRow locks the rows of table whose column equals value, on
// PostgreSQL, as the server's own locks do (FOR NO KEY UPDATE), in a
// transaction of the test's, until Release (at the latest when the test
// ends): the server's requests that update those rows or lock them wait
// meanwhile. Requests that only read them, or insert rows that refer to
// them, do not. Table and column are the test's own text, not input. On
// SQLite, which has no row locks, it locks nothing.
func (c *Client) LockRow(t testing.TB, table, column string, value any) *RowLock {
	t.Helper()
	l := &RowLock{}
	if !database.IsPostgres(c.DatabaseURL) {
		return l
	}
	var err error
	l.db, err = sql.Open("pgx", c.DatabaseURL)
	require.NoError(t, err)
	l.tx, err = l.db.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	var n int
	err = l.tx.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM `+table+` WHERE `+column+` = $1 FOR NO KEY UPDATE) locked`, value).Scan(&n)
	require.NoError(t, err, "lock %s where %s = %v", table, column, value)
	require.Positive(t, n, "no row of %s where %s = %v to lock", table, column, value)
	t.Cleanup(l.Release) // never leave the server's requests waiting
	return l
}

// Release ends the lock's transaction: the requests waiting for it go on,
// one after another in the order they came to wait.
func (l *RowLock) Release() {
	l.once.Do(func() {
		if l.tx != nil {
			_ = l.tx.Rollback()
			_ = l.db.Close()
		}
	})
}

// answer is a request's answer as Post returns it.
type answer struct {
	r   *Response
	err error
}

// InTurn sends each of sends in its turn while the lock is held, the next
// once the server waits for a lock for each one sent before (or has
// answered it), then releases the lock: on PostgreSQL, the requests that
// wait for it run in the order of sends. It returns the answers in that
// order, checked as Concurrently checks them. On SQLite, which runs one
// write transaction at a time, each is sent once the one before answered.
func (l *RowLock) InTurn(t testing.TB, sends ...func() (*Response, error)) []*Response {
	t.Helper()
	answers := make([]chan answer, len(sends))
	for i, send := range sends {
		answers[i] = goSend(send)
		if l.tx == nil {
			a := <-answers[i] // SQLite: one at a time, as it runs them anyway
			answers[i] <- a
		} else {
			l.await(t, answers[:i+1])
		}
	}
	return l.collect(t, answers)
}

// Concurrently is Concurrently with the lock held until all n requests
// wait for a lock (or have answered): on PostgreSQL, they all get as far
// as the held row before any goes on. On SQLite it is Concurrently.
func (l *RowLock) Concurrently(t testing.TB, n int, send func(i int) (*Response, error)) []*Response {
	t.Helper()
	if l.tx == nil {
		return Concurrently(t, n, send)
	}
	answers := make([]chan answer, n)
	for i := range n {
		answers[i] = goSend(func() (*Response, error) { return send(i) })
	}
	l.await(t, answers)
	return l.collect(t, answers)
}

// goSend calls send on a goroutine of its own, whose answer comes on the
// channel it returns.
func goSend(send func() (*Response, error)) chan answer {
	ch := make(chan answer, 1)
	go func() {
		r, err := send()
		ch <- answer{r, err}
	}()
	return ch
}

// collect releases the lock and returns the answers, checked as
// Concurrently checks them.
func (l *RowLock) collect(t testing.TB, answers []chan answer) []*Response {
	t.Helper()
	l.Release()
	results := make([]*Response, len(answers))
	for i, ch := range answers {
		a := <-ch
		require.NoError(t, a.err, "request %d", i)
		check(t, "/graphql", a.r)
		results[i] = a.r
	}
	return results
}

// await waits, for a minute at most, until as many connections to the
// database wait for a lock as there are requests of sent not answered yet.
func (l *RowLock) await(t testing.TB, sent []chan answer) {
	t.Helper()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); <-poll.C {
		pending := 0
		for _, ch := range sent {
			if len(ch) == 0 {
				pending++
			}
		}
		var waiting int
		require.NoError(t, l.db.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
		if waiting >= pending {
			return
		}
	}
	require.FailNow(t, "the server never came to wait for the lock")
}

// FailWrites makes every statement of kind (INSERT, UPDATE or DELETE) on
// table fail from now on, with a trigger (on either database), as a
// database fault in the middle of a transaction would.
func (c *Client) FailWrites(t testing.TB, kind, table string) {
	t.Helper()
	name := "fail_" + strings.ToLower(kind) + "_" + table
	driver, stmts := "sqlite", []string{
		`CREATE TRIGGER ` + name + ` BEFORE ` + kind + ` ON ` + table + ` BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
	}
	if database.IsPostgres(c.DatabaseURL) {
		driver, stmts = "pgx", []string{
			`CREATE FUNCTION ` + name + `() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$`,
			`CREATE TRIGGER ` + name + ` BEFORE ` + kind + ` ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION ` + name + `()`,
		}
	}
	db, err := sql.Open(driver, c.DatabaseURL)
	require.NoError(t, err)
	defer db.Close()
	for _, stmt := range stmts {
		_, err := db.ExecContext(context.Background(), stmt)
		require.NoError(t, err, stmt)
	}
}

// PostgresSerializable returns the URL of a fresh PostgreSQL database (see
// FreshDatabase) whose sessions default to SERIALIZABLE transactions, as
// some operators configure theirs. In the SQLite pass it skips the test.
func PostgresSerializable(t testing.TB) string {
	t.Helper()
	if postgresURL == "" {
		t.Skip("PostgreSQL only (TEST_DATABASE_URL)")
	}
	dbURL := FreshDatabase(t)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	require.NoError(t, adminExec(fmt.Sprintf("ALTER DATABASE %s SET default_transaction_isolation = 'serializable'", strings.TrimPrefix(u.Path, "/"))))
	return dbURL
}
