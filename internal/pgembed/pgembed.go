// Package pgembed runs a private PostgreSQL cluster made from the machine's
// own PostgreSQL binaries. The server uses it in dev mode (no DATABASE_URL)
// and the tests use it for one throwaway cluster per test process.
//
// The cluster listens on 127.0.0.1 at a free (or configured) port and on a
// unix socket, authenticates with a generated password (scram-sha-256), and
// preloads pg_cron when the pg_cron package is installed. As root, every
// PostgreSQL binary runs as the "postgres" OS user, because initdb and the
// postmaster refuse to run as root.
package pgembed

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinaries is returned by Start when no PostgreSQL server binaries are
// found on the machine.
var ErrNoBinaries = errors.New("pgembed: no PostgreSQL server binaries found " +
	"(install them with `apt-get install -y postgresql-15` " +
	"or set DATABASE_URL to an existing PostgreSQL server)")

// ErrDataDirUnreachable is returned by Start, as root, when the postgres OS
// user cannot write the data directory, usually because a parent directory
// is not searchable by other users (a home directory with mode 0700).
var ErrDataDirUnreachable = errors.New("pgembed: the postgres OS user cannot reach the data directory")

// ErrInUse is returned by Start when another live process owns the cluster
// of the same data directory (it holds the lock file beside it). Starting
// anyway would restart that process's database under it.
var ErrInUse = errors.New("pgembed: the data directory is locked by another process")

