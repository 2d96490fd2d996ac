package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Concurrent decisions share round trips. A decision that finds fewer than
// pipelinesInFlight calls on the way sends its script alone, at once, as a
// lone caller always does (no added latency, no lingering for company);
// decisions that arrive while the calls are busy queue, and the first of
// the queue is handed the whole queue to send as one pipeline when a call
// returns. Each script in a pipeline is its own EVALSHA with its own reply
// and error, decided and charged atomically on its own, exactly as when
// sent alone: only the write and read system calls and the wait are
// shared. There is no goroutine of the store's own, and each caller sends
// at most the one pipeline its own script is in.
//
// go-redis v9's AutoPipeliner does the like, but it is marked experimental,
// runs goroutines of its own, can linger for a batch and does not support
// Ring; this is the small part the store needs.

const (
	// pipelinesInFlight is how many calls (lone scripts or pipelines) the
	// store has on the way to Redis at once before decisions queue: enough
	// to keep Redis busy while replies travel back, few enough that the
	// queue forms under load.
	pipelinesInFlight = 4
	// maxPipeline bounds the scripts of one pipeline: the rest of the queue
	// waits for the next.
	maxPipeline = 128
)

// pipe is the store's queue of decisions waiting for a call.
type pipe struct {
	mu       sync.Mutex
	inFlight int
	queue    []*waiter
}

// waiter is a queued decision: its command, its deadline (the store's
// Timeout from when the decision started) and how it is woken.
type waiter struct {
	cmd      redis.Cmder
	deadline time.Time
	wake     chan struct{} // one send per wait: done, or lead
	batch    []*waiter     // set when the waiter is to send them
}

var waiterPool = sync.Pool{New: func() any { return &waiter{wake: make(chan struct{}, 1)} }}

// process sends cmd, alone or in a pipeline with other decisions', and
// returns when its reply (or error) is in cmd. ctx carries the decision's
// deadline; a queued decision waits for its pipeline even if ctx is
// cancelled meanwhile (its command's arguments live in the caller's
// scratch until the reply is read), which its deadline bounds: a pipeline
// is sent with the earliest deadline of its decisions.
func (s *Store) process(ctx context.Context, cmd redis.Cmder) {
	p := &s.pipe
	p.mu.Lock()
	if p.inFlight < pipelinesInFlight {
		p.inFlight++
		p.mu.Unlock()
		_ = s.client.Process(ctx, cmd)
		s.handOff()
		return
	}
	w := waiterPool.Get().(*waiter)
	w.cmd, w.batch = cmd, nil
	var ok bool
	if w.deadline, ok = ctx.Deadline(); !ok { // take always sets one
		w.deadline = time.Now().Add(s.timeout)
	}
	p.queue = append(p.queue, w)
	p.mu.Unlock()

	<-w.wake
	if batch := w.batch; batch != nil {
		s.sendBatch(ctx, batch)
		for _, o := range batch[1:] {
			o.wake <- struct{}{}
		}
		s.handOff()
	}
	w.cmd, w.batch = nil, nil
	waiterPool.Put(w)
}

// handOff passes the call that just returned to the queue: its first
// decision sends the queue (up to maxPipeline), or, with nothing queued,
// the call is over.
func (s *Store) handOff() {
	p := &s.pipe
	p.mu.Lock()
	if len(p.queue) == 0 {
		p.inFlight--
		p.mu.Unlock()
		return
	}
	n := min(len(p.queue), maxPipeline)
	batch := make([]*waiter, n)
	copy(batch, p.queue)
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	p.mu.Unlock()
	batch[0].batch = batch
	batch[0].wake <- struct{}{}
}

// sendBatch sends the commands of batch as one pipeline (one alone as a
// plain call), under the earliest of their deadlines and never cancelled
// by one caller going away.
func (s *Store) sendBatch(ctx context.Context, batch []*waiter) {
	if len(batch) == 1 {
		_ = s.client.Process(ctx, batch[0].cmd)
		return
	}
	deadline := batch[0].deadline
	for _, w := range batch[1:] {
		if w.deadline.Before(deadline) {
			deadline = w.deadline
		}
	}
	bctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	pl := s.client.Pipeline()
	for _, w := range batch {
		_ = pl.Process(bctx, w.cmd)
	}
	_, _ = pl.Exec(bctx) // each command holds its own reply or error
}
