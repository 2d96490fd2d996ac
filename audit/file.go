package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultSyncInterval is how often a [File] flushes its records to stable
// storage when [FileConfig.SyncEveryRecord] is off.
const DefaultSyncInterval = time.Second

// rotatedLayout is the time stamp a rotated file's name ends in: it sorts
// in time order.
const rotatedLayout = "20060102T150405.000000000Z"

// FileConfig configures a [File].
type FileConfig struct {
	// Key and KeyID are the chain's, as in [ChainConfig]. Key is required.
	Key   []byte
	KeyID string

	// SyncEveryRecord flushes every record to stable storage (fsync)
	// before Handle returns: a power loss then loses no record whose
	// request completed. Default false: records are written to the file
	// (the operating system's cache) before Handle returns, so a killed
	// or crashed process loses none, and flushed every SyncInterval, so a
	// power loss loses at most that much.
	SyncEveryRecord bool

	// SyncInterval is the flush interval without SyncEveryRecord. Default
	// [DefaultSyncInterval]. Must be zero with SyncEveryRecord.
	SyncInterval time.Duration

	// Checkpoints, when set, is the path of the checkpoint file: a chain
	// of signed "audit.checkpoint" records ([ChainConfig.CheckpointChain])
	// naming the latest record of the log at the start of every chain
	// segment, every CheckpointEvery records, every CheckpointInterval and
	// at Close. Keep it on other storage than the log (or ship it away):
	// with it, `bulwark audit verify -checkpoints` catches a removed file
	// or segment and a truncated tail. Default: none.
	Checkpoints string

	// CheckpointEvery is the checkpoint interval in records. Default
	// [DefaultCheckpointEvery] when CheckpointInterval is zero too.
	CheckpointEvery int

	// CheckpointInterval, when set, also writes a checkpoint when this much
	// time has passed since the last one and records were written.
	CheckpointInterval time.Duration

	// MaxSize rotates the file when it reaches this many bytes. Default 0:
	// no size limit.
	MaxSize int64

	// MaxAge rotates the file when its first record is this old. Default
	// 0: no age limit.
	MaxAge time.Duration

	// Keep is how many rotated files are kept; older ones are deleted.
	// Default 0: all are kept.
	Keep int

	// Level is the minimum level written. Default slog.LevelInfo.
	Level slog.Leveler

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// File is a tamper-evident audit log in a file: an slog handler that
// writes every record through a [Chain], flushes as [FileConfig] says,
// writes signed checkpoints to a second file, rotates by size and age
// (path → path.<UTC time>), and reopens its path on [File.Reopen] (after
// logrotate renamed it). Every new segment — after a rotation, a reopen or
// a restart — starts a chain linked to the last record before it, read
// from the end of the existing file on open, so that the rotated files and
// the current one verify as one chain ([VerifyFiles]) and a crash shows as
// an unclean end, not as tampering. It is safe for concurrent use; Close
// stops its background goroutine.
type File struct {
	mu      sync.Mutex
	path    string
	cfg     FileConfig
	every   int
	f       *os.File
	size    int64
	born    time.Time
	chain   *Chain
	cpf     *os.File
	cp      *Chain
	dirty   bool
	lastCP  time.Time
	records uint64 // records since the last checkpoint
	pending *Link  // the link for the next chain, while none is open
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

var _ slog.Handler = (*File)(nil)

// OpenFile checks cfg, opens (or creates) the log at path and the
// checkpoint file, and starts a chain linked to the last record already
// in the file. Every configuration problem is returned, joined; each is a
// [*ConfigError].
func OpenFile(path string, cfg FileConfig) (*File, error) {
	var errs []error
	if path == "" {
		errs = append(errs, &ConfigError{Field: "path", Reason: "required"})
	}
	if len(cfg.Key) < MinKeyLen {
		errs = append(errs, &ConfigError{Field: "Key", Reason: "required, at least 32 bytes"})
	}
	switch {
	case cfg.SyncEveryRecord && cfg.SyncInterval != 0:
		errs = append(errs, &ConfigError{Field: "SyncInterval", Reason: "set together with SyncEveryRecord: choose one"})
	case cfg.SyncInterval < 0:
		errs = append(errs, &ConfigError{Field: "SyncInterval", Reason: "must be positive"})
	case cfg.SyncInterval == 0:
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.Checkpoints == "" && (cfg.CheckpointEvery != 0 || cfg.CheckpointInterval != 0) {
		errs = append(errs, &ConfigError{Field: "CheckpointEvery", Reason: "set without Checkpoints"})
	}
	if cfg.CheckpointEvery < 0 || cfg.CheckpointInterval < 0 {
		errs = append(errs, &ConfigError{Field: "CheckpointEvery", Reason: "must be positive"})
	}
	if cfg.Checkpoints != "" && filepath.Clean(cfg.Checkpoints) == filepath.Clean(path) {
		errs = append(errs, &ConfigError{Field: "Checkpoints", Value: cfg.Checkpoints, Reason: "must not be the log file itself"})
	}
	if cfg.MaxSize < 0 || cfg.MaxAge < 0 || cfg.Keep < 0 {
		errs = append(errs, &ConfigError{Field: "MaxSize", Reason: "MaxSize, MaxAge and Keep must not be negative"})
	}
	if cfg.Keep > 0 && cfg.MaxSize == 0 && cfg.MaxAge == 0 {
		errs = append(errs, &ConfigError{Field: "Keep", Reason: "set without MaxSize or MaxAge: nothing rotates"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &File{path: path, cfg: cfg, every: cfg.CheckpointEvery, stop: make(chan struct{}), done: make(chan struct{})}
	if l.every == 0 {
		l.every = DefaultCheckpointEvery
		if cfg.CheckpointInterval > 0 {
			l.every = math.MaxInt32 // by time only
		}
	}
	if cfg.Checkpoints != "" {
		prev, err := tailLink(cfg.Checkpoints)
		if err != nil {
			return nil, err
		}
		l.cpf, err = openAppend(cfg.Checkpoints)
		if err != nil {
			return nil, err
		}
		l.cp, err = NewChain(l.cpf, ChainConfig{Key: cfg.Key, KeyID: cfg.KeyID, Prev: prev, Now: cfg.Now})
		if err != nil {
			_ = l.cpf.Close()
			return nil, err
		}
	}
	prev, err := tailLink(path)
	if err == nil {
		err = l.openLocked(prev)
	}
	if err != nil {
		if l.cp != nil {
			_ = l.cp.Close()
			_ = l.cpf.Close()
		}
		return nil, err
	}
	l.lastCP = cfg.Now()
	go l.background()
	return l, nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 G703 -- the operator names the log files
}

// segment counts what the chain writes to the current file.
type segment struct{ l *File }

func (s segment) Write(p []byte) (int, error) {
	n, err := s.l.f.Write(p)
	s.l.size += int64(n)
	s.l.dirty = true
	return n, err
}

// openLocked opens the path and starts a chain there linked to prev.
func (l *File) openLocked(prev *Link) error {
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	l.f, l.size = f, st.Size()
	if l.size > 0 && !endsWithNewline(l.path, l.size) {
		// A record torn by a crash: end its line, so that the new chain
		// starts on a line of its own (verify reports the torn record as
		// part of the unclean end when the new chain links past it).
		if _, err := f.Write([]byte("\n")); err != nil {
			_ = f.Close()
			return err
		}
		l.size++
	}
	l.born = l.cfg.Now()
	if t, ok := firstTime(l.path); ok {
		l.born = t
	}
	cc := ChainConfig{Key: l.cfg.Key, KeyID: l.cfg.KeyID, Prev: prev, Level: l.cfg.Level, Now: l.cfg.Now}
	if l.cp != nil {
		cc.CheckpointChain, cc.CheckpointEvery = l.cp, l.every
	}
	ch, err := NewChain(segment{l}, cc)
	if err != nil {
		_ = f.Close()
		return err
	}
	l.chain, l.pending = ch, nil
	return l.syncLocked()
}

// Enabled reports whether records at level are written.
func (l *File) Enabled(_ context.Context, level slog.Level) bool {
	min := slog.LevelInfo
	if l.cfg.Level != nil {
		min = l.cfg.Level.Level()
	}
	return level >= min
}

// Handle writes r to the current segment, flushes it with
// SyncEveryRecord, and rotates when the file reached MaxSize.
func (l *File) Handle(ctx context.Context, r slog.Record) error {
	return l.handle(ctx, r, nil)
}

func (l *File) handle(ctx context.Context, r slog.Record, derive func(slog.Handler) slog.Handler) error {
	return l.write(func(c *Chain) error {
		var h slog.Handler = c
		if derive != nil {
			h = derive(c.Handler())
		}
		return h.Handle(ctx, r)
	})
}

// HandleJSONLine writes a record already formatted as slog's JSONHandler
// formats it (see [JSONLineHandler]), with the bookkeeping of Handle.
func (l *File) HandleJSONLine(ctx context.Context, level slog.Level, line []byte) error {
	return l.write(func(c *Chain) error { return c.HandleJSONLine(ctx, level, line) })
}

// write runs put on the current segment's chain, then syncs and rotates
// as configured.
func (l *File) write(put func(*Chain) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.chain == nil {
		// A rotation or reopen could not open the file: try again.
		if err := l.openLocked(l.pending); err != nil {
			return err
		}
	}
	if err := put(l.chain); err != nil {
		return err
	}
	l.records++
	if l.cfg.SyncEveryRecord {
		if err := l.syncLocked(); err != nil {
			return err
		}
	}
	if l.cfg.MaxSize > 0 && l.size >= l.cfg.MaxSize {
		return l.rotateLocked()
	}
	return nil
}

// WithAttrs returns a handler writing to the same file with attrs added.
func (l *File) WithAttrs(as []slog.Attr) slog.Handler {
	return &fileHandler{l: l, derive: func(h slog.Handler) slog.Handler { return h.WithAttrs(as) }}
}

// WithGroup returns a handler writing to the same file within group name.
func (l *File) WithGroup(name string) slog.Handler {
	return &fileHandler{l: l, derive: func(h slog.Handler) slog.Handler { return h.WithGroup(name) }}
}

// fileHandler applies attributes and groups to whichever chain is current.
type fileHandler struct {
	l      *File
	derive func(slog.Handler) slog.Handler
}

func (h *fileHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.l.Enabled(ctx, level)
}
func (h *fileHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.l.handle(ctx, r, h.derive)
}
func (h *fileHandler) WithAttrs(as []slog.Attr) slog.Handler {
	d := h.derive
	return &fileHandler{l: h.l, derive: func(x slog.Handler) slog.Handler { return d(x).WithAttrs(as) }}
}
func (h *fileHandler) WithGroup(name string) slog.Handler {
	d := h.derive
	return &fileHandler{l: h.l, derive: func(x slog.Handler) slog.Handler { return d(x).WithGroup(name) }}
}

func (l *File) syncLocked() error {
	if !l.dirty {
		return nil
	}
	l.dirty = false
	err := l.f.Sync()
	if l.cpf != nil {
		err = errors.Join(err, l.cpf.Sync())
	}
	return err
}

// Sync flushes the log and the checkpoint file to stable storage now.
func (l *File) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.syncLocked()
}

// Checkpoint writes a checkpoint for the latest record now (unless it is
// already checkpointed) and flushes it.
func (l *File) Checkpoint() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpointLocked()
}

func (l *File) checkpointLocked() error {
	if l.closed || l.chain == nil {
		return ErrClosed
	}
	l.lastCP, l.records = l.cfg.Now(), 0
	if err := l.chain.Checkpoint(); err != nil {
		return err
	}
	l.dirty = true
	return l.syncLocked()
}

// endSegmentLocked closes the current chain with its end record and the
// file, and returns the link for the next segment.
func (l *File) endSegmentLocked() (*Link, error) {
	err := l.chain.Close()
	last := l.chain.Last()
	l.dirty = true
	err = errors.Join(err, l.syncLocked(), l.f.Close())
	l.chain, l.pending = nil, &last
	return &last, err
}

// Rotate ends the current file's chain, renames the file to
// path.<UTC time>, starts a linked chain in a new file at path and
// deletes rotated files beyond Keep.
func (l *File) Rotate() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.rotateLocked()
}

func (l *File) rotateLocked() error {
	prev, err := l.endSegmentLocked()
	name := l.path + "." + l.cfg.Now().UTC().Format(rotatedLayout)
	for i := 1; fileExists(name); i++ {
		name = fmt.Sprintf("%s.%s-%d", l.path, l.cfg.Now().UTC().Format(rotatedLayout), i)
	}
	if rerr := os.Rename(l.path, name); rerr != nil { // #nosec G703 -- the configured log path, renamed beside itself
		err = errors.Join(err, rerr) // go on in the same file, still linked
	}
	if oerr := l.openLocked(prev); oerr != nil {
		return errors.Join(err, oerr)
	}
	return errors.Join(err, l.pruneLocked())
}

// Reopen ends the chain in the file as it is now (after logrotate renamed
// it, the renamed file) and starts a linked chain in a file opened afresh
// at path: call it on SIGUSR1.
func (l *File) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	prev, err := l.endSegmentLocked()
	return errors.Join(err, l.openLocked(prev))
}

func fileExists(p string) bool {
	_, err := os.Lstat(p) // #nosec G703 -- beside the configured log path
	return err == nil
}

// Rotated returns the rotated files of the log at path, oldest first.
func Rotated(path string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	base := filepath.Base(path) + "."
	var out []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, base) {
			continue
		}
		stamp := strings.TrimPrefix(n, base)
		if i := strings.IndexByte(stamp, '-'); i >= 0 {
			stamp = stamp[:i]
		}
		if _, err := time.Parse(rotatedLayout, stamp); err == nil {
			out = append(out, filepath.Join(filepath.Dir(path), n))
		}
	}
	slices.Sort(out)
	return out, nil
}

