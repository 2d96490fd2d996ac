package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/bulwark-go/bulwark/internal/gateway"
)

// killable is an upstream target that can die and come back on the same
// address, and says who it is in every answer.
type killable struct {
	name     string
	addr     string
	mu       sync.Mutex
	srv      *http.Server
	inflight atomic.Int64
}

func newKillable(name string) (*killable, error) {
	k := &killable{name: name}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k.addr = ln.Addr().String()
	k.serve(ln)
	return k, nil
}

func (k *killable) serve(ln net.Listener) {
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.inflight.Add(1)
		defer k.inflight.Add(-1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"target":%q}`, k.name)
	})}
	k.mu.Lock()
	k.srv = srv
	k.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// kill closes the listener and every connection at once, as a crashed
// process would, and returns how many requests were in flight.
func (k *killable) kill() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.inflight.Load()
	_ = k.srv.Close()
	return n
}

// revive listens on the same address again.
func (k *killable) revive() error {
	ln, err := net.Listen("tcp", k.addr)
	if err != nil {
		return err
	}
	k.serve(ln)
	return nil
}

// failoverPhase runs load through a service of three targets, kills one
// mid-run and brings it back, and reports what clients saw: 5xx beyond
// the requests in flight on the dead target, how soon it was ejected and
// traffic redistributed, and when it was back in the rotation. Then it
// compares the gateway's throughput to a bare reverse proxy to one target.
func failoverPhase(ctx context.Context, o options) error {
	targets := make([]*killable, 3)
	for i := range targets {
		k, err := newKillable(fmt.Sprintf("t%d", i+1))
		if err != nil {
			return err
		}
		targets[i] = k
		defer k.kill()
	}
	var (
		logMu   sync.Mutex
		ejected time.Time
		back    time.Time
	)
	logf := func(f string, a ...any) {
		msg := fmt.Sprintf(f, a...)
		logMu.Lock()
		defer logMu.Unlock()
		// Out of the rotation, by passive ejection or a failed health check.
		if (strings.Contains(msg, "ejected") || strings.Contains(msg, "out of the rotation")) && ejected.IsZero() {
			ejected = time.Now()
		}
		if strings.Contains(msg, "back in the rotation") && back.IsZero() {
			back = time.Now()
		}
	}
	cfg, err := gateway.Parse(fmt.Appendf(nil, `
listen: 127.0.0.1:0
services:
  api:
    targets: [http://%s, http://%s, http://%s]
    eject_after: 3
    eject_for: 10s
    health: {path: /healthz, interval: 250ms, timeout: 200ms}
ratelimit:
  policies: [{name: per-ip, key: ip, limit: 1000000000, period: 1s}]
  default: [per-ip]
routes:
  - {path: /v1/, service: api, auth: none, methods: [GET]}
`, targets[0].addr, targets[1].addr, targets[2].addr), ".")
	if err != nil {
		return err
	}
	g, err := gateway.Build(cfg, gateway.Options{AuditWriter: io.Discard, Logf: logf})
	if err != nil {
		return err
	}
	addrc := make(chan string, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = g.Run(runCtx, func(p, _ net.Addr) { addrc <- p.String() }) }()
	gw := <-addrc
	fmt.Fprintf(o.out, "\nfailover: a service of 3 targets, %d workers for %s; t3 killed after a third of it, revived after two thirds\n", o.workers, o.failTime)

	type sample struct {
		at     time.Time
		code   uint16
		target string
		err    string
	}
	var samples []sample
	a := vegeta.NewAttacker(vegeta.Workers(uint64(o.workers)), vegeta.MaxWorkers(uint64(o.workers)),
		vegeta.Connections(o.workers), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second))
	tr := staticTargets("http://"+gw+"/v1/items", http.Header{})
	start := time.Now()
	var killedAt, revivedAt time.Time
	var inflightAtKill int64
	chaos := make(chan struct{})
	go func() {
		defer close(chaos)
		time.Sleep(o.failTime / 3)
		// In flight on t3 as the gateway counts them (sent, not answered
		// in full), read just before it dies.
		sent := activeRequests(g, "http://"+targets[2].addr)
		killedAt, inflightAtKill = time.Now(), max(sent, targets[2].kill())
		time.Sleep(o.failTime / 3)
		if err := targets[2].revive(); err == nil {
			revivedAt = time.Now()
		}
	}()
	for res := range a.Attack(tr, vegeta.Rate{}, o.failTime, "failover") {
		s := sample{at: res.Timestamp.Add(res.Latency), code: res.Code, err: res.Error}
		if i := strings.Index(string(res.Body), `"target":"`); i >= 0 {
			s.target = string(res.Body[i+10 : i+12])
		}
		samples = append(samples, s)
	}
	<-chaos
	stop()
	if killedAt.IsZero() || revivedAt.IsZero() {
		return errors.New("failover: the target was not killed and revived during the run")
	}
	var fivexx, errs, total int
	var lastT3BeforeRevive time.Time
	firstT3After := time.Time{}
	for _, s := range samples {
		total++
		switch {
		case s.code == 0:
			errs++
		case s.code >= 500:
			fivexx++
		}
		if s.target == "t3" {
			if s.at.Before(revivedAt) && s.at.After(killedAt) {
				lastT3BeforeRevive = s.at
			}
			if s.at.After(revivedAt) && firstT3After.IsZero() {
				firstT3After = s.at
			}
		}
	}
	fmt.Fprintf(o.out, "  %d requests in %s (%.0f/s); t3 had %d in flight when it died\n", total, time.Since(start).Round(time.Millisecond), float64(total)/o.failTime.Seconds(), inflightAtKill)
	fmt.Fprintf(o.out, "  client-visible 5xx: %d, connection errors: %d (at most %d expected: those in flight on t3)\n", fivexx, errs, inflightAtKill)
	logMu.Lock()
	ej, bk := ejected, back
	logMu.Unlock()
	if !ej.IsZero() {
		fmt.Fprintf(o.out, "  t3 out of the rotation %s after it died\n", ej.Sub(killedAt).Round(time.Millisecond))
	}
	if !lastT3BeforeRevive.IsZero() {
		fmt.Fprintf(o.out, "  a t3 answer %s after it died (a response already on its way)\n", lastT3BeforeRevive.Sub(killedAt).Round(time.Millisecond))
	}
	if !firstT3After.IsZero() {
		fmt.Fprintf(o.out, "  t3 back in the rotation %s after it came back (health check: %v), serving again %s after\n",
			bk.Sub(revivedAt).Round(time.Millisecond), !bk.IsZero(), firstT3After.Sub(revivedAt).Round(time.Millisecond))
	} else {
		return errors.New("failover: the revived target was never used again")
	}
	if ej.IsZero() || ej.Sub(killedAt) > time.Second {
		return fmt.Errorf("failover: t3 was not ejected within 1 s of dying (ejected at %v)", ej.Sub(killedAt))
	}
	if int64(fivexx+errs) > inflightAtKill {
		return fmt.Errorf("failover: %d failed answers, more than the %d in flight on the dead target", fivexx+errs, inflightAtKill)
	}

	// Throughput beside a bare reverse proxy to one target.
	upURL := &url.URL{Scheme: "http", Host: targets[0].addr}
	bare := &httputil.ReverseProxy{
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() },
	}
	bareAddr, err := listen(ctx, bare)
	if err != nil {
		return err
	}
	if o.rounds == 0 {
		return nil
	}
	runCtx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	g2, err := gateway.Build(cfg, gateway.Options{AuditWriter: io.Discard, Logf: func(string, ...any) {}})
	if err != nil {
		return err
	}
	go func() { _ = g2.Run(runCtx2, func(p, _ net.Addr) { addrc <- p.String() }) }()
	gw2 := <-addrc
	return throughput(o, "service of 3 targets vs a bare reverse proxy to one", []target{
		{"bare", "http://" + bareAddr + "/v1/items"}, {"service", "http://" + gw2 + "/v1/items"},
	}, http.Header{}, "goal ≥ 0.8")
}

