package discordtest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// allowed is a parsed allowed_mentions (nil means "not sent": default rules).
type allowed struct {
	rec                    *AllowedMentions
	everyone, users, roles bool
	userList, roleList     []string
	repliedUser            bool
}

// parseAllowed validates allowed_mentions. Absent gives nil.
func parseAllowed(raw json.RawMessage) (*allowed, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, formErr("allowed_mentions", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
	}
	var am AllowedMentions
	a := &allowed{rec: &am}
	if p, ok := obj["parse"]; ok {
		if string(p) == "null" {
			am.ParseNull = true
			a.everyone, a.users, a.roles = true, true, true
		} else {
			if err := json.Unmarshal(p, &am.Parse); err != nil {
				return nil, formErr("allowed_mentions.parse", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
			}
			for i, v := range am.Parse {
				switch v {
				case "everyone":
					a.everyone = true
				case "users":
					a.users = true
				case "roles":
					a.roles = true
				default:
					return nil, formErr(fmt.Sprintf("allowed_mentions.parse.%d", i), "BASE_TYPE_CHOICES",
						"Value must be one of ('roles', 'users', 'everyone').")
				}
			}
		}
	}
	for _, k := range []string{"users", "roles"} {
		v, ok := obj[k]
		if !ok || string(v) == "null" {
			continue
		}
		var ids []string
		if err := json.Unmarshal(v, &ids); err != nil {
			return nil, formErr("allowed_mentions."+k, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
		}
		if len(ids) > 100 {
			return nil, formErr("allowed_mentions."+k, "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
		}
		if k == "users" {
			am.Users, a.userList = ids, ids
		} else {
			am.Roles, a.roleList = ids, ids
		}
	}
	if v, ok := obj["replied_user"]; ok {
		_ = json.Unmarshal(v, &am.RepliedUser)
		a.repliedUser = am.RepliedUser
	}
	if a.users && len(a.userList) > 0 && !am.ParseNull {
		return nil, formErr("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
			`parse:["users"] and users: [ids...] are mutually exclusive.`)
	}
	if a.roles && len(a.roleList) > 0 && !am.ParseNull {
		return nil, formErr("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
			`parse:["roles"] and roles: [ids...] are mutually exclusive.`)
	}
	return a, nil
}

var (
	userMentionRE = regexp.MustCompile(`<@!?(\d+)>`)
	roleMentionRE = regexp.MustCompile(`<@&(\d+)>`)
)

// pingsLocked works out who a message pings. Members (the bot included)
// ping @everyone/@here only with the Mention Everyone permission, and roles
// only when the role is mentionable or they have that permission; webhook
// authors (not members) are not restricted. allowed_mentions (nil: not
// sent) then filters.
func (s *Server) pingsLocked(content string, a *allowed, authorID string, replyTo *Message) Pings {
	everyoneOK, usersOK, rolesOK, repliedOK := true, true, true, true
	if a != nil {
		everyoneOK, usersOK, rolesOK, repliedOK = a.everyone, a.users, a.roles, a.repliedUser
	}
	var p Pings
	if strings.Contains(content, "@everyone") || strings.Contains(content, "@here") {
		can := true
		if _, isMember := s.state.members[authorID]; isMember {
			can = s.permsLocked(authorID)&PermMentionEveryone != 0
		}
		p.Everyone = everyoneOK && can
	}
	for _, m := range userMentionRE.FindAllStringSubmatch(content, -1) {
		id := m[1]
		if _, ok := s.state.members[id]; !ok {
			continue
		}
		if (usersOK || (a != nil && slices.Contains(a.userList, id))) && !slices.Contains(p.Users, id) {
			p.Users = append(p.Users, id)
		}
	}
	for _, m := range roleMentionRE.FindAllStringSubmatch(content, -1) {
		id := m[1]
		role, ok := s.state.roles[id]
		if !ok || id == s.GuildID {
			continue
		}
		if _, isMember := s.state.members[authorID]; isMember && !role.Mentionable &&
			s.permsLocked(authorID)&PermMentionEveryone == 0 {
			continue // members need a mentionable role or the Mention Everyone permission
		}
		if (rolesOK || (a != nil && slices.Contains(a.roleList, id))) && !slices.Contains(p.Roles, id) {
			p.Roles = append(p.Roles, id)
		}
	}
	if replyTo != nil && repliedOK && replyTo.WebhookID == "" && replyTo.Author.ID != authorID &&
		!slices.Contains(p.Users, replyTo.Author.ID) {
		p.Users = append(p.Users, replyTo.Author.ID)
	}
	return p
}

// validateMessage checks content and embed limits.
func validateMessage(p *msgPayload, nFiles int, requireNonEmpty bool) *apiError {
	var f formErrors
	content := ""
	if p.Content != nil {
		content = *p.Content
	}
	if utf8.RuneCountInString(content) > MaxContentLength {
		f.add("content", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxContentLength))
	}
	validateEmbeds(&f, p.Embeds)
	if nFiles > MaxAttachments {
		f.add("files", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxAttachments))
	}
	if p.Username != "" {
		validateWebhookName(&f, "username", p.Username)
	}
	if p.AvatarURL != "" {
		if u, err := url.Parse(p.AvatarURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.add("avatar_url", "URL_TYPE_INVALID_URL", "Not a well formed URL.")
		}
	}
	if e := f.err(); e != nil {
		return e
	}
	if requireNonEmpty && strings.TrimSpace(content) == "" && len(p.Embeds) == 0 && nFiles == 0 &&
		len(p.StickerIDs) == 0 && !nonEmptyJSON(p.Components) && !nonEmptyJSON(p.Poll) {
		return errf(400, 50006, "Cannot send an empty message")
	}
	return nil
}

func nonEmptyJSON(r json.RawMessage) bool {
	t := strings.TrimSpace(string(r))
	return t != "" && t != "null" && t != "[]" && t != "{}"
}

func validateEmbeds(f *formErrors, embeds []Embed) {
	if len(embeds) > MaxEmbeds {
		f.add("embeds", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxEmbeds))
		return
	}
	total := 0
	n := utf8.RuneCountInString
	max := func(path, v string, limit int) {
		if n(v) > limit {
			f.add(path, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", limit))
		}
	}
	checkURL := func(path, v string) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "attachment") || (u.Scheme != "attachment" && u.Host == "") {
			f.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
		}
	}
	for i, e := range embeds {
		pre := fmt.Sprintf("embeds.%d.", i)
		max(pre+"title", e.Title, 256)
		max(pre+"description", e.Description, 4096)
		checkURL(pre+"url", e.URL)
		total += n(e.Title) + n(e.Description)
		if e.Footer != nil {
			max(pre+"footer.text", e.Footer.Text, 2048)
			total += n(e.Footer.Text)
		}
		if e.Author != nil {
			max(pre+"author.name", e.Author.Name, 256)
			checkURL(pre+"author.icon_url", e.Author.IconURL)
			total += n(e.Author.Name)
		}
		if e.Image != nil {
			checkURL(pre+"image.url", e.Image.URL)
		}
		if e.Thumbnail != nil {
			checkURL(pre+"thumbnail.url", e.Thumbnail.URL)
		}
		if e.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
				f.add(pre+"timestamp", "DATE_TYPE_PARSE", "Could not parse "+e.Timestamp+". Should be ISO8601.")
			}
		}
		if len(e.Fields) > 25 {
			f.add(pre+"fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
		for j, fl := range e.Fields {
			fp := fmt.Sprintf("%sfields.%d.", pre, j)
			if strings.TrimSpace(fl.Name) == "" {
				f.add(fp+"name", "BASE_TYPE_REQUIRED", "This field is required")
			}
			if strings.TrimSpace(fl.Value) == "" {
				f.add(fp+"value", "BASE_TYPE_REQUIRED", "This field is required")
			}
			max(fp+"name", fl.Name, 256)
			max(fp+"value", fl.Value, 1024)
			total += n(fl.Name) + n(fl.Value)
		}
	}
	if total > MaxEmbedTotal {
		f.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", fmt.Sprintf("Embed size exceeds maximum size of %d", MaxEmbedTotal))
	}
}

func validateWebhookName(f *formErrors, field, name string) {
	if l := utf8.RuneCountInString(name); l < 1 || l > 80 {
		f.add(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
		return
	}
	low := strings.ToLower(name)
	for _, bad := range []string{"clyde", "discord"} {
		if strings.Contains(low, bad) {
			f.add(field, "USERNAME_INVALID_CONTAINS", fmt.Sprintf("Username cannot contain %q", bad))
		}
	}
}
