// Command load drives `bulwark serve` (the gateway of internal/gateway,
// built in-process from a YAML configuration with every protection on)
// and a bare net/http/httputil.ReverseProxy to the same loopback upstream
// with the vegeta load generator, and reports the throughput ratio and the
// p50/p99 latencies of both. A second phase sends requests from 1 million
// distinct client addresses (X-Forwarded-For written by a trusted proxy)
// through the gateway and reports the heap before, during and after, to
// show that memory stays flat: the rate-limit store is a fixed table of
// MaxKeys entries. A third phase serves the bare JSON handler alone,
// behind bulwark's middleware stack without JWT and behind the peer stack
// without JWT, and compares their requests per second end to end.
//
// Everything listens on 127.0.0.1 only, and every phase is bounded both
// in requests and in time. Usage (from bench/):
//
//	go run ./load                      # defaults: 9 rounds of 1 s per side, the flood, then 6 end-to-end rounds
//	go run ./load -flood 0 -stack-rounds 0   # gateway vs bare proxy only
//	go run ./load -rounds 5 -duration 4s -workers 64
//	go run ./load -flood 1000000 -flood-time 20s
//	go run ./load -rounds 0 -flood 0 -stack-rounds 0   # failover and reload under load only
//
// A fourth phase runs a service of three targets, kills one mid-run and
// revives it: client-visible failures, time to ejection and back. A fifth
// reloads the gateway 20 times under load (two configurations in turn and
// five broken ones between them).
//
// Exit status 1 when a phase saw a response other than the expected
// status, or an error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/bulwark-go/bulwark/internal/gateway"
)

// options bound every phase.
type options struct {
	rounds     int           // throughput rounds; each runs both sides once
	duration   time.Duration // per side per round
	workers    int           // concurrent vegeta workers (one connection each)
	maxReqs    int           // per side per round; 0 = only the duration bounds it
	flood      int           // distinct client addresses in the flood phase; 0 = skip
	floodTime  time.Duration // time bound of the flood phase
	sample     int           // heap sample every this many flood requests
	floodAuth  bool          // flood requests carry the valid API key
	floodVia   string        // "http" (vegeta over loopback) or "handler" (in-process ServeHTTP)
	auditFile  string        // audit log file; empty = io.Discard
	cpuProf    string        // CPU profile of every phase after the warm-up (whole process)
	only       string        // run only this side in the throughput phase (profiling)
	stackRnds  int           // rounds of the end-to-end stack phase; 0 = skip
	failTime   time.Duration // length of the failover phase; 0 = skip
	reloads    int           // valid reloads in the reload phase; 0 = skip
	reloadTime time.Duration
	out        io.Writer
}

