// Package config is the service's configuration: a plain struct with
// documented defaults, read from the environment by cmd/licensingd.
package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config holds every setting of licensingd. The README's Configuration
// section lists the environment variables.
type Config struct {
	// DatabaseURL is the PostgreSQL to use; empty starts the private
	// cluster under DataDir (dev mode).
	DatabaseURL string
	// DataDir holds the private cluster and dev-mode secrets (.data).
	DataDir string
	// EmbeddedPGPort is the private cluster's port; 0 picks a free one.
	EmbeddedPGPort int
	// PGBinDir holds the PostgreSQL binaries for the private cluster; empty
	// finds them through pg_config or /usr/lib/postgresql/*/bin.
	PGBinDir string
	// Addr is the HTTP listen address.
	Addr string
	// AdminToken is one accepted admin bearer token.
	AdminToken string
	// Issuer and Audience are the iss and aud of license tokens.
	Issuer   string
	Audience string
	// TokenTTL bounds a license token's lifetime (and the license's valid_to does too).
	TokenTTL time.Duration
	// PoolSize is the maximum number of database connections.
	PoolSize int32
	// StatementTimeout bounds every statement (PostgreSQL statement_timeout).
	StatementTimeout time.Duration
	// LockTimeout bounds every wait for a row or table lock (PostgreSQL
	// lock_timeout), so a license row held by a stuck session turns into a
	// 503 well before the statement timeout.
	LockTimeout time.Duration
	// RequestTimeout is the deadline of every request: waiting for
	// admission, for a connection and for the database all count.
	RequestTimeout time.Duration
	// MaxInFlight is how many requests run at once; 0 means the pool size,
	// so a running request rarely waits for a connection.
	MaxInFlight int
	// MaxQueue is how many more requests may wait for a slot; 0 means 32
	// times MaxInFlight. Beyond it a request gets 503 at once.
	MaxQueue int
	// QueueTimeout bounds a request's wait for a slot (then 503).
	QueueTimeout time.Duration
	// DBRole is the role the service's connections switch to (SET ROLE)
	// after connecting: licensing_app (migration 000004) may change rows
	// but not the schema, and row-level security applies to it. "none"
	// keeps the connecting user (not recommended).
	DBRole string
	// AdminAuthMaxFailures is how many failed admin authentications one
	// client may make in AdminAuthWindow before it is refused with 429
	// until the window ends.
	AdminAuthMaxFailures int
	// AdminAuthWindow is the window of AdminAuthMaxFailures.
	AdminAuthWindow time.Duration
	// ShutdownTimeout bounds the draining of requests in flight.
	ShutdownTimeout time.Duration
	// TLSCert and TLSKey, both set, serve HTTPS.
	TLSCert string
	TLSKey  string
	// ConsoleSecret keys the admin console's session and CSRF cookies. Replicas
	// behind one address need the same value; empty draws a random one at
	// startup, so console sessions end when the process restarts.
	ConsoleSecret string
	// TrustedProxies are the addresses (IPs or CIDRs) of reverse proxies
	// whose X-Forwarded-For names the client. Empty trusts none: the client
	// is the peer address, which a request cannot forge.
	TrustedProxies []string
	// PruneInterval is how often the server prunes old jobs when pg_cron
	// does not (LICENSING_PRUNE_INTERVAL); replicas take turns under an
	// advisory lock.
	PruneInterval time.Duration
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is json or text.
	LogFormat string
}

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		DataDir:              ".data",
		Addr:                 ":8080",
		Issuer:               "licensing-service",
		Audience:             "licensing-api",
		TokenTTL:             365 * 24 * time.Hour,
		PoolSize:             20,
		StatementTimeout:     5 * time.Second,
		LockTimeout:          2 * time.Second,
		RequestTimeout:       10 * time.Second,
		QueueTimeout:         2 * time.Second,
		DBRole:               "licensing_app",
		AdminAuthMaxFailures: 10,
		AdminAuthWindow:      15 * time.Minute,
		ShutdownTimeout:      15 * time.Second,
		PruneInterval:        10 * time.Minute,
		LogLevel:             "info",
		LogFormat:            "json",
	}
}

// FromEnv reads the configuration from the environment over the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Default()
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	var errs []error
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 5s", name, v))
				return
			}
			*dst = d
		}
	}
	num := func(name string, dst *int, min, max int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < min || n > max {
				errs = append(errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, min, max))
				return
			}
			*dst = n
		}
	}
	str("DATABASE_URL", &c.DatabaseURL)
	str("LICENSING_DATA_DIR", &c.DataDir)
	num("LICENSING_PG_PORT", &c.EmbeddedPGPort, 0, 65535)
	str("LICENSING_PG_BIN_DIR", &c.PGBinDir)
	str("LICENSING_ADDR", &c.Addr)
	str("LICENSING_ADMIN_TOKEN", &c.AdminToken)
	str("LICENSING_ISSUER", &c.Issuer)
	str("LICENSING_AUDIENCE", &c.Audience)
	dur("LICENSING_TOKEN_TTL", &c.TokenTTL)
	pool := int(c.PoolSize)
	num("LICENSING_DB_POOL_SIZE", &pool, 1, 1000)
	c.PoolSize = int32(pool)
	dur("LICENSING_STATEMENT_TIMEOUT", &c.StatementTimeout)
	dur("LICENSING_LOCK_TIMEOUT", &c.LockTimeout)
	dur("LICENSING_REQUEST_TIMEOUT", &c.RequestTimeout)
	num("LICENSING_MAX_IN_FLIGHT", &c.MaxInFlight, 0, 100000)
	num("LICENSING_MAX_QUEUE", &c.MaxQueue, 0, 1000000)
	dur("LICENSING_QUEUE_TIMEOUT", &c.QueueTimeout)
	str("LICENSING_DB_ROLE", &c.DBRole)
	num("LICENSING_ADMIN_AUTH_MAX_FAILURES", &c.AdminAuthMaxFailures, 1, 1000000)
	dur("LICENSING_ADMIN_AUTH_WINDOW", &c.AdminAuthWindow)
	dur("LICENSING_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	dur("LICENSING_PRUNE_INTERVAL", &c.PruneInterval)
	str("LICENSING_TLS_CERT", &c.TLSCert)
	str("LICENSING_TLS_KEY", &c.TLSKey)
	str("LICENSING_CONSOLE_SECRET", &c.ConsoleSecret)
	if c.ConsoleSecret != "" && len(c.ConsoleSecret) < 32 {
		errs = append(errs, fmt.Errorf("LICENSING_CONSOLE_SECRET: want at least 32 characters"))
	}
	if v := getenv("LICENSING_TRUSTED_PROXIES"); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
				errs = append(errs, fmt.Errorf("LICENSING_TRUSTED_PROXIES: %q is not an IP address or CIDR", p))
				continue
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	str("LICENSING_LOG_LEVEL", &c.LogLevel)
	str("LICENSING_LOG_FORMAT", &c.LogFormat)
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, fmt.Errorf("LICENSING_TLS_CERT and LICENSING_TLS_KEY go together"))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %v", errs)
	}
	return c, nil
}
