package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// TestIntegrationEditsAndDeletions: with bridge.edit_window set, an edit
// inside the window reaches QQ as one correction, an edit outside it as
// none; a message deleted after it reached QQ is marked as still there.
func TestIntegrationEditsAndDeletions(t *testing.T) {
	w := newWorldWith(t, func(c *bridge.EngineConfig) { c.EditWindow = time.Hour })
	alice := w.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := w.qq.AddSession(alice)
	if _, err := w.qq.Deliver(sid, qqtest.Text("when?")); err != nil {
		t.Fatal(err)
	}
	var ch discordtest.Channel
	w.eventually("Alice's channel", func() bool {
		var ok bool
		ch, ok = w.channelOf(sid)
		return ok && len(w.posted(ch.ID)) == 1
	})
	sent := func() []string {
		var out []string
		for _, s := range w.qq.Sent() {
			out = append(out, s.Meta.Content)
		}
		return out
	}
	m := w.dc.Type(ch.ID, w.dc.AdminUserID, "see you at 8")
	w.eventually("the reply at QQ", func() bool { return len(sent()) == 1 })

	// Inside the window: one correction.
	w.dc.EditAsMember(ch.ID, m.ID, "see you at 9")
	w.eventually("the correction at QQ", func() bool { return len(sent()) == 2 })
	if got := sent()[1]; got != "✏️ see you at 9" {
		t.Errorf("correction %q", got)
	}

	// Outside the window: none. The marker, queued behind the edit, shows
	// that the edit was handled.
	w.dc.EditAsMemberAt(ch.ID, m.ID, "see you at 10", m.Timestamp.Add(2*time.Hour))
	w.dc.Type(ch.ID, w.dc.AdminUserID, "marker")
	w.eventually("the marker at QQ", func() bool { return len(sent()) >= 3 })
	if got := strings.Join(sent(), "|"); got != "see you at 8|✏️ see you at 9|marker" {
		t.Errorf("QQ received %s", got)
	}

	// Deleted after it was sent: QQ cannot recall it, and the channel says so.
	w.dc.DeleteAsMember(ch.ID, m.ID)
	w.eventually("the note that QQ keeps it", func() bool {
		for _, dm := range w.dc.Messages(ch.ID) {
			if dm.Author.ID == w.dc.BotUserID && strings.Contains(dm.Content, "cannot recall it") {
				return true
			}
		}
		return false
	})
}

// TestIntegrationEditWindowOffByDefault: without bridge.edit_window an
// edit sends nothing to QQ.
func TestIntegrationEditWindowOffByDefault(t *testing.T) {
	w := newWorld(t)
	alice := w.qq.AddUser(qqtest.User{Nick: "Alice"})
	sid := w.qq.AddSession(alice)
	if _, err := w.qq.Deliver(sid, qqtest.Text("when?")); err != nil {
		t.Fatal(err)
	}
	var ch discordtest.Channel
	w.eventually("Alice's channel", func() bool {
		var ok bool
		ch, ok = w.channelOf(sid)
		return ok && len(w.posted(ch.ID)) == 1
	})
	m := w.dc.Type(ch.ID, w.dc.AdminUserID, "see you at 8")
	w.eventually("the reply at QQ", func() bool { return len(w.qq.Sent()) == 1 })
	w.dc.EditAsMember(ch.ID, m.ID, "see you at 9")
	w.dc.Type(ch.ID, w.dc.AdminUserID, "marker") // queued behind the edit
	w.eventually("the marker at QQ", func() bool { return len(w.qq.Sent()) >= 2 })
	var got []string
	for _, s := range w.qq.Sent() {
		got = append(got, s.Meta.Content)
	}
	if strings.Join(got, "|") != "see you at 8|marker" {
		t.Errorf("QQ received %v", got)
	}
}
