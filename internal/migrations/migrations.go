// Package migrations applies the embedded schema in sql/ with golang-migrate.
// golang-migrate's PostgreSQL driver holds an advisory lock while it works, so
// several replicas starting together migrate the database once.
package migrations

import (
	"errors"
	"fmt"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"

	schema "github.com/licensing-service/licensing/sql"
)

// open builds a migrator for the database at url (postgres:// or pgx5://).
func open(url string) (*migrate.Migrate, error) {
	src, err := iofs.New(schema.Migrations, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: source: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, driverURL(url))
	if err != nil {
		return nil, fmt.Errorf("migrations: connect: %w", err)
	}
	return m, nil
}

func driverURL(url string) string {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if strings.HasPrefix(url, p) {
			return "pgx5://" + strings.TrimPrefix(url, p)
		}
	}
	return url
}

func closeAll(m *migrate.Migrate, err error) error {
	srcErr, dbErr := m.Close()
	return errors.Join(err, srcErr, dbErr)
}

// Up applies every migration not yet applied. A database left dirty by a
// failed migration is reported, never forced: that needs a human.
func Up(url string) error {
	m, err := open(url)
	if err != nil {
		return err
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return closeAll(m, fmt.Errorf("migrations: up: %w", err))
	}
	return closeAll(m, nil)
}

// Down reverts steps migrations; steps <= 0 reverts all of them.
func Down(url string, steps int) error {
	m, err := open(url)
	if err != nil {
		return err
	}
	if steps <= 0 {
		err = m.Down()
	} else {
		err = m.Steps(-steps)
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return closeAll(m, fmt.Errorf("migrations: down: %w", err))
	}
	return closeAll(m, nil)
}

// Version reports the applied version and whether the database is dirty;
// version 0 means nothing is applied.
func Version(url string) (version uint, dirty bool, err error) {
	m, err := open(url)
	if err != nil {
		return 0, false, err
	}
	version, dirty, err = m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, closeAll(m, nil)
	}
	return version, dirty, closeAll(m, err)
}

// Latest is the highest migration version embedded in this binary.
func Latest() (uint, error) {
	src, err := iofs.New(schema.Migrations, ".")
	if err != nil {
		return 0, err
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, err
	}
	for {
		next, err := src.Next(v)
		if err != nil {
			return v, nil
		}
		v = next
	}
}