func main() {
	o := options{out: os.Stdout}
	flag.IntVar(&o.rounds, "rounds", 9, "throughput rounds (each runs the bare proxy and the gateway once, alternating which goes first)")
	flag.DurationVar(&o.duration, "duration", time.Second, "length of one side's run in a round")
	flag.IntVar(&o.workers, "workers", 32, "concurrent workers (connections)")
	flag.IntVar(&o.maxReqs, "requests", 200000, "at most this many requests per side per round")
	flag.IntVar(&o.flood, "flood", 1000000, "distinct client addresses in the flood phase (0 skips it)")
	flag.DurationVar(&o.floodTime, "flood-time", 20*time.Second, "time bound of the flood phase")
	flag.IntVar(&o.sample, "sample", 50000, "heap sample every N flood requests")
	flag.BoolVar(&o.floodAuth, "flood-auth", false, "send the valid API key with flood requests (default: none, as an attacker would; refused with 401 after the per-IP limit)")
	flag.StringVar(&o.floodVia, "flood-via", "http", "how the flood reaches the gateway: http (vegeta over loopback, as the throughput phase) or handler (the gateway's handler called in-process from -workers goroutines: the same stack, without the HTTP client and server, so that 1M addresses fit in the time bound on a small machine)")
	flag.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the phases after the warm-up (the whole process: load generator, servers, upstream) to this file")
	flag.StringVar(&o.only, "only", "", "run only the side of this name (bare, gateway; server, bulwark, peer) in the throughput phases, e.g. to profile it alone with -cpuprofile; no ratio is reported")
	flag.IntVar(&o.stackRnds, "stack-rounds", 6, "rounds of the end-to-end middleware phase (a bare server, the bulwark stack without JWT, the peer stack without JWT; 0 skips it)")
	flag.StringVar(&o.auditFile, "audit", "", "write the gateway's audit log to this file (default: discarded)")
	flag.DurationVar(&o.failTime, "failover", 6*time.Second, "length of the failover phase: a service of 3 targets, one killed and revived (0 skips it)")
	flag.IntVar(&o.reloads, "reloads", 20, "valid reloads in the reload-under-load phase, with 5 broken ones between them (0 skips it)")
	flag.DurationVar(&o.reloadTime, "reload-time", 20*time.Second, "length of the reload-under-load phase")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// gatewayYAML is the gateway's configuration: every protection on. The
// load generator is the trusted proxy (127.0.0.1): it asserts HTTPS with
// X-Forwarded-Proto, as a TLS-terminating load balancer would, and the
// client address with X-Forwarded-For. The limits are generous so that
// every request is allowed (the path that writes rate-limit state).
const gatewayYAML = `
listen: 127.0.0.1:0
upstream: %s
trusted_proxies: [127.0.0.1/32]
hosts: [127.0.0.1]
headers: {require_https: api}
cors: {allowed_origins: [https://app.example.com], allowed_methods: [GET, POST], allowed_headers: [X-API-Key, Content-Type]}
auth:
  api_keys: {store: memory, header: X-API-Key, prefix: bwk_live}
ratelimit:
  store: memory
  policies:
    - {name: per-ip, key: ip, limit: 1000000000, period: 1s}
    - {name: per-key, key: subject, limit: 1000000000, period: 1s}
  default: [per-ip]
routes:
  - {path: /v1/, auth: required, scopes: demo, methods: [GET, POST], json: true, max_body: 64KiB, ratelimit: [per-ip, per-key]}
audit: {output: stdout}
`

// upstreamBody is what the upstream answers: the bench's bare JSON handler.
const upstreamBody = `{"ok":true}`

func run(ctx context.Context, o options) error {
	if o.workers < 1 || o.rounds < 0 || o.flood < 0 || o.sample < 1 || o.duration <= 0 {
		return errors.New("-workers and -sample must be at least 1, -duration positive, -rounds and -flood not negative")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	upstream, err := listen(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, upstreamBody)
	}))
	if err != nil {
		return err
	}
	upURL := &url.URL{Scheme: "http", Host: upstream}

	// The bare proxy: what the gateway is compared with. Same transport
	// tuning as the gateway's proxy (256 idle connections to the upstream).
	bare := &httputil.ReverseProxy{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() },
	}
	bareAddr, err := listen(ctx, bare)
	if err != nil {
		return err
	}

	gw, gwAddr, key, err := startGateway(ctx, upURL.String(), o)
	if err != nil {
		return err
	}
	defer func() { _ = gw.Close() }()

	fmt.Fprintf(o.out, "upstream %s, bare proxy %s, gateway %s; %d workers, GOMAXPROCS %d, %s\n",
		upstream, bareAddr, gwAddr, o.workers, runtime.GOMAXPROCS(0), runtime.Version())
	hdr := http.Header{
		"Accept":            {"application/json"},
		"Origin":            {"https://app.example.com"},
		"X-Forwarded-Proto": {"https"},
		"X-Api-Key":         {key},
	}
	sides := []struct {
		name string
		url  string
	}{{"bare", "http://" + bareAddr + "/v1/items"}, {"gateway", "http://" + gwAddr + "/v1/items"}}

	// Warm both up (connections, caches), then check every answer.
	for _, s := range sides {
		if _, err := attack(staticTargets(s.url, hdr), o.workers, min(time.Second, o.duration+time.Millisecond), 2000, http.StatusOK); err != nil {
			return fmt.Errorf("%s warm-up: %w", s.name, err)
		}
	}
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.rounds > 0 {
		err := throughput(o, "throughput", []target{{sides[0].name, sides[0].url}, {sides[1].name, sides[1].url}}, hdr, "DESIGN target for the gateway ≥ 0.8")
		if err != nil {
			return err
		}
	}
	if o.flood > 0 {
		if err := flood(o, gw.Handler(), sides[1].url, hdr); err != nil {
			return err
		}
	}
	if o.stackRnds > 0 {
		if err := stackPhase(ctx, o); err != nil {
			return err
		}
	}
	if o.failTime > 0 {
		if err := failoverPhase(ctx, o); err != nil {
			return err
		}
	}
	if o.reloads > 0 {
		return reloadPhase(ctx, o)
	}
	return nil
}

