package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// maxLine bounds one record in [Verify].
const maxLine = 4 << 20

// chainRecord is the parsed tail of one line.
type chainRecord struct {
	id, kid string
	seq     uint64
	signed  []byte // the bytes the MAC covers
	mac     [sha256.Size]byte
}

// parseChainLine splits a chained record into its fields, checking that
// the chain fields are exactly the suffix [Chain] writes.
func parseChainLine(line []byte) (chainRecord, bool) {
	var r chainRecord
	const macKey = `,"chain.mac":"`
	if len(line) < len(macKey)+64+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return r, false
	}
	i := len(line) - 2 - 64 - len(macKey)
	if string(line[i:i+len(macKey)]) != macKey {
		return r, false
	}
	// Lower-case only, as written: any change to a line's bytes, even to
	// the case of a MAC digit, is a change.
	if mh := line[i+len(macKey) : len(line)-2]; !lowerHex(string(mh)) {
		return r, false
	}
	if _, err := hex.Decode(r.mac[:], line[i+len(macKey):len(line)-2]); err != nil {
		return r, false
	}
	r.signed = line[:i]
	pre := string(r.signed)
	s := strings.LastIndex(pre, `,"chain.seq":`)
	if s < 0 {
		return r, false
	}
	digits := pre[s+len(`,"chain.seq":`):]
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq == 0 || digits[0] == '0' {
		return r, false
	}
	r.seq = seq
	k := strings.LastIndex(pre[:s], `","chain.kid":"`)
	if k < 0 || k+len(`","chain.kid":"`) > s-1 || pre[s-1] != '"' {
		return r, false
	}
	r.kid = pre[k+len(`","chain.kid":"`) : s-1]
	d := strings.LastIndex(pre[:k], `,"chain.id":"`)
	if d < 0 || d+len(`,"chain.id":"`) > k {
		return r, false
	}
	r.id = pre[d+len(`,"chain.id":"`) : k]
	if !ValidRequestID(r.id) || !ValidRequestID(r.kid) {
		return r, false
	}
	return r, true
}

// VerifyConfig configures [Verify].
type VerifyConfig struct {
	// Keys maps key IDs (chain.kid) to keys. The key under "" is used for
	// any key ID not in the map. Required: at least one key.
	Keys map[string][]byte

	// Checkpoints, when set, is read as the checkpoints a [Chain] wrote to
	// its second sink: either signed checkpoint records (a chain of their
	// own, see [ChainConfig.CheckpointChain], verified with the same Keys)
	// or the plain checkpoint lines of [ChainConfig.Checkpoints]. Every
	// checkpointed record must be in the log with the same MAC, from the
	// first checkpointed chain the log holds on: a chain segment removed
	// from the middle or the end of the log, or a truncated tail, is
	// reported. Checkpoints of chains older than the log's first one are
	// skipped (rotation deletes old files).
	Checkpoints io.Reader

	// AllowOpen accepts unclean ends: a chain followed by the next chain's
	// start without an end record (the writer was killed or crashed), and
	// a last chain without an end record (a log still being written).
	// They are reported in [VerifyResult.Unclean] and [VerifyResult.Open]
	// either way. Default false: Verify returns an [*UncleanError] for
	// them. Without checkpoints, a truncated tail cannot be told from a
	// crash or a log not yet written.
	AllowOpen bool
}

// Link is the last record of a chain, as the next chain's start record
// names it (chain.prev.id, chain.prev.seq, chain.prev.mac): so that a
// removed segment, a reordered file or a truncated tail before a restart
// shows.
type Link struct {
	ID  string // chain.id
	Seq uint64 // chain.seq of the chain's last record
	MAC string // chain.mac of that record, lower-case hex
}

// UncleanEnd is a chain that stopped without its end record.
type UncleanEnd struct {
	File   string // the file, with [VerifyFiles]
	Line   int    // the line of the chain's last record
	Chain  string // chain.id
	Seq    uint64 // chain.seq of its last record
	Linked bool   // the next chain's start record links to that record (nothing is missing between them)
	Last   bool   // the log's last chain: no next chain (still being written, or stopped since)
	Torn   bool   // a partly written record follows the last one (the crash cut a write short)
}

