package discord

import (
	"net/http"
	"sync"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// A catch-up reading many channels at once (4 at a time, as the engine
// does) stays under Discord's global limit: it never draws a global 429,
// which would hold every request of the bridge, live posts included, for
// the rest of the window. A post made meanwhile goes through.
func TestCatchUpReadsLeaveRoomForLiveRequests(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	live := mustRender(t, a, textMsg("q1", "live", bridge.Peer{UIN: "1", Nick: "Alice"}))
	srv.SetGlobalLimit(50)
	mark := len(srv.Requests())
	const workers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each+1)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := a.RepliesAfter(ctx, ref.ChannelID, ""); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		if _, err := a.Post(ctx, ref, live); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n429, reads := 0, 0
	for _, rec := range srv.Requests()[mark:] {
		if rec.Status == http.StatusTooManyRequests {
			n429++
		}
		if rec.Method == "GET" && rec.Path == "/channels/"+ref.ChannelID+"/messages" {
			reads++
		}
	}
	if n429 != 0 || reads != workers*each {
		t.Errorf("%d history reads, %d answered 429; want %d reads and no 429", reads, n429, workers*each)
	}
}
