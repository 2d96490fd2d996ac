package audit_test

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
)

// crashedLog writes a chain that is never closed (its writer was killed),
// then a second chain, linked to the first one's last record when link,
// and closed.
func crashedLog(t *testing.T, link bool) []byte {
	t.Helper()
	var b bytes.Buffer
	first, err := audit.NewChain(&b, audit.ChainConfig{Key: testKey, KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		slog.New(first).Info("before the crash")
	}
	cfg := audit.ChainConfig{Key: testKey, KeyID: "k1"}
	if link {
		last := first.Last()
		cfg.Prev = &last
	}
	second, err := audit.NewChain(&b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	slog.New(second).Info("after the restart")
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A writer killed without its end record (SIGKILL, OOM, power loss) is an
// unclean end, never tampering: a distinct finding that AllowOpen accepts.
func TestVerifyUncleanEnd(t *testing.T) {
	for _, link := range []bool{true, false} {
		log := crashedLog(t, link)
		res, err := verify(log, nil, true)
		if err != nil || len(res.Unclean) != 1 || res.Unclean[0].Linked != link || res.Unclean[0].Seq != 4 || res.Unclean[0].Line != 4 || res.Open {
			t.Errorf("link=%v: Verify(AllowOpen) = %+v, %v; want one unclean end at line 4 (seq 4), linked=%v", link, res, err, link)
		}
		_, err = verify(log, nil, false)
		var ue *audit.UncleanError
		if !errors.As(err, &ue) || !errors.Is(err, audit.ErrUnclean) || errors.Is(err, audit.ErrTampered) {
			t.Errorf("link=%v: Verify without AllowOpen = %v, want an *UncleanError, not ErrTampered", link, err)
		}
	}
}

// A tail cut off a closed log without checkpoints cannot be told from a
// crash: it is an unclean end, accepted only with AllowOpen.
func TestVerifyTruncatedTailIsUnclean(t *testing.T) {
	log, _ := chainedLog(t, 10, 4, true)
	cut := bytes.Join(lines(log)[:8], nil)
	if _, err := verify(cut, nil, false); !errors.Is(err, audit.ErrUnclean) {
		t.Errorf("Verify(truncated) = %v, want ErrUnclean", err)
	}
	res, err := verify(cut, nil, true)
	if err != nil || !res.Open || len(res.Unclean) != 1 || !res.Unclean[0].Last || res.Unclean[0].Line != 8 {
		t.Errorf("Verify(truncated, AllowOpen) = %+v, %v; want the open last chain at line 8", res, err)
	}
}

// Records removed between a crashed chain and the next one that links to
// it are tampering, not an unclean end.
func TestVerifyLinkCatchesRemovedTail(t *testing.T) {
	ls := lines(crashedLog(t, true))
	cut := bytes.Join(append(ls[:3:3], ls[4:]...), nil) // the crashed chain's last record
	_, err := verify(cut, nil, true)
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Line != 4 {
		t.Errorf("Verify after removing the crashed chain's last record = %v, want a *TamperError at line 4", err)
	}
}

func TestChainPrevChecked(t *testing.T) {
	_, err := audit.NewChain(&bytes.Buffer{}, audit.ChainConfig{Key: testKey, Prev: &audit.Link{ID: "x", Seq: 1, MAC: "zz"}})
	var ce *audit.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Prev" {
		t.Errorf("NewChain with a malformed Prev = %v, want a *ConfigError for Prev", err)
	}
}
