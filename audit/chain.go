package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Chain record messages and the default checkpoint interval.
const (
	MsgChainStart = "audit.chain.start" // the first record of a chain (seq 1)
	MsgChainEnd   = "audit.chain.end"   // written by [Chain.Close]
	MsgCheckpoint = "audit.checkpoint"  // a signed checkpoint, in the checkpoint chain

	// DefaultCheckpointEvery is how many records pass between checkpoints.
	DefaultCheckpointEvery = 1000
)

// ChainConfig configures a [Chain].
type ChainConfig struct {
	// Key is the HMAC-SHA256 key, at least [MinKeyLen] random bytes.
	// Required. Whoever holds it can forge a chain, so keep it off the
	// machine that stores the log where possible, and rotate it by closing
	// the chain and starting a new one with a new Key and KeyID.
	Key []byte

	// KeyID names the key in every record ("chain.kid"), so that [Verify]
	// picks the right one after a rotation. Up to 32 characters from
	// [A-Za-z0-9._-]. Default "0".
	KeyID string

	// Checkpoints, when set, receives a checkpoint line — chain id, key
	// id, sequence number and MAC of the latest record — every
	// CheckpointEvery records and at Close. Point it at a second sink the
	// log's host cannot rewrite (another machine, append-only storage):
	// [Verify] then catches a truncated tail and a log rewritten from an
	// earlier record on. Default: none.
	Checkpoints io.Writer

	// CheckpointChain, when set, receives the checkpoints as records of
	// its own chain instead ("audit.checkpoint", with
	// checkpoint.chain.id, .kid, .seq and .mac): signed, so that removing
	// or altering a checkpoint shows too, and linked across restarts like
	// any chain. Several log chains (one per rotated file) can share one.
	// Excludes Checkpoints. Default: none.
	CheckpointChain *Chain

	// Prev, when set, is the last record of the chain this one continues
	// (the previous file before a rotation, or the chain a crashed writer
	// left open): the start record names it, so that [Verify] reports a
	// segment removed or reordered between the two, and tells a crash
	// (an unclean end) from tampering. Default: none (a first chain).
	Prev *Link

	// CheckpointEvery is the checkpoint interval in records. Default
	// [DefaultCheckpointEvery]. Must be zero when Checkpoints is nil.
	CheckpointEvery int

	// Level is the minimum level written. Default slog.LevelInfo.
	Level slog.Leveler

	// Now returns the time of the chain's own records. Default time.Now.
	Now func() time.Time
}

// Chain is an slog handler that writes JSON records to a writer, each
// ending in chain.id, chain.kid, chain.seq and chain.mac: HMAC-SHA256 over
// the previous record's MAC and the record's bytes up to the MAC, sequence
// number included. Altering, removing, inserting or reordering records
// breaks the chain, which [Verify] (and `bulwark audit verify`) detect. It
// is safe for concurrent use; records are written one at a time, in
// sequence order.
type Chain struct {
	mu     sync.Mutex
	w      io.Writer
	mac    hash.Hash
	prev   [sha256.Size]byte
	seq    uint64
	id     string
	kid    string
	buf    []byte
	out    []byte
	root   slog.Handler
	cp     io.Writer
	every  uint64
	now    func() time.Time
	closed bool

	cpChain *Chain
	cpSeq   uint64 // seq of the latest checkpoint
}

func (c *Chain) hasCP() bool { return c.cp != nil || c.cpChain != nil }

