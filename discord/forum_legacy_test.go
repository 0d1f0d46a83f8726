package discord

import (
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

// legacyForum seeds what an earlier version made in forum mode, through
// the API as the bot: a private forum and two posts titled "NICK (uin)"
// whose first message shows the uin and the session id, one of them
// archived. It returns the posts' ids.
func legacyForum(t *testing.T, srv *discordtest.Server) (active, archived string) {
	t.Helper()
	srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeForum, Name: "qq-music",
		PermissionOverwrites: []discordtest.Overwrite{{ID: srv.GuildID, Deny: discordtest.PermViewChannel}}})
	forum, _ := srv.ChannelByName("qq-music")
	old, err := New(testOptions(srv)) // never started: only its REST session is used
	if err != nil {
		t.Fatal(err)
	}
	post := func(name, content string) string {
		th, err := old.rest.ForumThreadStartComplex(forum.ID, &discordgo.ThreadStart{Name: name, AutoArchiveDuration: 10080},
			&discordgo.MessageSend{Content: content})
		if err != nil {
			t.Fatal(err)
		}
		return th.ID
	}
	active = post("Bob (10001)", "QQ Music chat with Bob · QQ uin 10001 · session s1")
	archived = post("Carol (10002)", "QQ Music chat with Carol · QQ uin 10002 · session s2")
	if _, err := old.rest.ChannelEdit(archived, &discordgo.ChannelEdit{Archived: new(true)}); err != nil {
		t.Fatal(err)
	}
	return active, archived
}

// At start in forum mode, the posts of an earlier version no longer show
// the peer's QQ uin or the session id, neither in their title nor in their
// first message, archived ones included (which stay archived); they are
// adopted all the same.
func TestEarlierForumPostsRewrittenAtStart(t *testing.T) {
	srv := newServer(t)
	active, archived := legacyForum(t, srv)
	a, _ := start(t, srv, func(o *Options) { o.Mode = ModeForum })

	for _, tc := range []struct {
		id, nick, uin, sid string
		archived           bool
	}{
		{active, "Bob", "10001", "s1", false},
		{archived, "Carol", "10002", "s2", true},
	} {
		th, _ := srv.Channel(tc.id)
		want := "QQ Music chat with " + tc.nick + " · #" + SessionTag(srv.Token, tc.sid)
		msgs := srv.Messages(tc.id)
		if len(msgs) == 0 || msgs[0].ID != tc.id {
			t.Fatalf("post %s lost its first message: %+v", tc.nick, msgs)
		}
		if got := msgs[0].Content; got != want {
			t.Errorf("first message of %s's post: %q, want %q", tc.nick, got, want)
		}
		if strings.Contains(th.Name, tc.uin) || th.Name != tc.nick+" (#"+SessionTag(srv.Token, tc.sid)+")" {
			t.Errorf("post title %q", th.Name)
		}
		if th.ThreadMetadata.Archived != tc.archived {
			t.Errorf("%s's post archived = %v, want %v", tc.nick, th.ThreadMetadata.Archived, tc.archived)
		}
	}
	ref, err := a.EnsureChannel(t.Context(), session("s1", "10001", "Bob"), nil)
	if err != nil || ref.ChannelID != active {
		t.Fatalf("EnsureChannel = %+v, %v; want the earlier post adopted", ref, err)
	}
}

// A post renamed from an earlier version's title when its session gets it
// (found by the uin in its title) has its first message rewritten too.
func TestEarlierForumPostRewrittenWhenAdopted(t *testing.T) {
	srv := newServer(t)
	active, _ := legacyForum(t, srv)
	// As if the start's rewrite had failed: the post is adopted by its title.
	a, _ := start(t, srv, func(o *Options) { o.Mode = ModeForum })
	srv.UpdateChannel(active, func(c *discordtest.Channel) { c.Name = "Bob (10001)" })
	if _, err := a.rest.ChannelMessageEdit(active, active, "QQ Music chat with Bob · QQ uin 10001 · session s1"); err != nil {
		t.Fatal(err)
	}
	ref, err := a.EnsureChannel(t.Context(), session("s1", "10001", "Bob"), nil)
	if err != nil || ref.ChannelID != active {
		t.Fatalf("EnsureChannel = %+v, %v; want the earlier post adopted", ref, err)
	}
	if got := srv.Messages(active)[0].Content; strings.Contains(got, "10001") || strings.Contains(got, "s1") {
		t.Errorf("first message after adoption: %q", got)
	}
}
