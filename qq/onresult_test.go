package qq_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

func TestOnResultSeesEveryCall(t *testing.T) {
	s := qqtest.New(qqtest.WithAccount(account))
	t.Cleanup(s.Close)
	type rec struct {
		method string
		err    error
	}
	var mu sync.Mutex
	var got []rec
	c, err := qq.New(qq.Options{
		HTTPClient: s.Client(), Endpoints: s.Endpoints(), Credential: credOf(account),
		DeviceFile: filepath.Join(t.TempDir(), "device.json"), RateLimit: rate.Inf, QIMEIBackoff: time.Millisecond,
		OnResult: func(module, method string, err error) {
			mu.Lock()
			got = append(got, rec{method, err})
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, err := c.GetSessionList(ctx, qq.SessionListParams{}); err != nil {
		t.Fatal(err)
	}
	s.Fail("GetSessionList", qqtest.Fault{Kind: qqtest.RateLimited, Times: 1})
	if _, err := c.GetSessionList(ctx, qq.SessionListParams{}); !errors.Is(err, qq.ErrRateLimited) {
		t.Fatalf("want a rate limit, got %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var lists []rec
	for _, r := range got {
		if r.method == "GetSessionList" {
			lists = append(lists, r)
		}
	}
	if len(lists) != 2 || lists[0].err != nil || !errors.Is(lists[1].err, qq.ErrRateLimited) {
		t.Errorf("OnResult saw %+v, want one success then one rate limit", lists)
	}
}
