package bridge

import (
	"fmt"
	"strings"
)

// Quote is the message a Discord reply answers.
type Quote struct {
	// Nick is who wrote it: the QQ nick of a relayed message, the
	// member's name otherwise.
	Nick string
	// Text is its text, or a short description ("[image]").
	Text string
}

// Attachment is a file attached to a Discord message.
type Attachment struct {
	Name string
	Size int64
	URL  string
}

// quoteRunes is how much of the answered message a quote shows.
const quoteRunes = 40

// quoteLine is the short quote that goes before a reply, so that the peer
// keeps the context: 「nick: first 40 characters…」.
func quoteLine(q *Quote) string {
	if q == nil {
		return ""
	}
	text := strings.Join(strings.Fields(q.Text), " ")
	if rs := []rune(text); len(rs) > quoteRunes {
		text = string(rs[:quoteRunes]) + "…"
	}
	nick := strings.Join(strings.Fields(q.Nick), " ")
	switch {
	case nick == "" && text == "":
		return ""
	case nick == "":
		return "「" + text + "」"
	}
	return "「" + nick + ": " + text + "」"
}

// attachmentLine is how QQ receives an attached file: QQ Music has no
// upload for private-message media, so its name, size and link.
func attachmentLine(a Attachment) string {
	name := strings.Join(strings.Fields(a.Name), " ")
	if name == "" {
		name = "file"
	}
	if a.Size > 0 {
		return fmt.Sprintf("📎 %s (%s): %s", name, sizeText(a.Size), strings.TrimSpace(a.URL))
	}
	return fmt.Sprintf("📎 %s: %s", name, strings.TrimSpace(a.URL))
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// nothingToSend is the refusal of a reply with nothing QQ can take.
func nothingToSend(r Reply) string {
	if r.Unsendable != "" {
		return fmt.Sprintf("nothing to send: QQ Music cannot show %s; write what you mean as text", r.Unsendable)
	}
	return "nothing to send: the message has no text and no attachment"
}