func (u UncleanEnd) String() string {
	switch {
	case u.Last:
		return fmt.Sprintf("chain %s ends at seq %d without an end record (still being written, or the writer stopped uncleanly)", u.Chain, u.Seq)
	case u.Linked && u.Torn:
		return fmt.Sprintf("chain %s stopped at seq %d without an end record, its next record torn (writer killed or crashed mid-write); the next chain links to its last whole record", u.Chain, u.Seq)
	case u.Linked:
		return fmt.Sprintf("chain %s stopped at seq %d without an end record (writer killed or crashed); the next chain links to its last record", u.Chain, u.Seq)
	}
	return fmt.Sprintf("chain %s stopped at seq %d without an end record, and the next chain does not link to it: records after it may be missing", u.Chain, u.Seq)
}

// VerifyResult summarizes an intact log.
type VerifyResult struct {
	Records int  // records verified
	Chains  int  // chains (start records) seen
	Open    bool // the last chain has no end record

	// Unclean lists the chains that stopped without their end record, the
	// open last chain included, in log order.
	Unclean []UncleanEnd

	// Earlier, when set, is the record the log's first chain links to: the
	// end of an earlier segment not given to Verify (an older file).
	Earlier *Link

	// Checkpoints counts the checkpoints matched in the log.
	Checkpoints int
}

// UncleanError is returned by [Verify] without [VerifyConfig.AllowOpen]
// when the log is intact but a chain ends uncleanly. It matches
// [ErrUnclean], not [ErrTampered].
type UncleanError struct {
	Ends []UncleanEnd
}

func (e *UncleanError) Error() string {
	if len(e.Ends) == 0 {
		return "audit: unclean end"
	}
	return fmt.Sprintf("audit: unclean end: %s", e.Ends[0])
}

// Unwrap returns [ErrUnclean].
func (e *UncleanError) Unwrap() error { return ErrUnclean }

type chainPos struct {
	id  string
	seq uint64
}

type checkpoint struct {
	pos  chainPos
	mac  [sha256.Size]byte
	seen bool
}

// startFields are the members of a start record Verify reads.
type startFields struct {
	Msg     string `json:"msg"`
	PrevID  string `json:"chain.prev.id"`
	PrevSeq uint64 `json:"chain.prev.seq"`
	PrevMAC string `json:"chain.prev.mac"`
}

// verifier walks the records of one or more sources as one log.
type verifier struct {
	cfg    VerifyConfig
	res    VerifyResult
	cps    []checkpoint
	cpAt   map[chainPos]int
	chains map[string]bool // chain ids seen in the log
	// onRecord, when set, sees every verified record (checkpoint records).
	onRecord func(msg string, signed []byte) error

	open      bool
	id, kid   string
	prev      [sha256.Size]byte
	expect    uint64
	last      Link // the latest record of the log
	lastFile  string
	lastLine  int
	file      string
	lineNo    int
	blank     int
	blankFile string
	torn      int // line of a line that is not a chained record, pending
	tornFile  string
}

func newVerifier(cfg VerifyConfig) (*verifier, error) {
	v := &verifier{cfg: cfg, cpAt: map[chainPos]int{}, chains: map[string]bool{}}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("audit: verify: no key")
	}
	if cfg.Checkpoints != nil {
		if err := v.readCheckpoints(cfg.Checkpoints); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *verifier) addCheckpoint(c chainRecord) {
	p := chainPos{c.id, c.seq}
	if _, dup := v.cpAt[p]; dup {
		return
	}
	v.cpAt[p] = len(v.cps)
	v.cps = append(v.cps, checkpoint{pos: p, mac: c.mac})
}

