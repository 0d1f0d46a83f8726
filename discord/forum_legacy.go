package discord

import (
	"context"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Forum posts made by an earlier version are titled "NICK (uin)" and
// start with a message of the bot reading "QQ Music chat with NICK · QQ
// uin U · session ID": both show what only the bridge needs. At start in
// forum mode, each such post (active or archived) gets its title and its
// starter message rewritten to the nick and the tag, as channel topics
// are (topics.go). Editing its own message needs no permission of the
// bot; an archived post is re-opened for the edit (Send Messages, which
// posting needs anyway) and archived again. Posts titled with a tag are
// the current version's: their starter message is looked at only when
// EnsureChannel renames one from an earlier title.

// legacyTitle reports whether a post title is an earlier version's,
// "NICK (digits)", and not "NICK (#tag)".
func legacyTitle(name string) bool {
	i := strings.LastIndex(name, " (")
	if i < 0 || !strings.HasSuffix(name, ")") {
		return false
	}
	d := name[i+2 : len(name)-1]
	if d == "" {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// legacyStarter reports whether a starter message is an earlier
// version's (it shows the uin or the session id).
func legacyStarter(content string) bool {
	return strings.Contains(content, " · QQ uin ") || strings.Contains(content, " · session ")
}

// scrubLegacyPosts rewrites the titles and starter messages of the forum's
// posts made by an earlier version. Failures are logged; the next start
// tries again.
func (a *Adapter) scrubLegacyPosts(ctx context.Context) {
	a.mu.Lock()
	forumID := a.forumID
	a.mu.Unlock()
	if a.opts.Mode != ModeForum || forumID == "" {
		return
	}
	var posts []*discordgo.Channel
	var active *discordgo.ThreadsList
	err := a.do(ctx, "list active threads", true, func(o ...discordgo.RequestOption) (err error) {
		active, err = a.rest.GuildThreadsActive(a.opts.GuildID, o...)
		return err
	})
	if err != nil {
		a.log.Warn("could not list the forum's posts to rewrite those of an earlier version (their first message shows a QQ uin); trying again at the next start", "err", err)
		return
	}
	for _, th := range active.Threads {
		if th.ParentID == forumID && legacyTitle(th.Name) {
			posts = append(posts, th)
		}
	}
	var before *time.Time
	for range 50 { // at most 5000 archived posts a start
		var archived *discordgo.ThreadsList
		err := a.do(ctx, "list archived forum posts", true, func(o ...discordgo.RequestOption) (err error) {
			archived, err = a.rest.ThreadsArchived(forumID, before, 100, o...)
			return err
		})
		if err != nil {
			a.log.Warn("could not list the forum's archived posts to rewrite those of an earlier version; trying again at the next start", "err", err)
			break
		}
		for _, th := range archived.Threads {
			if legacyTitle(th.Name) {
				posts = append(posts, th)
			}
		}
		last := archived.Threads
		if !archived.HasMore || len(last) == 0 || last[len(last)-1].ThreadMetadata == nil {
			break
		}
		at := last[len(last)-1].ThreadMetadata.ArchiveTimestamp
		before = &at
	}
	n := 0
	for _, th := range posts {
		err := a.rewritePost(ctx, th)
		if restStatus(err) == 403 {
			a.log.Warn("could not rewrite the forum posts of an earlier version (their first message shows a QQ uin): the bot may not read or edit them there; "+
				"grant it Read Message History and Send Messages in the forum, then restart", "posts", len(posts)-n, "err", err)
			return
		}
		if err != nil {
			a.log.Warn("could not rewrite a forum post of an earlier version (its first message shows a QQ uin); trying again at the next start", "thread", th.ID, "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		a.log.Info("rewrote the forum posts of an earlier version", "posts", n)
	}
}

// rewritePost rewrites a post of an earlier version at start: its
// starter message to Topic and its title to ThreadName, from the session
// id and the peer its starter message names. An archived post is
// re-opened for the edit and archived again.
func (a *Adapter) rewritePost(ctx context.Context, th *discordgo.Channel) error {
	starter, err := a.starter(ctx, th.ID)
	if err != nil || starter == nil || !legacyStarter(starter.Content) {
		return err // nothing tells its session
	}
	nick, uin := legacyPeer(starter.Content)
	s := bridge.Session{ID: topicSessionID(starter.Content), Peer: bridge.Peer{Nick: nick, UIN: uin}}
	archived := th.ThreadMetadata != nil && th.ThreadMetadata.Archived
	if archived {
		err := a.do(ctx, "re-open an archived forum post", true, func(o ...discordgo.RequestOption) error {
			_, err := a.rest.ChannelEdit(th.ID, &discordgo.ChannelEdit{Archived: new(false)}, o...)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := a.editStarter(ctx, th.ID, s); err != nil {
		return err
	}
	edit := &discordgo.ChannelEdit{}
	if s.ID != "" {
		edit.Name = ThreadName(s.Peer, a.tag(s.ID))
	}
	if archived {
		edit.Archived = new(true)
	}
	if edit.Name == "" && edit.Archived == nil {
		return nil
	}
	err = a.do(ctx, "rename a forum post", true, func(o ...discordgo.RequestOption) error {
		_, err := a.rest.ChannelEdit(th.ID, edit, o...)
		return err
	})
	if err != nil {
		// Its first message no longer shows the uin; the title is
		// rewritten when its session next gets its post.
		a.log.Warn("could not rename a forum post of an earlier version (or archive it again)", "thread", th.ID, "err", err)
	}
	return nil
}

// starter returns a post's first message when the bot wrote it (nil when
// it was deleted, or is somebody else's).
func (a *Adapter) starter(ctx context.Context, threadID string) (*discordgo.Message, error) {
	var m *discordgo.Message
	err := a.do(ctx, "read a forum post's first message", true, func(o ...discordgo.RequestOption) (err error) {
		m, err = a.rest.ChannelMessage(threadID, threadID, o...) // a post's first message has its id
		return err
	})
	switch {
	case notFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case m.Author == nil || m.Author.ID != a.botUserID():
		return nil, nil
	}
	return m, nil
}

// editStarter sets a post's first message to the session's Topic (the
// nick alone when its session id is not known).
func (a *Adapter) editStarter(ctx context.Context, threadID string, s bridge.Session) error {
	content := Topic(s, a.tag(s.ID))
	if s.ID == "" {
		content = strings.TrimSuffix(content, " · #"+a.tag(""))
	}
	return a.do(ctx, "rewrite a forum post's first message", true, func(o ...discordgo.RequestOption) error {
		_, err := a.rest.ChannelMessageEditComplex(&discordgo.MessageEdit{
			ID: threadID, Channel: threadID, Content: &content, AllowedMentions: noMentions(),
		}, o...)
		return err
	})
}

// fixStarter rewrites the first message of a session's post renamed from
// an earlier version's title by EnsureChannel, when it is an earlier
// version's. A failure is logged: the messages go on.
func (a *Adapter) fixStarter(ctx context.Context, threadID string, s bridge.Session) {
	m, err := a.starter(ctx, threadID)
	if err == nil && m != nil && legacyStarter(m.Content) {
		err = a.editStarter(ctx, threadID, s)
	}
	if err != nil {
		a.log.Warn("could not rewrite the first message of a forum post of an earlier version (it shows a QQ uin); trying again at the next start", "thread", threadID, "err", err)
	}
}
