package discord

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// TestPostAppliedThenFailedIsAmbiguous: a webhook post Discord stored but
// whose answer was lost (a 5xx, a dropped connection, a time-out) is never
// posted again by the adapter: it reports the outcome as ambiguous, and
// FindPosted with the recorded rendering then finds the one message.
func TestPostAppliedThenFailedIsAmbiguous(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, func(o *Options) { o.CallTimeout = time.Second })
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []discordtest.Lost{discordtest.Lost500, discordtest.Lost502, discordtest.Lost503, discordtest.LostDrop, discordtest.LostHang} {
		before := srv.Messages(ref.ChannelID)
		last := ""
		if len(before) > 0 {
			last = before[len(before)-1].ID
		}
		r := mustRender(t, a, textMsg("m"+how.String(), "lost answer: "+how.String(), s.Peer))
		srv.ApplyThenFail("POST", "/webhooks/*/*", 1, how)
		_, err := a.Post(ctx, ref, r)
		if bridge.OutcomeOf(err) != bridge.CallAmbiguous || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%v: Post = %v (%v), want ambiguous and ErrUnavailable", how, err, bridge.OutcomeOf(err))
		}
		ms := srv.Messages(ref.ChannelID)
		if len(ms) != len(before)+1 {
			t.Fatalf("%v: %d new messages, want 1 (never posted twice)", how, len(ms)-len(before))
		}
		ids, found, err := a.FindPosted(ctx, ref, last, r)
		if err != nil || !found || len(ids) != 1 || ids[0] != ms[len(ms)-1].ID {
			t.Errorf("%v: FindPosted = %v, %v, %v; want the message %s", how, ids, found, err, ms[len(ms)-1].ID)
		}
	}
}

// TestRefusalsArePermanent: what Discord refuses for good is reported as
// permanent, at once, with a reason a person can act on.
func TestRefusalsArePermanent(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status int
		want   string
	}{
		{http.StatusBadRequest, "Discord refused its content (HTTP 400)"},
		{http.StatusForbidden, "give the bot's role the missing permission"},
		{http.StatusNotFound, "Discord does not know what it refers to (HTTP 404)"},
		{http.StatusRequestEntityTooLarge, "too large (HTTP 413)"},
	}
	for _, tc := range tests {
		n := srv.Count("POST", "/webhooks/*/*")
		srv.FailRoute("POST", "/webhooks/*/*", 1, tc.status)
		_, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m", "refused", s.Peer)))
		if bridge.OutcomeOf(err) != bridge.CallPermanent || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HTTP %d: %v (%v); want permanent, saying %q", tc.status, err, bridge.OutcomeOf(err), tc.want)
		}
		if got := srv.Count("POST", "/webhooks/*/*") - n; got != 1 {
			t.Errorf("HTTP %d: %d requests, want 1 (not retried)", tc.status, got)
		}
	}
	// 401 stays the token error.
	srv.FailRoute("POST", "/webhooks/*/*", 1, http.StatusUnauthorized)
	if _, err := a.Post(ctx, ref, mustRender(t, a, textMsg("m", "x", s.Peer))); !errors.Is(err, ErrTokenRejected) {
		t.Errorf("401: %v, want ErrTokenRejected", err)
	}
	// A recorded rendering this version cannot read is permanent too.
	if _, err := a.Post(ctx, ref, bridge.Rendered(`{"v":99,"parts":[{"content":"x"}]}`)); bridge.OutcomeOf(err) != bridge.CallPermanent {
		t.Errorf("unknown rendering version: %v, want permanent", err)
	}
}

// TestIdempotentCallsRetried: reads, edits and reactions may be retried
// after a 5xx; so may any call that failed before it was sent.
func TestIdempotentCallsRetried(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	srv.FailRoute("GET", "/channels/*/messages", 2, http.StatusServiceUnavailable)
	if _, err := a.RepliesAfter(ctx, srv.AdminChannelID, ""); err != nil {
		t.Errorf("read after two 503s: %v", err)
	}
	msg := srv.Type(srv.AdminChannelID, srv.AdminUserID, "hello")
	srv.ApplyThenFail("PUT", "/channels/*/messages/*/reactions/*/@me", 1, discordtest.Lost502)
	if err := a.MarkDelivered(ctx, srv.AdminChannelID, msg.ID); err != nil {
		t.Errorf("reaction after an applied-then-502: %v", err)
	}

	// A non-idempotent call that failed before anything was written is
	// retried: Discord cannot have seen it.
	calls := 0
	err := a.do(ctx, "post something", false, func(o ...discordgo.RequestOption) error {
		calls++
		if calls == 1 {
			return &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("dial refused, then ok: %v after %d calls", err, calls)
	}
}