// readCheckpoints reads signed checkpoint records (a chain) or plain
// checkpoint lines.
func (v *verifier) readCheckpoints(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return fmt.Errorf("audit: verify: reading checkpoints: %w", err)
	}
	first, _, _ := bytes.Cut(bytes.TrimLeft(data, " \t\r\n"), []byte("\n"))
	if c, ok := parseChainLine(bytes.TrimSpace(first)); ok && c.seq == 1 && recordMessage(c.signed) == MsgChainStart {
		sub := &verifier{cfg: VerifyConfig{Keys: v.cfg.Keys, AllowOpen: true}, cpAt: map[chainPos]int{}, chains: map[string]bool{}, file: "checkpoints"}
		sub.onRecord = func(msg string, signed []byte) error {
			if msg != MsgCheckpoint {
				return nil
			}
			var f struct {
				ID  string `json:"checkpoint.chain.id"`
				Seq uint64 `json:"checkpoint.chain.seq"`
				MAC string `json:"checkpoint.chain.mac"`
			}
			var c chainRecord
			if json.Unmarshal(append(bytes.Clone(signed), '}'), &f) != nil || !ValidRequestID(f.ID) || f.Seq == 0 ||
				!lowerHex(f.MAC) || len(f.MAC) != 2*sha256.Size {
				return errors.New("not a checkpoint record")
			}
			_, _ = hex.Decode(c.mac[:], []byte(f.MAC))
			c.id, c.seq = f.ID, f.Seq
			v.addCheckpoint(c)
			return nil
		}
		if err := sub.source("checkpoints", bytes.NewReader(data)); err != nil {
			return checkpointErr(err)
		}
		if _, err := sub.finish(); err != nil {
			return checkpointErr(err)
		}
		return nil
	}
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		c, ok := parseChainLine(line)
		if !ok {
			return fmt.Errorf("audit: verify: checkpoint line %d is not a checkpoint", n+1)
		}
		v.addCheckpoint(c)
	}
	return nil
}

// checkpointErr places an error of the checkpoint chain in the checkpoint
// file.
func checkpointErr(err error) error {
	var te *TamperError
	if errors.As(err, &te) {
		te.File = "checkpoints"
		te.Reason = "checkpoint file: " + te.Reason
		return te
	}
	return fmt.Errorf("audit: verify: checkpoints: %w", err)
}

// Verify reads a log written through a [Chain] and checks every record:
// sequence numbers consecutive from 1 in each chain, each MAC over the
// previous one, each chain's start record linked to the previous chain's
// last record when it names one, each chain closed by its end record
// (unclean ends are reported, and accepted with AllowOpen), and every
// checkpoint matched. It returns a [*TamperError] for the first record that
// fails, with its line number; an [*UncleanError] for an intact log with
// an unclean end (without AllowOpen); other errors mean the log could not
// be read or no key fits.
func Verify(r io.Reader, cfg VerifyConfig) (VerifyResult, error) {
	v, err := newVerifier(cfg)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := v.source("", r); err != nil {
		return v.res, err
	}
	return v.finish()
}

// VerifyFiles is [Verify] over several files read in the given order as
// one log: rotated files, oldest first, then the current one. A
// [*TamperError] or [UncleanEnd] names its file.
func VerifyFiles(names []string, cfg VerifyConfig) (VerifyResult, error) {
	v, err := newVerifier(cfg)
	if err != nil {
		return VerifyResult{}, err
	}
	for _, name := range names {
		f, err := os.Open(name) // #nosec G304 -- the caller names the log files
		if err != nil {
			return v.res, fmt.Errorf("audit: verify: %w", err)
		}
		err = v.source(name, f)
		_ = f.Close()
		if err != nil {
			return v.res, err
		}
	}
	return v.finish()
}

func (v *verifier) tamper(line int, seq uint64, reason string) error {
	return &TamperError{File: v.file, Line: line, Seq: seq, Reason: reason}
}

// source verifies the records of one file, continuing the state of the
// ones before it.
func (v *verifier) source(name string, r io.Reader) error {
	v.file, v.lineNo = name, 0
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, complete, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		v.lineNo++
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return v.tamper(v.lineNo, v.expect, "record too long")
			}
			return fmt.Errorf("audit: verify: %w", err)
		}
		if len(line) == 0 {
			if v.blank == 0 {
				v.blank, v.blankFile = v.lineNo, name
			}
			continue
		}
		if v.blank != 0 {
			return &TamperError{File: v.blankFile, Line: v.blank, Seq: v.expect, Reason: "blank line inside the log"}
		}
		c, ok := parseChainLine(line)
		if !ok {
			if v.open && v.torn == 0 && complete {
				// Perhaps a record torn by a crash: acceptable only
				// right before a chain that links past it.
				v.torn, v.tornFile = v.lineNo, name
				continue
			}
			return v.tamper(v.lineNo, v.expect, "not a chained record")
		}
		if !complete {
			return v.tamper(v.lineNo, v.expect, "last record has no newline: truncated")
		}
		if err := v.record(c); err != nil {
			return err
		}
	}
}

