package discord

import (
	"errors"
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
)

func transcript(nonce string) bridge.Transcript {
	return bridge.Transcript{
		Nonce:    nonce,
		Note:     "🗄️ Archived the chat with Bob (test): 1 messages.",
		FileName: "qq-Bob.txt",
		Body:     []byte("QQ Music chat with Bob\n\n[2026-11-22 03:00:00] Bob: a private word\n"),
	}
}

func TestArchiveThreadOfAdminChannel(t *testing.T) {
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	ctx := t.Context()
	ref, err := a.EnsureChannel(ctx, session("s1", "10001", "Bob"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The admin channel is readable by every member: no transcript.
	if _, err := a.PostTranscript(ctx, transcript("qmdb-archive-1")); !errors.Is(err, bridge.ErrHeld) || !strings.Contains(err.Error(), "admin channel") {
		t.Fatalf("PostTranscript with a public admin channel = %v; want it held", err)
	}
	if _, ok := srv.ChannelByName(archiveThreadName); ok {
		t.Fatal("an archive thread was made in a public admin channel")
	}
	denyEveryone(srv, srv.AdminChannelID)
	id, err := a.PostTranscript(ctx, transcript("qmdb-archive-1"))
	if err != nil {
		t.Fatal(err)
	}
	th, ok := srv.ChannelByName(archiveThreadName)
	if !ok || th.ParentID != srv.AdminChannelID {
		t.Fatalf("archive thread %+v, %v; want a thread of the admin channel", th, ok)
	}
	msgs := srv.Messages(th.ID)
	if len(msgs) != 1 || msgs[0].ID != id || len(msgs[0].Attachments) != 1 {
		t.Fatalf("archive thread holds %+v", msgs)
	}
	att := msgs[0].Attachments[0]
	if att.Filename != "qq-Bob.txt" || !strings.Contains(string(att.Data), "Bob: a private word") {
		t.Errorf("attachment %s: %q", att.Filename, att.Data)
	}
	if !strings.Contains(msgs[0].Content, "Archived the chat with Bob") {
		t.Errorf("note %q", msgs[0].Content)
	}
	// Posting again with the nonce (a retry) posts once; the post is
	// found again by its nonce, another nonce is not.
	if again, err := a.PostTranscript(ctx, transcript("qmdb-archive-1")); err != nil || again != id {
		t.Errorf("second post = %s, %v; want %s", again, err, id)
	}
	if n := len(srv.Messages(th.ID)); n != 1 {
		t.Errorf("%d transcripts after a retry", n)
	}
	if got, found, err := a.FindTranscript(ctx, "qmdb-archive-1"); err != nil || !found || got != id {
		t.Errorf("FindTranscript = %s, %v, %v", got, found, err)
	}
	if _, found, err := a.FindTranscript(ctx, "qmdb-archive-2"); err != nil || found {
		t.Errorf("FindTranscript(other) = %v, %v", found, err)
	}
	// After Discord's few minutes a repeated post would make a second
	// message: that is why the bridge looks for it first.
	srv.ForgetNonces()
	if again, err := a.PostTranscript(ctx, transcript("qmdb-archive-1")); err != nil || again == id {
		t.Errorf("post after the nonce window = %s, %v; want a second message", again, err)
	}
	// A member without the admin role does not see the transcripts.
	if srv.CanView(srv.PlainUserID, th.ID) {
		t.Error("a plain member sees the archive")
	}

	if err := a.DeleteChannel(ctx, ref.ChannelID); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Channel(ref.ChannelID); ok {
		t.Error("the session channel still exists")
	}
	if err := a.DeleteChannel(ctx, ref.ChannelID); err != nil {
		t.Errorf("deleting a channel already gone = %v; want done", err)
	}
	if err := a.DeleteChannel(ctx, srv.AdminChannelID); !errors.Is(err, bridge.ErrPermanent) {
		t.Errorf("deleting the admin channel = %v; want refused", err)
	}
	other := srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeText, Name: "general-chat"})
	if err := a.DeleteChannel(ctx, other); !errors.Is(err, bridge.ErrPermanent) {
		t.Errorf("deleting a channel outside the bridge's categories = %v; want refused", err)
	}
	if _, ok := srv.Channel(other); !ok {
		t.Error("a channel outside the bridge's categories was deleted")
	}
	// The session's next EnsureChannel opens a fresh channel.
	ref2, err := a.EnsureChannel(ctx, session("s1", "10001", "Bob"), &ref)
	if err != nil || ref2.ChannelID == ref.ChannelID {
		t.Errorf("re-open = %+v, %v", ref2, err)
	}
}

func TestArchiveChannelMustBePrivate(t *testing.T) {
	srv := newServer(t)
	arch := srv.AddChannel(discordtest.Channel{Type: discordtest.ChannelTypeText, Name: "qq-archive"})
	a, _ := start(t, srv, func(o *Options) { o.ArchiveChannelID = arch })
	ctx := t.Context()
	_, err := a.PostTranscript(ctx, transcript("qmdb-archive-1"))
	if !errors.Is(err, bridge.ErrHeld) || !strings.Contains(err.Error(), "View Channel") {
		t.Fatalf("PostTranscript into a public archive channel = %v; want it held, saying what to do", err)
	}
	if n := len(srv.Messages(arch)); n != 0 {
		t.Fatalf("%d messages in a public archive channel", n)
	}
	denyEveryone(srv, arch)
	id, err := a.PostTranscript(ctx, transcript("qmdb-archive-1"))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(arch); len(msgs) != 1 || msgs[0].ID != id {
		t.Errorf("archive channel holds %+v", msgs)
	}
}
