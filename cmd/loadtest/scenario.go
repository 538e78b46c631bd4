package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// row is one scenario's outcome.
type row struct {
	name     string
	conns    int
	ops      []opResult
	timeouts int
	rssMax   int64
}

// opResult is what one operation of a scenario measured.
type opResult struct {
	name     string
	n        int
	rate     float64 // answers per second
	p50, p99 time.Duration
	max      time.Duration
	codes    map[string]int // error codes and transport failures, with counts
}

// p99 returns the p99 of operation name, or 0.
func (r row) p99(name string) time.Duration {
	for _, o := range r.ops {
		if o.name == name {
			return o.p99
		}
	}
	return 0
}

// rate returns the throughput of operation name, or 0.
func (r row) rate(name string) float64 {
	for _, o := range r.ops {
		if o.name == name {
			return o.rate
		}
	}
	return 0
}

// sample is one answered (or failed) request.
type sample struct {
	latency time.Duration
	code    string // "" for a good answer
}

// runScenario opens conns connections, each sending its op (ops[i], or
// ops[0] for all when there is one) in a loop: first for a warm-up (a
// tenth of the duration, plus half a millisecond per connection to connect
// them all), then for s.duration, which alone is measured. It samples the
// server's resident memory throughout.
func runScenario(ctx context.Context, s *settings, name string, conns int, ops []op, mem *memWatch) row {
	for _, c := range uniqueClients(ops) {
		c.reset(conns)
	}
	warm := s.duration/10 + time.Duration(conns)*time.Millisecond/2
	start := time.Now()
	measureFrom, end := start.Add(warm), start.Add(warm+s.duration)
	stopMem := mem.watch()

	perConn := make([]map[string][]sample, conns)
	timeouts := make([]int, conns)
	var wg sync.WaitGroup
	for i := range conns {
		o := ops[0]
		if len(ops) > 1 {
			o = ops[i]
		}
		wg.Go(func() {
			got := map[string][]sample{}
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				token, body := o.next()
				a, err := o.c.postRaw(ctx, token, body)
				d := time.Since(t0)
				code := a.code
				switch {
				case errors.Is(err, errTimeout):
					timeouts[i]++
					code = "TIMEOUT"
				case err != nil:
					code = "NETWORK_ERROR"
				}
				if !t0.Before(measureFrom) {
					got[o.name] = append(got[o.name], sample{d, code})
				} else if code == "TIMEOUT" {
					got["(warm-up)"] = append(got["(warm-up)"], sample{d, code})
				}
				if err != nil && !errors.Is(err, errTimeout) {
					time.Sleep(10 * time.Millisecond) // a refused dial: do not spin
				}
			}
			perConn[i] = got
		})
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	r := row{name: name, conns: conns, rssMax: stopMem()}
	for _, t := range timeouts {
		r.timeouts += t
	}
	merged := map[string][]sample{}
	for _, m := range perConn {
		for k, v := range m {
			merged[k] = append(merged[k], v...)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		if k == "(warm-up)" {
			continue
		}
		r.ops = append(r.ops, summarize(k, merged[k], elapsed))
	}
	// The first op leads the row (its ratio is what the goals compare).
	slices.SortStableFunc(r.ops, func(a, b opResult) int {
		switch {
		case a.name == ops[0].name:
			return -1
		case b.name == ops[0].name:
			return 1
		}
		return 0
	})
	for _, c := range uniqueClients(ops) {
		c.closeIdle()
	}
	time.Sleep(500 * time.Millisecond) // let closed connections settle
	return r
}

// uniqueClients lists the clients of ops once each.
func uniqueClients(ops []op) []*client {
	var cs []*client
	for _, o := range ops {
		if !slices.Contains(cs, o.c) {
			cs = append(cs, o.c)
		}
	}
	return cs
}

// summarize computes an operation's throughput and percentiles.
func summarize(name string, ss []sample, elapsed time.Duration) opResult {
	lat := make([]time.Duration, len(ss))
	res := opResult{name: name, n: len(ss), codes: map[string]int{}}
	for i, s := range ss {
		lat[i] = s.latency
		if s.code != "" {
			res.codes[s.code]++
		}
	}
	slices.Sort(lat)
	res.rate = float64(len(ss)) / elapsed.Seconds()
	res.p50, res.p99, res.max = pct(lat, 50), pct(lat, 99), pct(lat, 100)
	return res
}

// pct returns the p-th percentile of sorted latencies (nearest rank).
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// printRows writes the table; a server row's ratio is to the bare row of
// the same operation and connection count.
func printRows(out io.Writer, rows []row) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\top\tconns\treq/s\tp50\tp99\tmax\terrors\tvs bare\tserver RSS\t")
	for _, r := range rows {
		for _, o := range r.ops {
			vs, rss := "", ""
			if !strings.HasSuffix(r.name, " bare") {
				if b := bareOf(rows, r, o.name); b > 0 {
					vs = fmt.Sprintf("%.0f%%", 100*o.rate/b)
				}
				if r.rssMax > 0 {
					rss = fmt.Sprintf("%.0f MB", mb(r.rssMax))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.2f ms\t%.2f ms\t%.0f ms\t%s\t%s\t%s\t\n", r.name, o.name, r.conns,
				o.rate, ms(o.p50), ms(o.p99), ms(o.max), codes(o.codes), vs, rss)
		}
		if r.timeouts > 0 && len(r.ops) > 0 {
			fmt.Fprintf(tw, "%s\t(warm-up too)\t%d\t\t\t\t\tTIMEOUT=%d\t\t\t\n", r.name, r.conns, r.timeouts)
		}
	}
	_ = tw.Flush()
}

// bareOf returns the bare handler's throughput for op at r's connection
// count (the 64-connection one for the flood), or 0.
func bareOf(rows []row, r row, op string) float64 {
	for _, b := range rows {
		if strings.HasSuffix(b.name, " bare") && len(b.ops) > 0 && b.ops[0].name == op &&
			(b.conns == r.conns || (op == "books" && !strings.Contains(b.name, "conns"))) {
			return b.ops[0].rate
		}
	}
	return 0
}

// codes formats error counts, or "-".
func codes(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