// NewChain checks cfg, writes the chain's start record to w and returns
// the [Chain]. Every problem found is returned, joined; each is a
// [*ConfigError].
func NewChain(w io.Writer, cfg ChainConfig) (*Chain, error) {
	var errs []error
	if w == nil {
		errs = append(errs, &ConfigError{Field: "w", Reason: "required"})
	}
	if len(cfg.Key) < MinKeyLen {
		errs = append(errs, &ConfigError{Field: "Key", Reason: "required, at least 32 bytes"})
	}
	kid := cfg.KeyID
	if kid == "" {
		kid = "0"
	} else if len(kid) > 32 || !ValidRequestID(kid) {
		errs = append(errs, &ConfigError{Field: "KeyID", Value: sanitize(kid, 64), Reason: "must be 1 to 32 characters from [A-Za-z0-9._-]"})
	}
	every := cfg.CheckpointEvery
	switch {
	case cfg.Checkpoints != nil && cfg.CheckpointChain != nil:
		errs = append(errs, &ConfigError{Field: "CheckpointChain", Reason: "set together with Checkpoints: choose one"})
	case cfg.Checkpoints == nil && cfg.CheckpointChain == nil && every != 0:
		errs = append(errs, &ConfigError{Field: "CheckpointEvery", Reason: "set without Checkpoints"})
	case every == 0:
		every = DefaultCheckpointEvery
	case every < 0:
		errs = append(errs, &ConfigError{Field: "CheckpointEvery", Reason: "must be positive"})
	}
	if p := cfg.Prev; p != nil && (!ValidRequestID(p.ID) || p.Seq == 0 || len(p.MAC) != 2*sha256.Size || !lowerHex(p.MAC)) {
		errs = append(errs, &ConfigError{Field: "Prev", Reason: "must name a chain record: its chain id, seq and lower-case hex MAC"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Chain{cpChain: cfg.CheckpointChain, w: w, mac: hmac.New(sha256.New, cfg.Key), kid: kid, id: NewRequestID()[:16],
		cp: cfg.Checkpoints, now: cfg.Now}
	c.every = uint64(every) // #nosec G115 -- every was checked positive above
	if c.now == nil {
		c.now = time.Now
	}
	c.root = slog.NewJSONHandler(capture{c}, &slog.HandlerOptions{Level: cfg.Level})
	rec := slog.NewRecord(c.now().UTC(), slog.LevelInfo, MsgChainStart, 0)
	if p := cfg.Prev; p != nil {
		rec.AddAttrs(slog.String("chain.prev.id", p.ID), slog.Uint64("chain.prev.seq", p.Seq), slog.String("chain.prev.mac", p.MAC))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeLocked(context.Background(), c.root, rec, true); err != nil {
		return nil, err
	}
	// Every chain is in the checkpoints from its first record, so that
	// removing a whole segment shows even when it was shorter than the
	// checkpoint interval.
	if c.hasCP() && c.cpSeq != c.seq {
		if err := c.checkpointLocked(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// capture is the writer of the chain's JSON handler: it collects the
// formatted record in the chain's buffer (the chain's lock is held).
type capture struct{ c *Chain }

func (w capture) Write(p []byte) (int, error) {
	w.c.buf = append(w.c.buf, p...)
	return len(p), nil
}

// Handler returns the chain as an slog.Handler.
func (c *Chain) Handler() slog.Handler { return &chainHandler{c: c, h: c.root} }

// Enabled, Handle, WithAttrs and WithGroup make the Chain itself an
// slog.Handler.
func (c *Chain) Enabled(ctx context.Context, l slog.Level) bool { return c.root.Enabled(ctx, l) }

// Handle formats r as JSON, chains it and writes it as one line.
func (c *Chain) Handle(ctx context.Context, r slog.Record) error {
	return c.write(ctx, c.root, r, false)
}

// WithAttrs returns a handler writing to the same chain with attrs added.
func (c *Chain) WithAttrs(as []slog.Attr) slog.Handler { return c.Handler().WithAttrs(as) }

// WithGroup returns a handler writing to the same chain within group name.
func (c *Chain) WithGroup(name string) slog.Handler { return c.Handler().WithGroup(name) }

type chainHandler struct {
	c *Chain
	h slog.Handler
}

func (h *chainHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }
func (h *chainHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.c.write(ctx, h.h, r, false)
}
func (h *chainHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &chainHandler{c: h.c, h: h.h.WithAttrs(as)}
}
func (h *chainHandler) WithGroup(name string) slog.Handler {
	return &chainHandler{c: h.c, h: h.h.WithGroup(name)}
}

var (
	_ slog.Handler = (*Chain)(nil)
	_ slog.Handler = (*chainHandler)(nil)
)

func (c *Chain) write(ctx context.Context, h slog.Handler, r slog.Record, start bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return c.writeLocked(ctx, h, r, start)
}

func (c *Chain) writeLocked(ctx context.Context, h slog.Handler, r slog.Record, start bool) error {
	if !start && (r.Message == MsgChainStart || r.Message == MsgChainEnd) {
		r.Message += ".forged" // only the chain itself writes these
	}
	c.buf = c.buf[:0]
	if err := h.Handle(ctx, r); err != nil {
		return err
	}
	return c.chainLocked()
}

// HandleJSONLine chains a record already formatted as slog's JSONHandler
// formats it (see [JSONLineHandler]): the MAC input is the same as if the
// record had gone through Handle.
func (c *Chain) HandleJSONLine(_ context.Context, _ slog.Level, line []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.buf = append(c.buf[:0], line...)
	return c.chainLocked()
}

// chainLocked chains and writes the record formatted in c.buf.
func (c *Chain) chainLocked() error {
	line := c.buf
	for len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if len(line) < 2 || line[len(line)-1] != '}' {
		return errors.New("audit: chain: handler did not produce a JSON object")
	}
	c.seq++
	out := append(c.out[:0], line[:len(line)-1]...)
	out = appendChainFields(out, c.id, c.kid, c.seq)
	c.mac.Reset()
	c.mac.Write(c.prev[:])
	c.mac.Write(out)
	c.mac.Sum(c.prev[:0])
	out = append(out, `,"chain.mac":"`...)
	out = hex.AppendEncode(out, c.prev[:])
	out = append(out, "\"}\n"...)
	c.out = out
	_, err := c.w.Write(out)
	if err == nil && c.hasCP() && c.seq%c.every == 0 {
		err = c.checkpointLocked()
	}
	return err
}

// appendChainFields appends the authenticated chain fields that precede
// the MAC.
func appendChainFields(b []byte, id, kid string, seq uint64) []byte {
	b = append(b, `,"chain.id":"`...)
	b = append(b, id...)
	b = append(b, `","chain.kid":"`...)
	b = append(b, kid...)
	b = append(b, `","chain.seq":`...)
	return strconv.AppendUint(b, seq, 10)
}

func (c *Chain) checkpointLocked() error {
	c.cpSeq = c.seq
	if c.cpChain != nil {
		rec := slog.NewRecord(c.now().UTC(), slog.LevelInfo, MsgCheckpoint, 0)
		rec.AddAttrs(slog.String("checkpoint.chain.id", c.id), slog.String("checkpoint.chain.kid", c.kid),
			slog.Uint64("checkpoint.chain.seq", c.seq), slog.String("checkpoint.chain.mac", hex.EncodeToString(c.prev[:])))
		return c.cpChain.write(context.Background(), c.cpChain.root, rec, false)
	}
	b := append([]byte(nil), `{"time":"`...)
	b = c.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendChainFields(b, c.id, c.kid, c.seq)
	b = append(b, `,"chain.mac":"`...)
	b = hex.AppendEncode(b, c.prev[:])
	b = append(b, "\"}\n"...)
	_, err := c.cp.Write(b)
	return err
}

// Checkpoint writes a checkpoint for the latest record now, unless it is
// already checkpointed.
func (c *Chain) Checkpoint() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if !c.hasCP() || c.cpSeq == c.seq {
		return nil
	}
	return c.checkpointLocked()
}

// Last returns the chain's latest record as a [Link], for the
// [ChainConfig.Prev] of the chain that continues it.
func (c *Chain) Last() Link {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Link{ID: c.id, Seq: c.seq, MAC: hex.EncodeToString(c.prev[:])}
}

// ID returns the chain's id (chain.id).
func (c *Chain) ID() string { return c.id }

// Close writes the chain's end record and a final checkpoint; later
// records are refused with [ErrClosed]. It does not close the writers.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	err := c.writeLocked(context.Background(), c.root, slog.NewRecord(c.now().UTC(), slog.LevelInfo, MsgChainEnd, 0), true)
	if err == nil && c.hasCP() && c.cpSeq != c.seq {
		err = c.checkpointLocked()
	}
	c.closed = true
	return err
}
