package discord

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxContent is Discord's limit on a message's content.
const MaxContent = 2000

// textLen is the length Discord's limits are checked against. It counts
// UTF-16 code units, which is never less than the number of characters, so
// a text within the limit by this measure is within it by any measure.
func textLen(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// prefixWithin returns the byte length of the longest prefix of s whose
// textLen is at most max; it always ends on a rune boundary.
func prefixWithin(s string, max int) int {
	n := 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > max {
			return i
		}
		n += w
	}
	return len(s)
}

// SplitContent cuts text into pieces of at most max (UTF-16 units, see
// textLen) that Discord accepts as message contents: it cuts after the last
// line break that fits, else at the last space, else (one long word) at a
// character boundary. The whitespace it cuts at is dropped, and pieces that
// would hold only whitespace are left out (Discord refuses them), so the
// pieces hold every non-space character of text, in order. Invalid UTF-8 is
// replaced by U+FFFD.
func SplitContent(text string, max int) []string {
	if max < 2 {
		max = 2
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	var out []string
	add := func(s string) {
		if strings.TrimFunc(s, unicode.IsSpace) != "" {
			out = append(out, s)
		}
	}
	for {
		// Discord trims messages; leading white space would only waste room.
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
		if textLen(text) <= max {
			break
		}
		end := prefixWithin(text, max)
		head := text[:end]
		cut, skip := -1, 0
		if i := strings.LastIndexByte(head, '\n'); i > 0 {
			cut, skip = i, 1
		} else if i := lastSpace(head); i > 0 {
			_, w := utf8.DecodeRuneInString(head[i:])
			cut, skip = i, w
		}
		if cut < 0 {
			// No boundary: a hard cut, on a rune boundary. A leading
			// boundary (cut == 0) is not useful either.
			if end == 0 {
				// Cannot happen with max >= 2, but never loop forever.
				_, w := utf8.DecodeRuneInString(text)
				end = w
			}
			add(text[:end])
			text = text[end:]
			continue
		}
		add(text[:cut])
		text = text[cut+skip:]
	}
	add(text)
	return out
}

// lastSpace is the byte index of the last white-space rune of s, or -1.
func lastSpace(s string) int {
	for i := len(s); i > 0; {
		r, w := utf8.DecodeLastRuneInString(s[:i])
		i -= w
		if unicode.IsSpace(r) {
			return i
		}
	}
	return -1
}
