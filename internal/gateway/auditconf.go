package gateway

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/internal/duration"
)

// auditFile reports whether audit.output is a file.
func (a AuditConfig) auditFile() bool {
	return a.Output != "" && a.Output != "stdout" && a.Output != "stderr"
}

// auditSync reads audit.sync: every record, or the interval ("" and
// "interval" are the default, 0).
func auditSync(s string) (everyRecord bool, interval time.Duration, err error) {
	switch s {
	case "", "interval":
		return false, 0, nil
	case "every_record":
		return true, 0, nil
	}
	d, err := duration.Parse(s)
	if err != nil || d <= 0 || d > time.Hour {
		return false, 0, errors.New("must be every_record, interval (every second) or a duration up to 1h, e.g. 200ms")
	}
	return false, d, nil
}

// checkpointEvery reads audit.checkpoints.every: records or a duration.
func checkpointEvery(s string) (records int, interval time.Duration, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 10_000_000 {
			return 0, 0, errors.New("must be a positive number of records (e.g. 1000) or a duration (e.g. 1m)")
		}
		return n, 0, nil
	}
	d, err := duration.Parse(s)
	if err != nil || d < time.Second {
		return 0, 0, errors.New("must be a positive number of records (e.g. 1000) or a duration of at least 1s (e.g. 1m)")
	}
	return 0, d, nil
}

// aggregateAfter reads audit.aggregate.after: N/s or N/m, in denials per
// second.
func aggregateAfter(s string) (float64, error) {
	bad := errors.New("must be a rate such as 50/s or 600/m")
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, bad
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
	if err != nil || !(v > 0 && v <= 1e6) { // NaN too
		return 0, bad
	}
	switch strings.TrimSpace(unit) {
	case "s":
	case "m":
		v /= 60
	default:
		return 0, bad
	}
	if v < 0.01 {
		return 0, errors.New("must be at least 0.6/m")
	}
	return v, nil
}

// checkAudit checks the audit section.
func (c *Config) checkAudit(errs *[]error) {
	a := c.Audit
	chained := a.auditFile() && a.HMACKeyFile != ""
	need := "needs output to be a file and hmac_key_file (it is a feature of the tamper-evident audit file)"
	if a.Sync != "" {
		if _, _, err := auditSync(a.Sync); err != nil {
			c.problem(errs, "audit.sync", "%v", err)
		} else if !chained {
			c.problem(errs, "audit.sync", "%s", need)
		}
	}
	if cp := a.Checkpoints; cp != nil {
		switch {
		case !chained:
			c.problem(errs, "audit.checkpoints", "%s", need)
		case cp.File == "":
			c.problem(errs, "audit.checkpoints.file", "required: the second file the checkpoints go to (keep it on other storage than the log)")
		case filepath.Clean(c.Path(cp.File)) == filepath.Clean(c.Path(a.Output)):
			c.problem(errs, "audit.checkpoints.file", "must not be audit.output itself")
		}
		if _, _, err := checkpointEvery(cp.Every); err != nil {
			c.problem(errs, "audit.checkpoints.every", "%v", err)
		}
	}
	if r := a.Rotate; r != nil {
		switch {
		case !chained:
			c.problem(errs, "audit.rotate", "%s", need)
		case r.MaxSize == 0 && r.MaxAge == 0:
			c.problem(errs, "audit.rotate", "needs max_size or max_age")
		}
		if r.MaxSize < 0 || (r.MaxSize > 0 && r.MaxSize < 4096) {
			c.problem(errs, "audit.rotate.max_size", "must be at least 4KiB")
		}
		if r.MaxAge < 0 || (r.MaxAge > 0 && r.MaxAge < Duration(time.Minute)) {
			c.problem(errs, "audit.rotate.max_age", "must be at least 1m")
		}
		if r.Keep < 0 {
			c.problem(errs, "audit.rotate.keep", "must not be negative (0 keeps every rotated file)")
		}
	}
	if ag := a.Aggregate; ag != nil {
		if _, err := aggregateAfter(ag.After); err != nil {
			c.problem(errs, "audit.aggregate.after", "%v", err)
		}
	}
}
