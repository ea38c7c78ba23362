package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// blockingServer serves GET /block through the admission middleware; each
// request signals entered and then waits until release is closed.
func blockingServer(t *testing.T, a *admitter) (srv *httptest.Server, entered chan struct{}, release chan struct{}) {
	t.Helper()
	entered, release = make(chan struct{}, 100), make(chan struct{})
	r := gin.New()
	r.Use(requestContext(slogDiscard()), admission(a))
	r.GET("/block", func(c *gin.Context) {
		entered <- struct{}{}
		<-release
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	srv = httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, entered, release
}

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return nil
	}
	resp.Body.Close()
	return resp
}

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

// TestAdmissionQueueBounded fills the slots and the queue, and checks that
// the next request is refused at once with a clean 503 while the queued ones
// are served once slots free up.
func TestAdmissionQueueBounded(t *testing.T) {
	t.Parallel()
	a := newAdmitter(Limits{MaxInFlight: 2, MaxQueue: 2, QueueTimeout: time.Hour})
	srv, entered, release := blockingServer(t, a)
	var wg sync.WaitGroup
	statuses := make(chan int, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := get(t, srv.URL+"/block"); r != nil {
				statuses <- r.StatusCode
			}
		}()
	}
	<-entered
	<-entered
	waitFor(func() bool { return a.waiting.Load() == 2 })

	resp, err := http.Get(srv.URL + "/block")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("Content-Type") != "application/problem+json" || p["code"] != "SERVICE_UNAVAILABLE" {
		t.Fatalf("over the queue: %d %v %v", resp.StatusCode, resp.Header, p)
	}

	close(release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("a queued request got %d", s)
		}
	}
	if n := len(a.slots); n != 0 {
		t.Fatalf("%d slots still taken", n)
	}
}

// TestAdmissionQueueTimeout checks that a request waiting longer than the
// queue timeout is refused with 503, and that the slot is usable afterwards.
func TestAdmissionQueueTimeout(t *testing.T) {
	t.Parallel()
	a := newAdmitter(Limits{MaxInFlight: 1, MaxQueue: 10, QueueTimeout: 20 * time.Millisecond})
	srv, entered, release := blockingServer(t, a)
	first := make(chan *http.Response, 1)
	go func() { first <- get(t, srv.URL+"/block") }()
	<-entered
	if r := get(t, srv.URL+"/block"); r == nil || r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("queued past the timeout: %+v", r)
	}
	close(release)
	if r := <-first; r == nil || r.StatusCode != http.StatusOK {
		t.Fatalf("first: %+v", r)
	}
	if r := get(t, srv.URL+"/block"); r == nil || r.StatusCode != http.StatusOK {
		t.Fatalf("after: %+v", r)
	}
}

// TestAdmissionProbesNotQueued checks that health probes answer while every
// slot is taken.
func TestAdmissionProbesNotQueued(t *testing.T) {
	t.Parallel()
	a := newAdmitter(Limits{MaxInFlight: 1, MaxQueue: 0, QueueTimeout: time.Hour})
	r := gin.New()
	r.Use(admission(a))
	r.GET("/healthz", func(c *gin.Context) { c.Status(http.StatusOK) })
	a.slots <- struct{}{}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("healthz while saturated: %d", w.Code)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