// listen serves h on a loopback port until ctx is done.
func listen(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return ln.Addr().String(), nil
}

// startGateway builds the gateway as `bulwark serve -config` does and runs
// it (its own server, timeouts and graceful shutdown) on a loopback port.
func startGateway(ctx context.Context, upstream string, o options) (*gateway.Gateway, string, string, error) {
	cfg, err := gateway.Parse(fmt.Appendf(nil, gatewayYAML, upstream), ".")
	if err != nil {
		return nil, "", "", err
	}
	var audit io.Writer = io.Discard
	if o.auditFile != "" {
		f, err := os.Create(o.auditFile)
		if err != nil {
			return nil, "", "", err
		}
		context.AfterFunc(ctx, func() { _ = f.Close() })
		audit = f
	}
	g, err := gateway.Build(cfg, gateway.Options{AuditWriter: audit, Logf: func(string, ...any) {}})
	if err != nil {
		return nil, "", "", err
	}
	key, err := g.CreateDemoKey(ctx) // scopes: demo
	if err != nil {
		_ = g.Close()
		return nil, "", "", err
	}
	addr := make(chan string, 1)
	go func() {
		_ = g.Run(ctx, func(public, _ net.Addr) { addr <- public.String() })
	}()
	select {
	case a := <-addr:
		return g, a, key, nil
	case <-time.After(10 * time.Second):
		_ = g.Close()
		return nil, "", "", errors.New("the gateway did not start listening")
	}
}

// staticTargets sends GET url with hdr, every time.
func staticTargets(u string, hdr http.Header) vegeta.Targeter {
	return vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: u, Header: hdr})
}

// attack runs tr with as many requests as workers can send (no pacing),
// bounded by d and maxReqs, and checks that every answer has status want.
func attack(tr vegeta.Targeter, workers int, d time.Duration, maxReqs int, want int) (*vegeta.Metrics, error) {
	return attackEach(tr, workers, d, maxReqs, want, nil)
}

// attackEach is attack with a callback after each result.
func attackEach(tr vegeta.Targeter, workers int, d time.Duration, maxReqs int, want int, each func(n int)) (*vegeta.Metrics, error) {
	if maxReqs > 0 {
		tr = limitTargets(tr, maxReqs)
	}
	w := uint64(max(workers, 1))
	a := vegeta.NewAttacker(vegeta.Workers(w), vegeta.MaxWorkers(w),
		vegeta.Connections(workers), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second), vegeta.Redirects(vegeta.NoFollow))
	var m vegeta.Metrics
	bad := 0
	var firstBad string
	n := 0
	for res := range a.Attack(tr, vegeta.Rate{}, d, "load") {
		if res.Code == 0 && res.Error == vegeta.ErrNoTargets.Error() {
			continue // the request bound was reached: not a request
		}
		m.Add(res)
		if int(res.Code) != want {
			if bad == 0 {
				firstBad = fmt.Sprintf("status %d (%s) %s", res.Code, res.Error, strings.TrimSpace(string(res.Body)))
			}
			bad++
		}
		n++
		if each != nil {
			each(n)
		}
	}
	m.Close()
	if bad > 0 {
		return &m, fmt.Errorf("%d of %d answers were not %d; first: %s", bad, n, want, firstBad)
	}
	if n == 0 {
		return &m, errors.New("no requests were sent")
	}
	return &m, nil
}

