package discordtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// events collects discordgo events of one kind.
type events[T any] struct {
	mu   sync.Mutex
	list []T
	ch   chan struct{}
}

func collect[T any](dg *discordgo.Session) *events[T] {
	e := &events[T]{ch: make(chan struct{}, 1000)}
	dg.AddHandler(func(_ *discordgo.Session, v T) {
		e.mu.Lock()
		e.list = append(e.list, v)
		e.mu.Unlock()
		e.ch <- struct{}{}
	})
	return e
}

func (e *events[T]) wait(t *testing.T, n int) []T {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		e.mu.Lock()
		if len(e.list) >= n {
			out := append([]T(nil), e.list...)
			e.mu.Unlock()
			return out
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d events of %T", n, *new(T))
		}
	}
}

func (e *events[T]) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.list)
}

func newServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := New(append([]Option{WithHeartbeatInterval(50 * time.Millisecond)}, opts...)...)
	t.Cleanup(s.Close)
	return s
}

// session returns an unopened session; it is closed before the server.
func session(t *testing.T, s *Server) *discordgo.Session {
	t.Helper()
	dg := s.NewSession()
	dg.MaxRestRetries = 0
	dg.SyncEvents = true // handlers in arrival order
	t.Cleanup(func() { _ = dg.Close() })
	return dg
}

func open(t *testing.T, dg *discordgo.Session) {
	t.Helper()
	if err := dg.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
}

func restErr(t *testing.T, err error) *discordgo.RESTError {
	t.Helper()
	var re *discordgo.RESTError
	if !errors.As(err, &re) {
		t.Fatalf("want *RESTError, got %T %v", err, err)
	}
	if re.Message == nil {
		t.Fatalf("RESTError without a JSON message: %s", re.ResponseBody)
	}
	return re
}
