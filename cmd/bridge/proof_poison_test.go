package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestProofPoisonMessage is issue 13's second "done when", on the real
// binary: Discord refuses one post for good (HTTP 400). The rest of its
// session arrives seconds later, not hours; the refused message shows as a
// placeholder in the session channel and in /outbox as parked; once the
// cause is gone, /retry delivers it, once.
func TestProofPoisonMessage(t *testing.T) {
	t.Parallel()
	p := newProof(t, 21)
	peer := p.qq.AddUser(qqtest.User{Nick: "Poison Peer"})
	sid := p.qq.AddSession(peer)
	deliver := func(text string) {
		if _, err := p.qq.Deliver(sid, qqtest.Text(text)); err != nil {
			t.Fatal(err)
		}
	}
	deliver("before the poison")
	p.launch()
	ch := p.channelOf(sid, 60*time.Second)
	postedAre := func(want ...string) func() bool {
		return func() bool { return slices.Equal(contents(p.posted(ch)), want) }
	}
	report := func() string { return strings.Join(contents(p.posted(ch)), " | ") }
	p.waitFor("the first message", 60*time.Second, postedAre("before the poison"), report)

	// Discord refuses the next webhook post with 400: the poison message.
	p.dc.FailRoute("POST", "/webhooks/*/*", 1, 400)
	start := time.Now()
	deliver("the poison")
	deliver("after it, 1")
	deliver("after it, 2")
	p.waitFor("the rest of the session", 60*time.Second, postedAre("before the poison", "after it, 1", "after it, 2"), report)
	late := time.Since(start)
	t.Logf("the two messages after the refused one arrived %v after it was written", late.Round(10*time.Millisecond))
	if late > 20*time.Second {
		t.Errorf("the rest of the session waited %v behind the refused message", late)
	}

	// A placeholder in the session channel says what is missing and how to
	// retry it.
	entry := regexp.MustCompile(`/retry entry:(\d+)`)
	var placeholder, placeholderID, id string
	p.waitFor("the placeholder", 30*time.Second, func() bool {
		for _, m := range p.dc.Messages(ch) {
			if m.Author.ID == p.dc.BotUserID && strings.Contains(m.Content, "could not be shown") {
				if sm := entry.FindStringSubmatch(m.Content); sm != nil {
					placeholder, placeholderID, id = m.Content, m.ID, sm[1]
					return true
				}
			}
		}
		return false
	}, report)
	t.Logf("placeholder: %q", placeholder)
	if !strings.Contains(placeholder, "Poison Peer") {
		t.Errorf("the placeholder does not say whose message is missing: %q", placeholder)
	}

	// /outbox lists it as parked.
	outbox := p.command("outbox", nil)
	t.Logf("/outbox: %q", outbox)
	if !strings.Contains(outbox, "`#"+id+"` ⛔ parked") || !strings.Contains(outbox, "the poison") {
		t.Errorf("/outbox does not show entry %s as parked: %q", id, outbox)
	}

	// The cause is gone (the refusal was for one post): /retry delivers it
	// once, after the messages that went on meanwhile, and its placeholder
	// goes.
	var n int
	if _, err := fmt.Sscan(id, &n); err != nil {
		t.Fatal(err)
	}
	retry := p.command("retry", map[string]any{"entry": n})
	t.Logf("/retry entry:%d: %q", n, retry)
	p.waitFor("the retried message", 60*time.Second, postedAre("before the poison", "after it, 1", "after it, 2", "the poison"), report)
	p.waitFor("the placeholder to go", 30*time.Second, func() bool {
		_, ok := p.dc.Message(ch, placeholderID)
		return !ok
	}, report)
	p.healthy(30 * time.Second)
	if got := contents(p.posted(ch)); !slices.Equal(got, []string{"before the poison", "after it, 1", "after it, 2", "the poison"}) {
		t.Errorf("posted after /retry: %q", got)
	}
	if outbox := p.command("outbox", nil); strings.Contains(outbox, "⛔ parked") {
		t.Errorf("/outbox still shows a parked entry after the retry: %q", outbox)
	}
}

// command runs a slash command as the admin in the admin channel and
// returns the bot's answer.
func (p *proof) command(name string, options map[string]any) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := p.dc.InvokeCommand(p.dc.AdminUserID, name, options).Response(ctx)
	if err != nil {
		p.t.Fatalf("/%s: %v", name, err)
	}
	return r.Content
}