// reloadPhase reloads the gateway under load: valid configurations that
// send /v1/ to upstream A or B in turn, and broken ones between them. It
// checks that no request failed, no connection was reset, and that
// answers switched after each valid reload.
func reloadPhase(ctx context.Context, o options) error {
	var ups [2]string
	for i, name := range []string{"A", "B"} {
		addr, err := listen(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		if err != nil {
			return err
		}
		ups[i] = addr
	}
	dir, err := os.MkdirTemp("", "bulwark-reload-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	file := filepath.Join(dir, "bulwark.yaml")
	valid := func(i int) string {
		return fmt.Sprintf("listen: 127.0.0.1:0\nservices: {api: {targets: [http://%s]}}\nratelimit:\n  policies: [{name: per-ip, key: ip, limit: 1000000000, period: 1s}]\n  default: [per-ip]\nroutes: [{path: /v1/, service: api, auth: none}]\n", ups[i%2])
	}
	broken := []string{
		"routes: [{path: v1}]\n",
		"listen: 127.0.0.1:0\nservices: {api: {targets: [ftp://x]}}\nroutes: [{path: /v1/, service: api, auth: none}]\n",
		"listen: [unclosed\n",
		"listen: 127.0.0.1:0\nroutes: [{path: /v1/, service: missing, auth: none}]\n",
		"listen: 127.0.0.1:0\nbogus: 1\nroutes: [{path: /v1/, auth: none}]\n",
	}
	if err := os.WriteFile(file, []byte(valid(0)), 0o600); err != nil {
		return err
	}
	srv, err := gateway.NewServer(gateway.ServerOptions{
		Build:         gateway.Options{AuditWriter: io.Discard, Logf: func(string, ...any) {}},
		Load:          func() (*gateway.Config, error) { return gateway.LoadFile(file) },
		ShutdownDelay: new(time.Duration),
	})
	if err != nil {
		return err
	}
	addrc := make(chan string, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = srv.Run(runCtx, func(p, _ net.Addr) { addrc <- p.String() }) }()
	gw := <-addrc
	// The schedule: valid configurations in turn, a broken one after every
	// reloads/5 of them.
	type step struct {
		valid int // the configuration's number; -1: broken
		text  string
	}
	var schedule []step
	b := 0
	for v := 1; v <= o.reloads; v++ {
		schedule = append(schedule, step{v, valid(v)})
		if b < len(broken) && v%max(1, o.reloads/len(broken)) == 0 {
			schedule = append(schedule, step{-1, broken[b]})
			b++
		}
	}
	for ; b < len(broken); b++ {
		schedule = append(schedule, step{-1, broken[b]})
	}
	fmt.Fprintf(o.out, "\nreload under load: %d valid reloads (alternating two configurations) and %d broken ones in %s, %d workers\n",
		o.reloads, len(broken), o.reloadTime, o.workers)

	type switchAt struct {
		at   time.Time
		want string
	}
	var switches []switchAt
	var reloadErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := o.reloadTime / time.Duration(len(schedule)+1)
		for _, st := range schedule {
			time.Sleep(every)
			if err := os.WriteFile(file, []byte(st.text), 0o600); err != nil {
				reloadErr = err
				return
			}
			err := srv.Reload()
			switch {
			case st.valid < 0 && err == nil:
				reloadErr = fmt.Errorf("a broken configuration was accepted: %q", st.text)
				return
			case st.valid < 0:
				continue
			case err != nil:
				reloadErr = err
				return
			}
			switches = append(switches, switchAt{time.Now(), []string{"A", "B"}[st.valid%2]})
		}
	}()
	a := vegeta.NewAttacker(vegeta.Workers(uint64(o.workers)), vegeta.MaxWorkers(uint64(o.workers)),
		vegeta.Connections(o.workers), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second))
	type answer struct {
		start, end time.Time
		body       string
	}
	var answers []answer
	failed, resets := 0, 0
	for res := range a.Attack(staticTargets("http://"+gw+"/v1/items", http.Header{}), vegeta.Rate{}, o.reloadTime, "reload") {
		if res.Code != http.StatusOK {
			failed++
			if res.Code == 0 {
				resets++
			}
			continue
		}
		answers = append(answers, answer{res.Timestamp, res.Timestamp.Add(res.Latency), string(res.Body)})
	}
	<-done
	stop()
	if reloadErr != nil {
		return reloadErr
	}
	// Every request that started after a valid reload, and before the
	// next, got that configuration's answer.
	stale := 0
	for _, an := range answers {
		for i, sw := range switches {
			next := time.Time{}
			if i+1 < len(switches) {
				next = switches[i+1].at
			}
			if an.start.After(sw.at) && (next.IsZero() || an.end.Before(next)) && an.body != sw.want {
				stale++
			}
		}
	}
	fmt.Fprintf(o.out, "  %d requests (%.0f/s), %d failed, %d connection errors, %d answered by the configuration before a reload they started after\n",
		len(answers)+failed, float64(len(answers)+failed)/o.reloadTime.Seconds(), failed, resets, stale)
	if failed > 0 || stale > 0 || len(switches) != o.reloads {
		return fmt.Errorf("reload under load: %d failed, %d stale, %d of %d reloads done", failed, stale, len(switches), o.reloads)
	}
	return nil
}

// activeRequests reads the gateway's bulwark_upstream_active_requests for
// one target.
func activeRequests(g *gateway.Gateway, target string) int64 {
	rec := httptest.NewRecorder()
	g.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	prefix := `bulwark_upstream_active_requests{service="api",target="` + target + `"} `
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int64(n)
		}
	}
	return 0
}