// Config describes a private cluster. The zero value of every field but
// DataDir has a usable default.
type Config struct {
	// DataDir is the cluster's data directory; it is created by initdb on the
	// first start and reused afterwards.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// BinDir holds initdb, pg_ctl and postgres; empty finds it through
	// pg_config or /usr/lib/postgresql/*/bin.
	BinDir string
	// CronDatabase is the database pg_cron runs its jobs from
	// (cron.database_name); empty means "licensing".
	CronDatabase string
	// Settings are extra postgresql.conf lines (name -> value, quoted as needed).
	Settings map[string]string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running private PostgreSQL cluster.
type Cluster struct {
	cfg      Config
	binDir   string
	port     int
	password string
	sockDir  string
	cred     *syscall.Credential
	hasCron  bool
	log      *slog.Logger
	// lock is the open lock file, flock(LOCK_EX)-ed for the Cluster's
	// life. The kernel drops the lock when the process dies, so a cluster
	// left running by a dead process has no owner and can be taken over.
	lock *os.File
}

const superuser = "postgres"

// Start creates the cluster on first use, then starts it. The calling
// process owns the cluster until Stop: it holds an exclusive lock on
// <DataDir>.lock, and a second Start on the same data directory meanwhile
// fails at once with ErrInUse, leaving the running cluster alone. A cluster
// left running by a previous process that died (so nobody holds the lock) is
// stopped and started again, so the port and settings are always the ones
// asked for.
func Start(ctx context.Context, cfg Config) (cl *Cluster, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("pgembed: DataDir is required")
	}
	if cfg.CronDatabase == "" {
		cfg.CronDatabase = "licensing"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	binDir, err := findBinDir(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	c := &Cluster{cfg: cfg, binDir: binDir, log: log}
	c.cfg.DataDir = dataDir
	if err := c.acquire(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.release()
		}
	}()
	if os.Geteuid() == 0 {
		if c.cred, err = postgresCredential(); err != nil {
			return nil, err
		}
	}
	c.hasCron = fileExists(filepath.Join(pkgLibDir(binDir), "pg_cron.so"))

	if err := c.prepareDirs(); err != nil {
		return nil, err
	}
	if err := c.loadOrInit(ctx); err != nil {
		return nil, err
	}
	if c.port = cfg.Port; c.port == 0 {
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := c.writeConf(); err != nil {
		return nil, err
	}
	if c.running(ctx) {
		log.Warn("pgembed: a cluster from an earlier run is still up; restarting it", "data_dir", dataDir)
		_ = c.pgctl(ctx, "stop", "-m", "fast", "-w")
	}
	if err := c.pgctl(ctx, "start", "-w", "-t", "60", "-l", filepath.Join(dataDir, "server.log")); err != nil {
		return nil, fmt.Errorf("pgembed: start: %w (see %s)", err, filepath.Join(dataDir, "server.log"))
	}
	log.Info("pgembed: PostgreSQL started", "data_dir", dataDir, "port", c.port, "pg_cron", c.hasCron)
	return c, nil
}

// Port is the TCP port the cluster listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// HasCron reports whether pg_cron is preloaded in this cluster.
func (c *Cluster) HasCron() bool { return c.hasCron }

// CronDatabase is the database pg_cron schedules from (cron.database_name).
func (c *Cluster) CronDatabase() string { return c.cfg.CronDatabase }

// BinDir is the directory of the PostgreSQL binaries in use (psql, pgbench...).
func (c *Cluster) BinDir() string { return c.binDir }

// DataDir is the absolute data directory.
func (c *Cluster) DataDir() string { return c.cfg.DataDir }

// URL is a connection URL for database dbname as the superuser, over TCP.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop shuts the cluster down (fast mode: sessions are ended, data is kept)
// and gives up its ownership, so another process may start it.
func (c *Cluster) Stop(ctx context.Context) error {
	defer c.release()
	if err := c.pgctl(ctx, "stop", "-m", "fast", "-w", "-t", "60"); err != nil {
		return fmt.Errorf("pgembed: stop: %w", err)
	}
	c.log.Info("pgembed: PostgreSQL stopped", "data_dir", c.cfg.DataDir)
	return nil
}

// Restart stops the cluster in the given mode ("fast" or "immediate") and
// starts it again on the same port. Fault-injection tests use it.
func (c *Cluster) Restart(ctx context.Context, mode string) error {
	if err := c.pgctl(ctx, "stop", "-m", mode, "-w", "-t", "60"); err != nil {
		return fmt.Errorf("pgembed: stop (%s): %w", mode, err)
	}
	return c.StartAgain(ctx)
}

// StopMode stops the cluster in the given mode without starting it again.
func (c *Cluster) StopMode(ctx context.Context, mode string) error {
	return c.pgctl(ctx, "stop", "-m", mode, "-w", "-t", "60")
}

// StartAgain starts a stopped cluster with the same settings.
func (c *Cluster) StartAgain(ctx context.Context) error {
	return c.pgctl(ctx, "start", "-w", "-t", "60", "-l", filepath.Join(c.cfg.DataDir, "server.log"))
}

// Command builds an exec.Cmd for one of the cluster's binaries (psql,
// pgbench, pg_prove...), run as the cluster's OS user, with PGPASSWORD set.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := name
	if !strings.Contains(name, "/") {
		if p := filepath.Join(c.binDir, name); fileExists(p) {
			path = p
		}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+c.password)
	return cmd
}

// Abandon gives up the ownership of the cluster without stopping it, as the
// death of the owning process does; the next Start takes the cluster over.
// Crash tests use it.
func (c *Cluster) Abandon() { c.release() }

// acquire takes the exclusive lock on <DataDir>.lock, or fails with
// ErrInUse when a live process holds it. The file is opened close-on-exec,
// so the postmaster never inherits the lock and outlives its owner with it.
func (c *Cluster) acquire() error {
	if err := os.MkdirAll(filepath.Dir(c.cfg.DataDir), 0o755); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	f, err := os.OpenFile(c.cfg.DataDir+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("another licensingd is using %s; stop it, or set DATABASE_URL (%w)", c.cfg.DataDir, ErrInUse)
		}
		return fmt.Errorf("pgembed: lock %s: %w", f.Name(), err)
	}
	c.lock = f
	return nil
}

// release drops the lock taken by acquire; closing the file unlocks it.
func (c *Cluster) release() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

