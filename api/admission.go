package api

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/licensing-service/licensing/internal/licensing"
)

// Limits bound the work a request may cause. Zero values turn a bound off
// (the tests of other features do not have to care).
type Limits struct {
	// RequestTimeout is the deadline of every request: waiting for a slot,
	// for a pooled connection and for the database all count against it.
	RequestTimeout time.Duration
	// MaxInFlight is how many requests run at once. It is sized from the
	// pool, so a running request rarely waits for a connection.
	MaxInFlight int
	// MaxQueue is how many more requests may wait for a slot; beyond it a
	// request is refused at once.
	MaxQueue int
	// QueueTimeout bounds a request's wait for a slot.
	QueueTimeout time.Duration
}

// unlimitedPaths are never queued: probes, metrics and the static contract
// must answer while the service is saturated, or an orchestrator would
// restart a busy replica.
var unlimitedPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/openapi.yaml": true}

// deadline gives every request a context that ends after d, so that a slow
// database or a long queue cannot keep a request (and its connection) for
// ever. Store calls see the deadline and fail with SERVICE_UNAVAILABLE.
func deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d <= 0 {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// admitter is a counting semaphore with a bounded queue: at most size
// requests run, at most queue more wait (first come, first served, since
// blocked channel senders are woken in order), each for at most wait.
type admitter struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
	wait    time.Duration
}

func newAdmitter(l Limits) *admitter {
	if l.MaxInFlight <= 0 {
		return nil
	}
	wait := l.QueueTimeout
	if wait <= 0 {
		wait = time.Second
	}
	return &admitter{slots: make(chan struct{}, l.MaxInFlight), queue: int64(l.MaxQueue), wait: wait}
}

// acquire takes a slot, waiting in the queue when there is room in it. It
// reports false when the queue is full, the wait ran out or ctx ended.
func (a *admitter) acquire(ctx context.Context) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	if a.waiting.Add(1) > a.queue {
		a.waiting.Add(-1)
		return false
	}
	defer a.waiting.Add(-1)
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (a *admitter) release() { <-a.slots }

// admission bounds the requests that run at once (see Limits). A request
// that finds no slot in time gets 503 SERVICE_UNAVAILABLE with Retry-After:
// a burst degrades into quick, clean refusals instead of a pile of requests
// that all time out inside the pool.
func admission(a *admitter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a == nil || unlimitedPaths[c.Request.URL.Path] {
			c.Next()
			return
		}
		if !a.acquire(c.Request.Context()) {
			writeError(c, &licensing.Error{
				Code:              licensing.CodeUnavailable,
				Message:           "the service is busy; retry shortly",
				RetryAfterSeconds: 1,
			})
			return
		}
		defer a.release()
		c.Next()
	}
}
