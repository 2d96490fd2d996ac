package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/secevent"
)

// fixedNow makes the examples' output stable.
func fixedNow() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// One record per request, with what every other bulwark package reported
// through secevent and the principal the auth package identified.
func Example() {
	aud, err := audit.New(audit.Config{
		Handler: slog.NewJSONHandler(os.Stdout, nil),
		Now:     fixedNow,
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("DELETE /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		secevent.Identify(r.Context(), secevent.Identity{Subject: "svc-7", Method: "jwt"})
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthzFail, Reason: "scope missing"})
		w.WriteHeader(http.StatusForbidden)
	})
	r := httptest.NewRequest("DELETE", "/items/9?access_token=secret", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("X-Request-ID", "req-1")
	aud.Handler(mux).ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// {"time":"2026-03-01T12:00:00Z","level":"WARN","msg":"http.request","request_id":"req-1","http.request.method":"DELETE","url.path":"/items/9","url.query":"access_token=[REDACTED]","http.route":"DELETE /items/{id}","http.response.status_code":403,"http.response.body.size":0,"http.server.request.duration_ns":0,"client.address":"192.0.2.1","user.id":"svc-7","bulwark.authn.method":"jwt","events":[{"name":"authz_fail","reason":"scope missing"}]}
}

// Security events outside requests — a key rotated, a JWKS refresh failed —
// go to the same stream under the same names: install the auditor as the
// recorder of the background context.
func ExampleAuditor_Record() {
	aud, err := audit.New(audit.Config{Handler: slog.NewJSONHandler(os.Stdout, nil), Now: fixedNow})
	if err != nil {
		panic(err)
	}
	ctx := secevent.NewContext(context.Background(), aud)
	secevent.Emit(ctx, secevent.Event{Name: secevent.AuthnTokenRevoked, Reason: "API key revoked",
		Attrs: []slog.Attr{slog.String("key_id", "k-17"), slog.String("api_key", "bwk_live_123")}})
	// Output:
	// {"time":"2026-03-01T12:00:00Z","level":"WARN","msg":"security.event","event.name":"authn_token_revoked","event.reason":"API key revoked","event.attrs":{"key_id":"k-17","api_key":"[REDACTED]"}}
}

// slog's own hooks never see inside an http.Header logged as one value;
// the Redactor's handler walks it.
func ExampleRedactor_Handler() {
	red, err := audit.NewRedactor(audit.RedactConfig{})
	if err != nil {
		panic(err)
	}
	log := slog.New(red.Handler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	h := http.Header{"Authorization": {"Bearer eyJ..."}, "Accept": {"application/json"}}
	log.Info("upstream call", "headers", h, "err", errors.New("GET https://bob:pw@api.example/ failed"))
	// Output:
	// {"level":"INFO","msg":"upstream call","headers":{"Accept":"application/json","Authorization":"[REDACTED]"},"err":"GET https://[REDACTED]@api.example/ failed"}
}

// A tamper-evident log: the chain appends chain.* fields to every record,
// and Verify (or `bulwark audit verify -key-env K FILE`) finds the first
// altered, removed or reordered one.
func ExampleNewChain() {
	key := bytes.Repeat([]byte{0x42}, 32) // use 32 random bytes from a secret store
	var log, checkpoints bytes.Buffer
	chain, err := audit.NewChain(&log, audit.ChainConfig{Key: key, KeyID: "2026-03", Checkpoints: &checkpoints})
	if err != nil {
		panic(err)
	}
	aud, err := audit.New(audit.Config{Handler: chain})
	if err != nil {
		panic(err)
	}
	aud.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	_ = aud.Close()
	_ = chain.Close()

	res, err := audit.Verify(bytes.NewReader(log.Bytes()), audit.VerifyConfig{
		Keys:        map[string][]byte{"2026-03": key},
		Checkpoints: bytes.NewReader(checkpoints.Bytes()),
	})
	fmt.Println(res.Records, err)

	tampered := bytes.Replace(log.Bytes(), []byte(`"http.response.status_code":404`), []byte(`"http.response.status_code":200`), 1)
	_, err = audit.Verify(bytes.NewReader(tampered), audit.VerifyConfig{Keys: map[string][]byte{"2026-03": key}})
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// audit: log tampered at line 2 (seq 2): MAC mismatch: record altered or wrong key
}

// Asynchronous delivery needs an explicit overflow policy.
func ExampleNewAsync() {
	async, err := audit.NewAsync(slog.NewJSONHandler(os.Stderr, nil), audit.AsyncConfig{QueueSize: 4096, Overflow: audit.Drop})
	if err != nil {
		panic(err)
	}
	defer async.Close() // after the auditor; writes what is queued and the drop count
	_, err = audit.NewAsync(slog.NewJSONHandler(os.Stderr, nil), audit.AsyncConfig{})
	fmt.Println(err)
	// Output:
	// audit: Overflow: required: Block or Drop
}

// A chained audit file with signed checkpoints on other storage, rotated
// at 1 MiB; the rotated files and the current one verify as one chain.
func ExampleOpenFile() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	key := bytes.Repeat([]byte{0x42}, 32) // from a secret store, in real life
	path, cps := filepath.Join(dir, "audit.log"), filepath.Join(dir, "audit.checkpoints")
	f, err := audit.OpenFile(path, audit.FileConfig{Key: key, Checkpoints: cps, MaxSize: 1 << 20, Keep: 30})
	if err != nil {
		fmt.Println(err)
		return
	}
	aud, _ := audit.New(audit.Config{Handler: f})
	aud.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	_ = aud.Close()
	_ = f.Close() // the chain's end record and a last checkpoint

	rotated, _ := audit.Rotated(path)
	cp, _ := os.Open(cps)
	defer cp.Close()
	res, err := audit.VerifyFiles(append(rotated, path), audit.VerifyConfig{Keys: map[string][]byte{"": key}, Checkpoints: cp})
	fmt.Println(res.Records, res.Chains, len(res.Unclean), err)
	// Output: 3 1 0 <nil>
}
