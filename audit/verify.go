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
	"strconv"
	"strings"
)

// maxLine bounds one record in [Verify].
const maxLine = 4 << 20

// VerifyConfig configures [Verify].
type VerifyConfig struct {
	// Keys maps key IDs (chain.kid) to keys. The key under "" is used for
	// any key ID not in the map. Required: at least one key.
	Keys map[string][]byte

	// Checkpoints, when set, is read as the checkpoint lines a [Chain]
	// wrote to its second sink: every checkpointed record must be in the
	// log with the same MAC.
	Checkpoints io.Reader

	// AllowOpen accepts a log whose last chain has no end record, as a log
	// still being written has. Without checkpoints, a truncated tail of
	// such a log cannot be told from one not yet written. Default false:
	// a missing end record is reported as truncation.
	AllowOpen bool
}

// VerifyResult summarizes an intact log.
type VerifyResult struct {
	Records int  // records verified
	Chains  int  // chains (start records) seen
	Open    bool // the last chain has no end record (with AllowOpen)
}

type chainPos struct {
	id  string
	seq uint64
}

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

// Verify reads a log written through a [Chain] and checks every record:
// sequence numbers consecutive from 1 in each chain, each MAC over the
// previous one, each chain closed by its end record (unless AllowOpen),
// and every checkpoint matched. It returns a [*TamperError] for the first
// record that fails, with its line number; other errors mean the log could
// not be read or no key fits.
func Verify(r io.Reader, cfg VerifyConfig) (VerifyResult, error) {
	var res VerifyResult
	if len(cfg.Keys) == 0 {
		return res, errors.New("audit: verify: no key")
	}
	cps := map[chainPos][sha256.Size]byte{}
	if cfg.Checkpoints != nil {
		sc := bufio.NewScanner(cfg.Checkpoints)
		sc.Buffer(make([]byte, 4096), 64<<10)
		for n := 1; sc.Scan(); n++ {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			c, ok := parseChainLine(line)
			if !ok {
				return res, fmt.Errorf("audit: verify: checkpoint line %d is not a checkpoint", n)
			}
			cps[chainPos{c.id, c.seq}] = c.mac
		}
		if err := sc.Err(); err != nil {
			return res, fmt.Errorf("audit: verify: reading checkpoints: %w", err)
		}
	}
	seen := 0
	var (
		open   bool
		id     string
		kid    string
		prev   [sha256.Size]byte
		expect uint64
		lineNo int
		blank  int // line number of a blank line not yet known to be trailing
	)
	tamper := func(line int, seq uint64, reason string) (VerifyResult, error) {
		return res, &TamperError{Line: line, Seq: seq, Reason: reason}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, complete, err := readLine(br)
		if err == io.EOF {
			break
		}
		lineNo++
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return tamper(lineNo, expect, "record too long")
			}
			return res, fmt.Errorf("audit: verify: %w", err)
		}
		if len(line) == 0 {
			if blank == 0 {
				blank = lineNo
			}
			continue
		}
		if blank != 0 {
			return tamper(blank, expect, "blank line inside the log")
		}
		c, ok := parseChainLine(line)
		if !ok {
			return tamper(lineNo, expect, "not a chained record")
		}
		if !complete {
			return tamper(lineNo, expect, "last record has no newline: truncated")
		}
		msg := recordMessage(c.signed)
		if c.seq == 1 {
			if open {
				return tamper(lineNo, expect, "chain restarted without an end record: records removed or writer crashed")
			}
			if msg != MsgChainStart {
				return tamper(lineNo, 1, "chain does not begin with a start record")
			}
			open, id, kid, prev, expect = true, c.id, c.kid, [sha256.Size]byte{}, 1
			res.Chains++
		}
		switch {
		case !open:
			return tamper(lineNo, c.seq, "record outside a chain: start record missing")
		case c.id != id:
			return tamper(lineNo, expect, "record from another chain")
		case c.seq != expect:
			return tamper(lineNo, expect, fmt.Sprintf("sequence gap: expected %d, found %d (records removed, inserted or reordered)", expect, c.seq))
		case c.kid != kid:
			return tamper(lineNo, expect, "key id changed inside a chain")
		}
		key, ok := cfg.Keys[c.kid]
		if !ok {
			if key, ok = cfg.Keys[""]; !ok {
				return res, fmt.Errorf("audit: verify: line %d: no key for key id %q", lineNo, c.kid)
			}
		}
		m := hmac.New(sha256.New, key)
		m.Write(prev[:])
		m.Write(c.signed)
		var sum [sha256.Size]byte
		m.Sum(sum[:0])
		if !hmac.Equal(sum[:], c.mac[:]) {
			return tamper(lineNo, c.seq, "MAC mismatch: record altered or wrong key")
		}
		if want, ok := cps[chainPos{id, c.seq}]; ok {
			if want != c.mac {
				return tamper(lineNo, c.seq, "record differs from its checkpoint")
			}
			delete(cps, chainPos{id, c.seq})
		}
		if c.seq > 1 && msg == MsgChainStart {
			return tamper(lineNo, c.seq, "start record inside a chain")
		}
		prev, expect = sum, c.seq+1
		seen++
		res.Records = seen
		if msg == MsgChainEnd {
			open = false
		}
	}
	end := lineNo + 1
	if blank != 0 {
		end = blank
	}
	if len(cps) > 0 {
		var first uint64
		for p := range cps {
			if first == 0 || p.seq < first {
				first = p.seq
			}
		}
		return tamper(end, first, "a checkpointed record is missing: log truncated or rewritten")
	}
	if seen == 0 {
		return tamper(1, 1, "empty log")
	}
	if open && !cfg.AllowOpen {
		return tamper(end, expect, "log ends without an end record: truncated (or still being written)")
	}
	res.Open = open
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