func (l *File) pruneLocked() error {
	if l.cfg.Keep == 0 {
		return nil
	}
	old, err := Rotated(l.path)
	if err != nil {
		return err
	}
	for len(old) > l.cfg.Keep {
		err = errors.Join(err, os.Remove(old[0])) // #nosec G703 -- a rotated file of the configured log path
		old = old[1:]
	}
	return err
}

// background flushes, checkpoints by time and rotates by age.
func (l *File) background() {
	defer close(l.done)
	tick := l.cfg.SyncInterval
	if l.cfg.SyncEveryRecord {
		tick = time.Second
	}
	if i := l.cfg.CheckpointInterval; i > 0 && i < tick {
		tick = i
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.tick()
		}
	}
}

func (l *File) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.chain == nil {
		return
	}
	now := l.cfg.Now()
	if l.cp != nil && l.cfg.CheckpointInterval > 0 && l.records > 0 && now.Sub(l.lastCP) >= l.cfg.CheckpointInterval {
		_ = l.checkpointLocked()
	}
	if l.cfg.MaxAge > 0 && now.Sub(l.born) >= l.cfg.MaxAge {
		_ = l.rotateLocked()
	}
	_ = l.syncLocked()
}

// Close ends the chain with its end record and a final checkpoint, ends
// the checkpoint chain, flushes and closes both files and stops the
// background goroutine.
func (l *File) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	var err error
	if l.chain != nil {
		_, err = l.endSegmentLocked()
	}
	if l.cp != nil {
		err = errors.Join(err, l.cp.Close(), l.cpf.Sync(), l.cpf.Close())
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return err
}

