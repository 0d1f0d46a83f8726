package discord

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

const (
	// maxChannelName is Discord's limit on channel and thread names.
	maxChannelName = 100
	// maxTopic is Discord's limit on a text channel's topic.
	maxTopic = 1024
	// maxCategoryChildren is how many channels Discord allows in a category.
	maxCategoryChildren = 50
	// maxGuildChannels is how many channels (categories included) a guild may hold.
	maxGuildChannels = 500
)

// ChannelName turns a QQ nick into a Discord text-channel name: lower case,
// runs of spaces and characters Discord rejects become one dash, letters of
// any script (Chinese included) and digits stay, at most 100 characters.
// fallback (e.g. "qq-12345") is used when nothing of the nick survives.
func ChannelName(nick, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range nick {
		switch {
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r):
			// Combining marks belong to the letter before them.
			if b.Len() > 0 && !dash {
				b.WriteRune(r)
			}
		default:
			dash = true
		}
	}
	name := strings.Trim(truncateRunes(b.String(), maxChannelName), "-")
	if name == "" {
		if fallback == "" {
			return "qq-session"
		}
		return ChannelName(fallback, "qq-session")
	}
	return name
}

// UniqueName returns base, or base with the smallest suffix "-2", "-3", ...
// that taken does not hold, cutting base so the result fits in 100
// characters.
func UniqueName(base string, taken func(string) bool) string {
	if !taken(base) {
		return base
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		name := truncateRunes(base, maxChannelName-len(suffix)) + suffix
		if !taken(name) {
			return name
		}
	}
}

// SessionTag is the short tag that tells a session's channel or forum post
// apart from others of the same nick, and lets the bridge find it again
// after a crash: 8 hex digits of HMAC-SHA256 keyed with the bot token (with
// or without its "Bot " prefix) over the session id. It reveals neither the
// session id nor the peer's QQ uin, which cannot be guessed back from it
// without the token. This is the tag of earlier versions, and of an
// adapter without Options.TagKey; with one, tags are SessionTagKeyed.
func SessionTag(token, sessionID string) string {
	return SessionTagKeyed([]byte(strings.TrimPrefix(strings.TrimSpace(token), "Bot ")), sessionID)
}

// SessionTagKeyed is SessionTag keyed with a tag key (Options.TagKey)
// instead of the bot token: a token reset changes no tag.
func SessionTagKeyed(key []byte, sessionID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sessionID))
	return hex.EncodeToString(m.Sum(nil))[:8]
}

// ThreadName is the title of a session's forum post: the nick as is (forum
// post names are free text) and the session's tag, within 100 characters.
func ThreadName(p bridge.Peer, tag string) string {
	nick := strings.Join(strings.Fields(stripControl(p.Nick)), " ")
	suffix := " (#" + tag + ")"
	if nick == "" {
		nick = "QQ user"
	}
	return truncateRunes(nick, maxChannelName-utf8.RuneCountInString(suffix)) + suffix
}

// Topic is a session channel's topic: the nick and the session's tag (see
// SessionTag), which comes last so that the channel can be found again
// from its topic. Nothing in it is an id of QQ Music's.
func Topic(s bridge.Session, tag string) string {
	tail := " · #" + tag
	head := "QQ Music chat with "
	nick := strings.Join(strings.Fields(stripControl(s.Peer.Nick)), " ")
	if nick == "" {
		nick = "(no nick)"
	}
	room := maxTopic - utf8.RuneCountInString(head) - utf8.RuneCountInString(tail)
	return head + truncateRunes(nick, room) + tail
}

// topicTag returns the tag a Topic carries, or "".
func topicTag(topic string) string {
	i := strings.LastIndex(topic, " · #")
	if i < 0 {
		return ""
	}
	return topic[i+len(" · #"):]
}

// topicSessionID returns the session id the topic of an earlier version
// ("... · QQ uin U · session ID") carries, or "".
func topicSessionID(topic string) string {
	i := strings.LastIndex(topic, " · session ")
	if i < 0 {
		return ""
	}
	return topic[i+len(" · session "):]
}

// CategoryName is the name of the n-th category (n from 1) holding session
// channels: "QQ Music", "QQ Music 2", ...
func CategoryName(base string, n int) string {
	if n <= 1 {
		return base
	}
	return base + " " + strconv.Itoa(n)
}

// categoryIndex reports which n CategoryName(base, n) gave name, or 0.
func categoryIndex(base, name string) int {
	if strings.EqualFold(name, base) {
		return 1
	}
	if len(name) <= len(base)+1 || !strings.EqualFold(name[:len(base)], base) || name[len(base)] != ' ' {
		return 0
	}
	n, err := strconv.Atoi(name[len(base)+1:])
	if err != nil || n < 2 {
		return 0
	}
	return n
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// stripControl replaces control characters (newlines included) by spaces
// and drops invalid UTF-8.
func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError {
			return -1
		}
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
