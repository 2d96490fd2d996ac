package validate_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/validate"
)

// watchedBody reports, each time the decoder asks for more of the body, how
// many bytes it has delivered so far, so that a test knows when every
// request is waiting for data without sleeping.
type watchedBody struct {
	io.ReadCloser
	n     int64
	asked chan<- ask
	done  <-chan struct{}
}

// ask is one request for more: which body, after how many bytes.
type ask struct {
	body *watchedBody
	n    int64
}

func (b *watchedBody) Read(p []byte) (int, error) {
	select {
	case b.asked <- ask{b, b.n}:
	case <-b.done:
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// TestSlowClientsCannotReserveMemoryByDeclaringIt: 300 connections each
// declare Content-Length: 1048576 and send one byte. The decoder used to
// allocate the declared length before a byte arrived (306 MiB held for the
// read timeout, from 29 KiB sent); its buffer must grow only with what
// arrives. Measured on a real loopback server: the heap after the first
// byte, then after 48 KiB more from every client, grows with the bytes
// sent and not with the bytes declared.
func TestSlowClientsCannotReserveMemoryByDeclaringIt(t *testing.T) {
	const (
		clients  = 300
		declared = 1 << 20
		more     = 48 << 10
	)
	d := newDecoder[account](t, validate.Config{ReadTimeout: time.Minute})
	asked := make(chan ask, clients)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(r.Context()) // a copy, to give it the watched body
		r.Body = &watchedBody{ReadCloser: r.Body, asked: asked, done: done}
		_, _ = d.Decode(w, r)
	}))
	conns := make([]net.Conn, 0, clients)
	defer func() {
		close(done)
		for _, c := range conns {
			_ = c.Close()
		}
		srv.Close()
	}()
	// waitAll returns when every request has asked for more after having
	// been given at least n bytes.
	waitAll := func(n int64) {
		t.Helper()
		waiting := map[*watchedBody]bool{}
		timeout := time.After(time.Minute)
		for len(waiting) < clients {
			select {
			case a := <-asked:
				if a.n >= n {
					waiting[a.body] = true
				}
			case <-timeout:
				t.Fatalf("%d of %d requests got %d bytes", len(waiting), clients, n)
			}
		}
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}

	before := heap()
	head := "POST / HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(declared) + "\r\n\r\n{"
	for range clients {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
	}
	waitAll(1)
	first := heap()

	var wg sync.WaitGroup // the test goroutine drains asked meanwhile
	pad := bytes.Repeat([]byte(" "), more)
	for _, c := range conns {
		wg.Go(func() { _, _ = c.Write(pad) })
	}
	waitAll(1 + more)
	wg.Wait()
	second := heap()

	grew := func(from, to uint64) int64 { return int64(to) - int64(from) }
	perClient1 := grew(before, first) / clients
	perClient2 := grew(first, second) / clients
	t.Logf("heap per client: %d B after 1 byte each, %d B more after %d bytes more each", perClient1, perClient2, more)
	// One byte sent: what a connection costs net/http anyway (its buffers,
	// the request) and a small first buffer, nowhere near the 1 MiB
	// declared.
	if perClient1 > 64<<10 {
		t.Errorf("after 1 byte from each of %d clients declaring %d: the heap grew %d B per client, want at most 64 KiB", clients, declared, perClient1)
	}
	// 48 KiB more each: the buffers hold what arrived (the measurement
	// sees them), grown at most twofold, not to the declared 1 MiB.
	if lo, hi := int64(more*9/10), int64(2*more+32<<10); perClient2 < lo || perClient2 > hi {
		t.Errorf("after %d more bytes from each client: the heap grew %d B per client, want between %d and %d", more, perClient2, lo, hi)
	}
}