// limitTargets stops tr after n targets.
func limitTargets(tr vegeta.Targeter, n int) vegeta.Targeter {
	var sent atomic.Int64
	return func(t *vegeta.Target) error {
		if sent.Add(1) > int64(n) {
			return vegeta.ErrNoTargets
		}
		return tr(t)
	}
}

// target is one server of a throughput comparison.
type target struct {
	name string
	url  string
}

// throughput runs the targets in rotating order, round after round, so
// that load from other processes on a shared machine hits all alike; it
// reports each round's ratio of every target to the first, and medians.
// target names what each ratio is compared with in the summary.
func throughput(o options, title string, targets []target, hdr http.Header, goal string) error {
	type side struct {
		target
		rps   []float64
		p50   []time.Duration
		p99   []time.Duration
		cpu   []float64 // process CPU seconds per request
		ratio []float64 // rps / the first side's, per round
	}
	sides := make([]*side, len(targets))
	for i, t := range targets {
		sides[i] = &side{target: t}
	}
	fmt.Fprintf(o.out, "\n%s: %d rounds, each side %s or %d requests per round, unpaced, %d workers\n", title, o.rounds, o.duration, o.maxReqs, o.workers)
	fmt.Fprintf(o.out, "%-6s %-10s %10s %10s %10s %10s %8s\n", "round", "side", "req/s", "p50", "p99", "CPU/req", "ratio")
	for r := range o.rounds {
		rps := make([]float64, len(sides))
		for k := range sides {
			i := (k + r) % len(sides) // rotate which side goes first
			s := sides[i]
			if o.only != "" && s.name != o.only {
				continue
			}
			runtime.GC()
			cpu0 := cpuTime()
			m, err := attack(staticTargets(s.url, hdr), o.workers, o.duration, o.maxReqs, http.StatusOK)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, s.name, err)
			}
			cpu := (cpuTime() - cpu0).Seconds() / float64(m.Requests)
			s.cpu = append(s.cpu, cpu)
			s.rps = append(s.rps, m.Throughput)
			s.p50 = append(s.p50, m.Latencies.P50)
			s.p99 = append(s.p99, m.Latencies.P99)
			rps[i] = m.Throughput
			fmt.Fprintf(o.out, "%-6d %-10s %10.0f %10s %10s %8.1fµs\n", r+1, s.name, m.Throughput, m.Latencies.P50.Round(time.Microsecond), m.Latencies.P99.Round(time.Microsecond), cpu*1e6)
		}
		if o.only != "" {
			continue
		}
		for i, s := range sides[1:] {
			s.ratio = append(s.ratio, rps[i+1]/rps[0])
			fmt.Fprintf(o.out, "%-6d %-10s %10s %10s %10s %10s %8.3f\n", r+1, s.name+"/"+sides[0].name, "", "", "", "", s.ratio[len(s.ratio)-1])
		}
	}
	fmt.Fprintf(o.out, "\nmedians over %d rounds:\n", o.rounds)
	if o.only != "" {
		return nil
	}
	for _, s := range sides {
		fmt.Fprintf(o.out, "  %-10s %8.0f req/s   p50 %s   p99 %s   CPU %.1f µs/request\n", s.name, median(s.rps),
			time.Duration(median(durs(s.p50))).Round(time.Microsecond), time.Duration(median(durs(s.p99))).Round(time.Microsecond), median(s.cpu)*1e6)
	}
	// CPU per request (the whole process: load generator, servers,
	// upstream) is what bounds throughput on a dedicated machine, and it
	// depends far less than req/s on what else the machine is running.
	for _, s := range sides[1:] {
		fmt.Fprintf(o.out, "  throughput ratio %s / %s: %.3f (rounds: %s); CPU-bound estimate (%s CPU per request / %s's): %.3f; %s\n",
			s.name, sides[0].name, median(s.ratio), fmtFloats(s.ratio), sides[0].name, s.name, median(sides[0].cpu)/median(s.cpu), goal)
	}
	return nil
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func durs(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

func fmtFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = strconv.FormatFloat(f, 'f', 3, 64)
	}
	return strings.Join(s, ", ")
}