// tailLink reads the last record of an existing chained file, for the
// next chain's [ChainConfig.Prev]; nil when the file is missing or empty
// or its last line is not a chained record.
func tailLink(path string) (*Link, error) {
	f, err := os.Open(path) // #nosec G304 G703 -- the operator names the log files
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	n := min(size, int64(maxLine)+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return nil, err
	}
	// The last complete line (a torn tail after a crash is skipped).
	buf = buf[:bytes.LastIndexByte(buf, '\n')+1]
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	line := buf[bytes.LastIndexByte(buf, '\n')+1:]
	c, ok := parseChainLine(line)
	if !ok {
		return nil, nil
	}
	return &Link{ID: c.id, Seq: c.seq, MAC: hex.EncodeToString(c.mac[:])}, nil
}

func endsWithNewline(path string, size int64) bool {
	f, err := os.Open(path) // #nosec G304 G703 -- the operator names the log files
	if err != nil {
		return true
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}

// firstTime is the time of the first record in the file.
func firstTime(path string) (time.Time, bool) {
	f, err := os.Open(path) // #nosec G304 G703 -- the operator names the log files
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	line, _ := bufio.NewReaderSize(f, 64<<10).ReadSlice('\n')
	var rec struct {
		Time time.Time `json:"time"`
	}
	if len(line) == 0 || json.Unmarshal(line, &rec) != nil || rec.Time.IsZero() {
		return time.Time{}, false
	}
	return rec.Time, true
}