func (c *Cluster) prepareDirs() error {
	parent := filepath.Dir(c.cfg.DataDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if err := os.MkdirAll(c.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	// The unix socket path must stay under ~100 bytes, so it lives in a
	// short directory of its own rather than in a possibly deep data dir.
	sum := sha256.Sum256([]byte(c.cfg.DataDir))
	c.sockDir = filepath.Join(os.TempDir(), "pgembed-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(c.sockDir, 0o700); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if c.cred != nil {
		for _, d := range []string{c.cfg.DataDir, c.sockDir} {
			if err := os.Chown(d, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return fmt.Errorf("pgembed: %w", err)
			}
		}
		// The postgres user must be able to reach the data dir.
		if err := c.run(context.Background(), "/usr/bin/test", "-w", c.cfg.DataDir); err != nil {
			return fmt.Errorf("%w: it cannot write %s; "+
				"make every parent directory searchable (chmod o+x) or put the data dir elsewhere (%v)",
				ErrDataDirUnreachable, c.cfg.DataDir, err)
		}
	}
	return nil
}

// loadOrInit runs initdb on an empty data dir and reads the superuser
// password kept beside the cluster.
func (c *Cluster) loadOrInit(ctx context.Context) error {
	pwFile := c.cfg.DataDir + ".password"
	if fileExists(filepath.Join(c.cfg.DataDir, "PG_VERSION")) {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return fmt.Errorf("pgembed: cluster %s exists but its password file is unreadable: %w", c.cfg.DataDir, err)
		}
		c.password = strings.TrimSpace(string(b))
		return nil
	}
	var buf [18]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return err
	}
	c.password = hex.EncodeToString(buf[:])
	if err := os.WriteFile(pwFile, []byte(c.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	// initdb reads the password from a file the postgres user can read.
	tmpPw := filepath.Join(c.sockDir, "initpw")
	if err := os.WriteFile(tmpPw, []byte(c.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(tmpPw)
	if c.cred != nil {
		if err := os.Chown(tmpPw, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := c.run(ctx, filepath.Join(c.binDir, "initdb"),
		"-D", c.cfg.DataDir, "-U", superuser, "--pwfile="+tmpPw,
		"--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
		"-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"); err != nil {
		return fmt.Errorf("pgembed: initdb: %w", err)
	}
	c.log.Info("pgembed: created cluster", "data_dir", c.cfg.DataDir, "took", time.Since(start).Round(time.Millisecond))
	// postgresql.conf includes our own file, rewritten on each start.
	conf := filepath.Join(c.cfg.DataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	defer f.Close()
	_, err = f.WriteString("\n# Settings of the licensing service's private cluster.\ninclude_if_exists = 'licensing.conf'\n")
	return err
}

// writeConf writes licensing.conf: port, sockets, pg_cron. pg_cron's
// settings must live in postgresql.conf (not ALTER SYSTEM).
func (c *Cluster) writeConf() error {
	lines := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"port":                    strconv.Itoa(c.port),
		"unix_socket_directories": "'" + c.sockDir + "'",
		"max_connections":         "200",
		"logging_collector":       "off",
		"log_min_messages":        "warning",
	}
	if c.hasCron {
		lines["shared_preload_libraries"] = "'pg_cron'"
		lines["cron.database_name"] = "'" + c.cfg.CronDatabase + "'"
		lines["cron.use_background_workers"] = "on"
		lines["max_worker_processes"] = "32"
	}
	for k, v := range c.cfg.Settings {
		lines[k] = v
	}
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# Written by pgembed at every start; edits are lost.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, lines[k])
	}
	p := filepath.Join(c.cfg.DataDir, "licensing.conf")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if c.cred != nil {
		return os.Chown(p, int(c.cred.Uid), int(c.cred.Gid))
	}
	return nil
}

func (c *Cluster) running(ctx context.Context) bool {
	return c.pgctl(ctx, "status") == nil
}

func (c *Cluster) pgctl(ctx context.Context, args ...string) error {
	return c.run(ctx, filepath.Join(c.binDir, "pg_ctl"), append([]string{"-D", c.cfg.DataDir}, args...)...)
}

// run executes a PostgreSQL binary as the cluster's OS user and returns its
// output in the error when it fails.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	// A process group of its own keeps the postmaster out of the terminal's
	// Ctrl-C: the server must drain its requests before the database stops,
	// and it stops the database itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	// The postmaster started by pg_ctl must not hold our pipes open, or
	// CombinedOutput would wait for it; pg_ctl -l sends its output to a file.
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return nil
}

func findBinDir(dir string) (string, error) {
	if dir != "" {
		if fileExists(filepath.Join(dir, "initdb")) {
			return dir, nil
		}
		return "", fmt.Errorf("pgembed: no initdb in %s: %w", dir, ErrNoBinaries)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if fileExists(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", ErrNoBinaries
	}
	// Highest major version first.
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func versionOf(initdbPath string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdbPath))))
	return v
}

func pkgLibDir(binDir string) string {
	if out, err := exec.Command(filepath.Join(binDir, "pg_config"), "--pkglibdir").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return filepath.Join(filepath.Dir(binDir), "lib")
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgembed: running as root needs the postgres OS user (comes with the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgembed: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
