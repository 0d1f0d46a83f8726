package discord

import (
	"strings"
	"testing"
)

// The notice opening a re-opened chat's channel is posted once: marked
// with its nonce, it is found again by a later attempt (after a crash,
// when Discord no longer remembers the nonce) instead of posted twice.
func TestPostOpeningPostsOnce(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "1001", "Alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// An attempt before a crash, long enough ago that the nonce is
	// forgotten: only its marked content is left.
	before := srv.PostAsBot(ref.ChannelID, "🗄️ earlier messages\n"+nonceLine("qmdb-reopen-7"))
	id, err := a.PostOpening(ctx, ref, "qmdb-reopen-7", "🗄️ earlier messages, read again")
	if err != nil || id != before.ID {
		t.Fatalf("PostOpening = %q, %v; want the earlier post %s", id, err, before.ID)
	}
	if n := len(srv.Messages(ref.ChannelID)); n != 1 {
		t.Fatalf("%d messages in the channel; want the one notice", n)
	}

	// Another archive's notice is posted, marked, without pinging anyone.
	id, err = a.PostOpening(ctx, ref, "qmdb-reopen-8", "@everyone said <@&"+srv.AdminRoleID+"> hi")
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(ref.ChannelID)
	if len(msgs) != 2 || msgs[1].ID != id || !strings.HasSuffix(msgs[1].Content, "\n-# qmdb-reopen-8") {
		t.Fatalf("channel: %+v", msgs)
	}
	if len(msgs[1].Mentions) != 0 || msgs[1].MentionEveryone || len(msgs[1].MentionRoles) != 0 {
		t.Errorf("the notice pinged: %+v", msgs[1])
	}
}
