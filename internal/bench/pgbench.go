package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/licensing-service/licensing/internal/pgembed"
)

// QueryText returns the SQL of the sqlc query called name in text, the
// content of a queries/*.sql file: the lines after "-- name: <name> :kind"
// up to the next "-- name:" line, without the comment lines. It is how the
// database ceiling runs the very statement the service runs.
func QueryText(text, name string) (string, error) {
	var (
		out   []string
		found bool
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fields := strings.Fields(trimmed); len(fields) >= 3 && fields[0] == "--" && fields[1] == "name:" {
			if found {
				break
			}
			found = fields[2] == name
			continue
		}
		if !found || strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		out = append(out, line)
	}
	if !found {
		return "", fmt.Errorf("bench: no query %q", name)
	}
	q := strings.TrimSpace(strings.Join(out, "\n"))
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	if q == "" {
		return "", fmt.Errorf("bench: query %q is empty", name)
	}
	return q, nil
}

var (
	// sqlcParam matches sqlc's parameter forms: @name, sqlc.arg(name) and
	// sqlc.narg(name), with or without quotes around the name.
	sqlcParam = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)|sqlc\.n?arg\(\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*\)`)
	// sqlcEmbed matches sqlc.embed(table), which sqlc expands to the
	// table's columns: table.* in plain SQL.
	sqlcEmbed = regexp.MustCompile(`sqlc\.embed\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)`)
	// pgbenchVar matches what pgbench would take for a variable (":name",
	// but not the "::" of a cast).
	pgbenchVar = regexp.MustCompile(`(^|[^:]):[A-Za-z0-9_]`)
)

// BindParams replaces every sqlc parameter of query by its SQL expression
// in args (for pgbench, usually a :variable or an expression over one).
// A parameter without an entry is an error, so a query that gains a
// parameter fails the benchmark instead of silently measuring something
// else; so is an entry the query does not use. sqlc.embed(t) becomes t.*.
func BindParams(query string, args map[string]string) (string, error) {
	query = sqlcEmbed.ReplaceAllString(query, "$1.*")
	if m := pgbenchVar.FindString(query); m != "" {
		return "", fmt.Errorf("bench: the query contains %q, which pgbench would read as a variable", strings.TrimSpace(m))
	}
	var missing []string
	used := map[string]bool{}
	out := sqlcParam.ReplaceAllStringFunc(query, func(m string) string {
		sub := sqlcParam.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		expr, ok := args[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		used[name] = true
		return "(" + expr + ")"
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("bench: no value for the query parameters %v", missing)
	}
	for name := range args {
		if !used[name] {
			return "", fmt.Errorf("bench: the query has no parameter %q", name)
		}
	}
	return out, nil
}

// Pgbench describes one pgbench run of a custom script.
type Pgbench struct {
	Name     string
	Script   string
	Clients  int
	Duration time.Duration
	// Warmup is the first part of the run, left out of the figures: the
	// connections are made, the statements prepared and the caches warm
	// before the measured part starts, as on the HTTP side.
	Warmup time.Duration
	// DB is the database to run in.
	DB string
}

// RunPgbench runs p on the cluster with the cluster's own pgbench binary,
// in prepared mode (like pgx, which prepares every statement), with one
// thread per core at most, and summarises it from pgbench's
// per-transaction log (exact percentiles, not pgbench's average).
func RunPgbench(ctx context.Context, c *pgembed.Cluster, p Pgbench, threads int) (Stats, error) {
	dir, err := os.MkdirTemp("", "bench-pgbench-")
	if err != nil {
		return Stats{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(script, []byte(p.Script), 0o644); err != nil {
		return Stats{}, err
	}
	if threads < 1 {
		threads = 1
	}
	if threads > p.Clients {
		threads = p.Clients
	}
	run := func(d time.Duration, logPrefix string) (string, error) {
		secs := int(d.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		args := []string{
			"-n", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port()), "-U", "postgres",
			"-M", "prepared", "-c", strconv.Itoa(p.Clients), "-j", strconv.Itoa(threads),
			"-T", strconv.Itoa(secs), "-f", script,
		}
		if logPrefix != "" {
			args = append(args, "-l", "--log-prefix="+logPrefix)
		}
		args = append(args, p.DB)
		cmd := c.Command(ctx, "pgbench", args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("bench: pgbench %s: %w: %s", p.Name, err, lastLines(out.String(), 15))
		}
		return out.String(), nil
	}
	// pgbench's -T starts before its connections are made (SCRAM, tens of
	// milliseconds each on a busy machine), and the warm-up is counted from
	// the first transaction: give the connections time of their own.
	connecting := time.Duration(p.Clients) * 30 * time.Millisecond
	out, err := run(connecting+p.Warmup+p.Duration, filepath.Join(dir, "tx"))
	if err != nil {
		return Stats{}, err
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "tx.*"))
	if len(logs) == 0 {
		return Stats{}, fmt.Errorf("bench: pgbench %s wrote no transaction log: %s", p.Name, lastLines(out, 15))
	}
	s, err := parsePgbenchLogs(logs, p.Warmup, p.Duration)
	if err != nil {
		return Stats{}, err
	}
	if s.Requests == 0 {
		s.FirstError = "pgbench: no transaction after the warm-up: " + lastLines(out, 3)
	}
	if failed := pgbenchFailed(out); failed > 0 {
		s.Errors += failed
		s.Requests += failed
		s.FirstError = "pgbench: " + lastLines(out, 3)
	}
	return s, nil
}

// parsePgbenchLogs reads pgbench's per-transaction logs ("client_id
// transaction_no time script_no time_epoch time_us", time being the
// latency in microseconds and time_epoch/time_us the end of the
// transaction) into Stats, leaving out the transactions that started in
// the first skip of the run or more than limit after it (0: no limit).
func parsePgbenchLogs(paths []string, skip, limit time.Duration) (Stats, error) {
	type tx struct {
		start   time.Time
		latency time.Duration
		failed  string
	}
	var (
		txs   []tx
		first time.Time
	)
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return Stats{}, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 6 {
				continue
			}
			lat, err1 := strconv.ParseInt(fields[2], 10, 64)
			sec, err2 := strconv.ParseInt(fields[4], 10, 64)
			usec, err3 := strconv.ParseInt(fields[5], 10, 64)
			if err2 != nil || err3 != nil {
				continue
			}
			done := time.Unix(sec, usec*1000)
			t := tx{start: done, latency: time.Duration(lat) * time.Microsecond}
			if err1 != nil {
				// "failed" or "skipped" instead of a latency.
				t.failed = "pgbench log: " + sc.Text()
			} else {
				t.start = done.Add(-t.latency)
			}
			if first.IsZero() || t.start.Before(first) {
				first = t.start
			}
			txs = append(txs, t)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return Stats{}, err
		}
	}
	var (
		s         Stats
		latencies []time.Duration
		begin     time.Time
		end       time.Time
		cutoff    = first.Add(skip)
	)
	for _, t := range txs {
		if t.start.Before(cutoff) || limit > 0 && t.start.After(cutoff.Add(limit)) {
			continue
		}
		s.Requests++
		if begin.IsZero() || t.start.Before(begin) {
			begin = t.start
		}
		if done := t.start.Add(t.latency); done.After(end) {
			end = done
		}
		if t.failed != "" {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = t.failed
			}
			continue
		}
		latencies = append(latencies, t.latency)
	}
	if !begin.IsZero() {
		s.Seconds = end.Sub(begin).Seconds()
	}
	summarise(&s, latencies)
	return s, nil
}

var pgbenchFailedRE = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)

// pgbenchFailed returns the failed transactions pgbench reported.
func pgbenchFailed(out string) int {
	if m := pgbenchFailedRE.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
