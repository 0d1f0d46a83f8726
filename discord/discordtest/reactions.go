package discordtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ---- reactions ----

func parseEmoji(raw string) (Emoji, bool) {
	if raw == "" || utf8.RuneCountInString(raw) > 100 {
		return Emoji{}, false
	}
	if strings.Contains(raw, ":") {
		parts := strings.Split(raw, ":")
		if len(parts) > 3 || (len(parts) == 3 && parts[0] != "a") {
			return Emoji{}, false
		}
		name, id := parts[len(parts)-2], parts[len(parts)-1]
		if _, err := strconv.ParseUint(id, 10, 64); err != nil || name == "" {
			return Emoji{}, false
		}
		return Emoji{ID: id, Name: name}, true
	}
	for _, r := range raw {
		if r < 0x80 && r != '#' && r != '*' && (r < '0' || r > '9') {
			return Emoji{}, false
		}
	}
	return Emoji{Name: raw}, true
}

func (s *Server) reaction(add bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		emoji, ok := parseEmoji(r.PathValue("emoji"))
		if !ok {
			return errf(400, 10014, "Unknown Emoji")
		}
		s.mu.Lock()
		ch := s.state.channels[r.PathValue("channel")]
		if ch == nil {
			s.mu.Unlock()
			return errUnknownChannel()
		}
		m := s.findMessageLocked(ch.ID, r.PathValue("message"))
		if m == nil {
			s.mu.Unlock()
			return errUnknownMessage()
		}
		if add && !s.botHas(PermAddReactions) {
			s.mu.Unlock()
			return errMissingPerms()
		}
		changed := s.reactLocked(m, emoji, s.BotUserID, add)
		chID, msgID := m.ChannelID, m.ID // *m may be rewritten (an edit) once unlocked
		s.mu.Unlock()
		if changed {
			ev := "MESSAGE_REACTION_ADD"
			if !add {
				ev = "MESSAGE_REACTION_REMOVE"
			}
			s.dispatch(ev, IntentGuildReactions, map[string]any{
				"user_id": s.BotUserID, "channel_id": chID, "message_id": msgID, "guild_id": s.GuildID, "emoji": emoji,
			})
		}
		writeNoContent(w)
		return nil
	}
}

func (s *Server) reactLocked(m *Message, e Emoji, userID string, add bool) bool {
	key := e.Name
	if e.ID != "" {
		key = e.ID
	}
	for i := range m.Reactions {
		rx := &m.Reactions[i]
		k := rx.Emoji.Name
		if rx.Emoji.ID != "" {
			k = rx.Emoji.ID
		}
		if k != key {
			continue
		}
		has := slices.Contains(rx.Users, userID)
		switch {
		case add && !has:
			rx.Users = append(rx.Users, userID)
		case !add && has:
			rx.Users = slices.DeleteFunc(rx.Users, func(u string) bool { return u == userID })
		default:
			return false
		}
		rx.Count = len(rx.Users)
		rx.Me = slices.Contains(rx.Users, s.BotUserID)
		if rx.Count == 0 {
			m.Reactions = slices.Delete(m.Reactions, i, i+1)
		}
		return true
	}
	if !add {
		return false
	}
	m.Reactions = append(m.Reactions, Reaction{Count: 1, Me: userID == s.BotUserID, Emoji: e, Users: []string{userID}})
	return true
}

// React adds a reaction by a member (dispatches MESSAGE_REACTION_ADD).
func (s *Server) React(channelID, messageID, userID, emoji string) {
	e, ok := parseEmoji(emoji)
	if !ok {
		panic(fmt.Sprintf("discordtest: React: bad emoji %q", emoji))
	}
	s.mu.Lock()
	m := s.findMessageLocked(channelID, messageID)
	changed := m != nil && s.reactLocked(m, e, userID, true)
	s.mu.Unlock()
	if changed {
		s.dispatch("MESSAGE_REACTION_ADD", IntentGuildReactions, map[string]any{
			"user_id": userID, "channel_id": channelID, "message_id": messageID, "guild_id": s.GuildID, "emoji": e,
		})
	}
}
