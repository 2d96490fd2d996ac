//go:build !unix

package apikeytest

import (
	"os"
	"testing"
)

// Postgres is a throwaway PostgreSQL server; see the unix implementation.
type Postgres struct{}

// StartPostgres is only implemented on unix systems: it skips tb, or fails
// it when BULWARK_REQUIRE_REAL=1.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	if os.Getenv("BULWARK_REQUIRE_REAL") == "1" {
		tb.Fatal("StartPostgres needs a unix system")
	}
	tb.Skip("StartPostgres needs a unix system")
	return nil
}

// NewDatabase is never reached on this system.
func (p *Postgres) NewDatabase(tb testing.TB) string { tb.Helper(); tb.FailNow(); return "" }
