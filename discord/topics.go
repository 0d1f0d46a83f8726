package discord

import (
	"context"
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// tag is the session's SessionTag under the adapter's tag key (or, with
// none, this bot's token).
func (a *Adapter) tag(sessionID string) string {
	if len(a.opts.TagKey) > 0 {
		return SessionTagKeyed(a.opts.TagKey, sessionID)
	}
	return SessionTag(a.token, sessionID)
}

// tags returns the tags a session's channel may carry: under the tag key,
// then under the bot token (an earlier version's, or one made before the
// key existed).
func (a *Adapter) tags(sessionID string) []string {
	t := a.tag(sessionID)
	if old := SessionTag(a.token, sessionID); old != t {
		return []string{t, old}
	}
	return []string{t}
}

// topicNames reports whether a channel topic is that of the session: it
// ends with one of the session's tags, or (an earlier version's topic)
// names the session id.
func (a *Adapter) topicNames(topic, sessionID string) bool {
	return slices.Contains(a.tags(sessionID), topicTag(topic)) || topicSessionID(topic) == sessionID
}

// scrubLegacyTopics rewrites the topics of session channels made by an
// earlier version, which showed the peer's QQ uin and the session id, to
// the nick and the tag, and renames those named after the uin (a peer
// without a nick). Failures are logged; the next EnsureChannel of a
// session rewrites its topic too.
func (a *Adapter) scrubLegacyTopics(ctx context.Context, chs []*discordgo.Channel) {
	for _, c := range chs {
		if c.Type != discordgo.ChannelTypeGuildText || !a.isOurCategory(c.ParentID) {
			continue
		}
		id := topicSessionID(c.Topic)
		if id == "" {
			continue
		}
		nick, uin := legacyPeer(c.Topic)
		edit := &discordgo.ChannelEdit{Topic: Topic(bridge.Session{ID: id, Peer: bridge.Peer{Nick: nick}}, a.tag(id))}
		if uin != "" && sameBase(c.Name, ChannelName("", "qq "+uin)) {
			edit.Name = UniqueName(ChannelName(nick, "qq "+a.tag(id)), takenNames(chs, c.ID))
		}
		err := a.do(ctx, "rewrite an old channel topic", true, func(o ...discordgo.RequestOption) error {
			_, err := a.rest.ChannelEdit(c.ID, edit, o...)
			return err
		})
		if err != nil {
			a.log.Warn("could not rewrite the topic of a channel of an earlier version (it shows a QQ uin); trying again when its session is next renamed", "channel", c.ID, "err", err)
			continue
		}
		a.log.Info("rewrote the topic of a channel of an earlier version", "channel", c.ID)
	}
}

// legacyPeer is the nick and the uin in an earlier version's topic,
// "QQ Music chat with NICK · QQ uin U · session ID" ("(no nick)", "-" for
// none).
func legacyPeer(topic string) (nick, uin string) {
	nick = strings.TrimPrefix(topic, "QQ Music chat with ")
	if i := strings.LastIndex(nick, " · QQ uin "); i >= 0 {
		nick, uin = nick[:i], nick[i+len(" · QQ uin "):]
		uin, _, _ = strings.Cut(uin, " · session ")
	}
	if nick == "(no nick)" {
		nick = ""
	}
	if uin == "-" {
		uin = ""
	}
	return nick, uin
}