func (v *verifier) record(c chainRecord) error {
	lineNo := v.lineNo
	msg := recordMessage(c.signed)
	if v.torn != 0 && (c.seq != 1 || msg != MsgChainStart) {
		return &TamperError{File: v.tornFile, Line: v.torn, Seq: v.expect, Reason: "not a chained record"}
	}
	prev := v.prev
	if c.seq == 1 {
		if msg != MsgChainStart {
			return v.tamper(lineNo, 1, "chain does not begin with a start record")
		}
		prev = [sha256.Size]byte{}
	} else {
		switch {
		case !v.open:
			return v.tamper(lineNo, c.seq, "record outside a chain: start record missing")
		case c.id != v.id:
			return v.tamper(lineNo, v.expect, "record from another chain")
		case c.seq != v.expect:
			return v.tamper(lineNo, v.expect, fmt.Sprintf("sequence gap: expected %d, found %d (records removed, inserted or reordered)", v.expect, c.seq))
		case c.kid != v.kid:
			return v.tamper(lineNo, v.expect, "key id changed inside a chain")
		}
	}
	key, ok := v.cfg.Keys[c.kid]
	if !ok {
		if key, ok = v.cfg.Keys[""]; !ok {
			return fmt.Errorf("audit: verify: line %d: no key for key id %q", lineNo, c.kid)
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write(prev[:])
	m.Write(c.signed)
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	if !hmac.Equal(sum[:], c.mac[:]) {
		return v.tamper(lineNo, c.seq, "MAC mismatch: record altered or wrong key")
	}
	// The start record is authentic: now its link to the chain before.
	if c.seq == 1 {
		if err := v.start(c); err != nil {
			return err
		}
	}
	if i, ok := v.cpAt[chainPos{v.id, c.seq}]; ok {
		if v.cps[i].mac != c.mac {
			return v.tamper(lineNo, c.seq, "record differs from its checkpoint")
		}
		v.cps[i].seen = true
		v.res.Checkpoints++
	}
	if c.seq > 1 && msg == MsgChainStart {
		return v.tamper(lineNo, c.seq, "start record inside a chain")
	}
	if v.onRecord != nil {
		if err := v.onRecord(msg, c.signed); err != nil {
			return v.tamper(lineNo, c.seq, err.Error())
		}
	}
	v.prev, v.expect = sum, c.seq+1
	v.last = Link{ID: c.id, Seq: c.seq, MAC: hex.EncodeToString(c.mac[:])}
	v.lastFile, v.lastLine = v.file, lineNo
	v.res.Records++
	if msg == MsgChainEnd {
		v.open = false
	}
	return nil
}

// start checks a start record's link to the chain before it.
func (v *verifier) start(c chainRecord) error {
	var f startFields
	if err := json.Unmarshal(append(bytes.Clone(c.signed), '}'), &f); err != nil {
		return v.tamper(v.lineNo, 1, "start record is not valid JSON")
	}
	linked := f.PrevID != ""
	if linked {
		prev := Link{ID: f.PrevID, Seq: f.PrevSeq, MAC: f.PrevMAC}
		switch {
		case v.res.Chains == 0:
			v.res.Earlier = &prev
		case prev.ID != v.last.ID:
			return v.tamper(v.lineNo, 1, fmt.Sprintf("chain start links to chain %s, but the chain before it is %s: a segment was removed or files are out of order", sanitize(prev.ID, 64), v.last.ID))
		case prev.Seq != v.last.Seq:
			return v.tamper(v.lineNo, 1, fmt.Sprintf("chain start links to seq %d of chain %s, but the log has it up to seq %d: records removed", prev.Seq, prev.ID, v.last.Seq))
		case prev.MAC != v.last.MAC:
			return v.tamper(v.lineNo, 1, "chain start links to a record the log does not hold: record replaced")
		}
	}
	if v.torn != 0 && !linked {
		return &TamperError{File: v.tornFile, Line: v.torn, Seq: v.expect, Reason: "not a chained record"}
	}
	if v.open {
		v.res.Unclean = append(v.res.Unclean, UncleanEnd{File: v.lastFile, Line: v.lastLine, Chain: v.id, Seq: v.last.Seq, Linked: linked, Torn: v.torn != 0})
	}
	v.torn = 0
	v.open, v.id, v.kid, v.prev, v.expect = true, c.id, c.kid, [sha256.Size]byte{}, 1
	v.chains[c.id] = true
	v.res.Chains++
	return nil
}

// finish checks what only the end of the log shows.
func (v *verifier) finish() (VerifyResult, error) {
	res := v.res
	endFile, end := v.file, v.lineNo+1
	if v.blank != 0 {
		endFile, end = v.blankFile, v.blank
	}
	if len(v.cps) > 0 {
		// Checkpoints of chains older than the log's first checkpointed
		// chain are of deleted files; from there on, every one must match.
		from := -1
		for i, cp := range v.cps {
			if v.chains[cp.pos.id] {
				from = i
				break
			}
		}
		if from < 0 {
			return res, &TamperError{File: endFile, Line: end, Reason: "no chain of the log is in the checkpoints: wrong checkpoint file, or the log was replaced"}
		}
		for _, cp := range v.cps[from:] {
			if !cp.seen {
				reason := "a checkpointed record is missing: log truncated or rewritten"
				if !v.chains[cp.pos.id] {
					reason = fmt.Sprintf("checkpointed chain %s is missing: a segment (file) was removed, or the log truncated", cp.pos.id)
				}
				return res, &TamperError{File: endFile, Line: end, Seq: cp.pos.seq, Reason: reason}
			}
		}
	}
	if v.torn != 0 {
		return res, &TamperError{File: v.tornFile, Line: v.torn, Seq: v.expect, Reason: "not a chained record"}
	}
	if res.Records == 0 {
		return res, &TamperError{File: v.file, Line: 1, Seq: 1, Reason: "empty log"}
	}
	if v.open {
		res.Open = true
		res.Unclean = append(res.Unclean, UncleanEnd{File: v.lastFile, Line: v.lastLine, Chain: v.id, Seq: v.last.Seq, Last: true})
	}
	if len(res.Unclean) > 0 && !v.cfg.AllowOpen {
		return res, &UncleanError{Ends: res.Unclean}
	}
	return res, nil
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its "\n", whether it had one, and
// refuses lines over maxLine.
func readLine(br *bufio.Reader) ([]byte, bool, error) {
	var long []byte
	for {
		part, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(part) > maxLine {
				return nil, false, errLineTooLong
			}
			long = append(long, part...)
			continue
		}
		if err == io.EOF && len(part) == 0 && long == nil {
			return nil, false, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		line := part
		if long != nil {
			line = append(long, part...)
		}
		complete := bytes.HasSuffix(line, []byte("\n"))
		return bytes.TrimSuffix(line, []byte("\n")), complete, nil
	}
}

// recordMessage returns the first top-level "msg" member of a record (the
// one slog's JSON handler writes before any attribute), "" when it has
// none.
func recordMessage(signed []byte) string {
	d := json.NewDecoder(io.MultiReader(bytes.NewReader(signed), strings.NewReader("}")))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return ""
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return ""
		}
		if k == "msg" {
			var m string
			if json.Unmarshal(v, &m) != nil {
				return ""
			}
			return m
		}
	}
	return ""
}

// ParseKey decodes a key written as hex (e.g. `openssl rand -hex 32`) or
// standard or URL-safe base64, padded or not, surrounding white space
// ignored. It returns [ErrBadKey] for anything else or a key shorter than
// [MinKeyLen] bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) >= MinKeyLen {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) >= MinKeyLen {
			return b, nil
		}
	}
	return nil, ErrBadKey
}
