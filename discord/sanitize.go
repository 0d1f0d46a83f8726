package discord

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const zwsp = "\u200b"

// NeutraliseMentions makes text show as written but unable to ping:
// "@everyone" and "@here" (any case) get a zero-width space after the "@",
// and the "<@id>", "<@!id>" and "<@&id>" mention syntax gets one after the
// "<", so it stays plain text. Messages are also sent with allowed_mentions
// parsing nothing; this is the visible half of the guard.
func NeutraliseMentions(text string) string {
	if !strings.ContainsAny(text, "@") {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + 16)
	for i := 0; i < len(text); i++ {
		c := text[i]
		b.WriteByte(c)
		switch c {
		case '@':
			rest := text[i+1:]
			if hasPrefixFold(rest, "everyone") || hasPrefixFold(rest, "here") {
				b.WriteString(zwsp)
			}
		case '<':
			if i+1 < len(text) && text[i+1] == '@' {
				b.WriteString(zwsp)
			}
		}
	}
	return b.String()
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// maxWebhookName is Discord's limit on a webhook message's username.
const maxWebhookName = 80

// WebhookUsername is the name a QQ message is posted under: the nick, with
// what Discord refuses in webhook names made harmless ("clyde" and
// "discord" get a zero-width joiner inside, control characters become
// spaces), never empty, at most 80 characters. Messages of the account owner
// are marked as such.
func WebhookUsername(nick, uin string, owner bool) string {
	name := strings.Join(strings.Fields(stripControl(nick)), " ")
	if name == "" {
		name = "QQ user"
		if uin != "" {
			name += " " + uin
		}
	}
	suffix := ""
	if owner {
		suffix = " (you, from QQ)"
	}
	name = truncateRunes(name, maxWebhookName-utf8.RuneCountInString(suffix)) + suffix
	name = breakWord(name, "clyde")
	name = breakWord(name, "discord")
	if strings.EqualFold(name, "everyone") || strings.EqualFold(name, "here") {
		name += " (QQ)"
	}
	return truncateRunes(name, maxWebhookName)
}

// breakWord puts a zero-width non-joiner after the first letter of every
// case-insensitive occurrence of word in s.
func breakWord(s, word string) string {
	var b strings.Builder
	for {
		i := indexFold(s, word)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+1])
		b.WriteString("\u200c")
		s = s[i+1:]
	}
}

// indexFold is an ASCII case-insensitive strings.Index.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// isBlank reports whether s holds only white space.
func isBlank(s string) bool { return strings.TrimFunc(s, unicode.IsSpace) == "" }
