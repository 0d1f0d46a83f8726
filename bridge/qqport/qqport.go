// Package qqport adapts the qq client library to the bridge's QQ port
// (bridge.QQ): it turns QQ Music sessions and messages into the bridge's
// model, pages the way the engine needs (an idle poll costs one request),
// and maps qq's typed errors onto bridge.ErrLoginRequired and
// bridge.ErrRateLimited.
package qqport

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// MaxTextLen is the longest text, in characters, the bridge puts in one QQ
// message. The protocol documents no limit; this keeps replies well inside
// what the app shows as one message.
const MaxTextLen = 1000

// findSentScan is how many messages FindSent reads at most: a session's
// newest ones (newest first), or those after the newest one read (oldest
// first).
const findSentScan = 200

// TextMsgType is the msg_type of a text message.
const TextMsgType = 1

// Port is the bridge.QQ port over a *qq.Client.
type Port struct {
	c *qq.Client

	mu sync.Mutex
	// newestFirst records the page order the server was seen to use (nil:
	// not known yet).
	newestFirst *bool
	// tail remembers, per session, the newest message this port returned,
	// so that an oldest-first server can be read from there on.
	tail map[string]tailMark

	// refreshMu serialises refreshes; lastRefreshFail spaces out the
	// attempts after a refused one.
	refreshMu       sync.Mutex
	lastRefreshFail time.Time

	owner ownerCache // the account's nick and avatar (owner.go)
}

// RefreshRetry is the shortest time between two refresh attempts after one
// was refused.
const RefreshRetry = 5 * time.Minute

type tailMark struct {
	id  string
	seq int64
}

var _ bridge.QQ = (*Port)(nil)

// New returns the port over c.
func New(c *qq.Client) *Port {
	return &Port{c: c, tail: map[string]tailMark{}}
}

// Self returns the bridged account.
func (p *Port) Self(ctx context.Context) (bridge.Peer, error) {
	cred := p.c.Credential()
	if cred == nil || cred.MusicID == 0 || cred.MusicKey == "" {
		return bridge.Peer{}, fmt.Errorf("no QQ Music credential: %w", bridge.ErrLoginRequired)
	}
	return bridge.Peer{UIN: strconv.FormatInt(cred.MusicID, 10), EncryptUIN: cred.EncryptUin}, nil
}

func (p *Port) ownUIN() string {
	if cred := p.c.Credential(); cred != nil && cred.MusicID != 0 {
		return strconv.FormatInt(cred.MusicID, 10)
	}
	return ""
}

// withRefresh runs call; when QQ says the credential expired, it refreshes
// the credential once (the first answer to an expiry is always a refresh)
// and runs call again. Only an expiry that a refresh cannot fix becomes
// bridge.ErrLoginRequired.
func (p *Port) withRefresh(ctx context.Context, call func() error) error {
	err := call()
	if err == nil || !errors.Is(err, qq.ErrCredentialExpired) {
		return mapErr(err)
	}
	if rerr := p.refresh(ctx); rerr != nil {
		return fmt.Errorf("%w: %w (refresh: %w)", bridge.ErrLoginRequired, err, rerr)
	}
	return mapErr(call())
}

// refresh renews the credential, at most once per RefreshRetry after a
// refused attempt.
func (p *Port) refresh(ctx context.Context) error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	if !p.lastRefreshFail.IsZero() && time.Since(p.lastRefreshFail) < RefreshRetry {
		return errors.New("the last refresh was refused moments ago")
	}
	if _, err := p.c.RefreshCredential(ctx); err != nil {
		p.lastRefreshFail = time.Now()
		return err
	}
	p.lastRefreshFail = time.Time{}
	return nil
}

// ResetRefresh forgets a refused refresh, for when a new credential was put
// in place.
func (p *Port) ResetRefresh() {
	p.refreshMu.Lock()
	p.lastRefreshFail = time.Time{}
	p.refreshMu.Unlock()
}

// ChangedSessions returns the first page of the session list, then the
// sessions not older than since, newest first (see bridge.QQ).
func (p *Port) ChangedSessions(ctx context.Context, since int64) ([]bridge.Session, error) {
	var out []bridge.Session
	err := p.withRefresh(ctx, func() error {
		var err error
		out, err = p.changedSessions(ctx, since)
		return err
	})
	return out, err
}

// listPages bounds the session-list pages one poll reads.
const listPages = 1000

func (p *Port) changedSessions(ctx context.Context, since int64) ([]bridge.Session, error) {
	var out []bridge.Session
	seen := map[qq.FlexString]bool{}
	params := qq.SessionListParams{}
	for page := range listPages {
		list, err := p.c.GetSessionList(ctx, params)
		if err != nil {
			return nil, err
		}
		more := list.HasMore == 1 && len(list.Sessions) > 0
		fresh := 0
		for _, s := range list.Sessions {
			// The whole first page is returned with its signals (sessions
			// tied with the watermark, or changed without a newer
			// sort_time, are at the top of the list); a later page, read
			// only when the one before ended newer than the watermark, up
			// to the watermark included (>=: sort_times tie).
			if page > 0 && int64(s.SortTime) < since {
				return out, nil
			}
			if s.SessionID == "" || seen[s.SessionID] {
				continue
			}
			seen[s.SessionID] = true
			fresh++
			out = append(out, convSession(s))
		}
		if !more || fresh == 0 {
			return out, nil
		}
		last := list.Sessions[len(list.Sessions)-1]
		if int64(last.SortTime) <= since {
			return out, nil
		}
		params.LastID, params.LastTime = string(last.SessionID), int64(last.SortTime)
	}
	return out, nil
}

// plausibleSince is the earliest time a session's activity is taken to
// be: a sort_time that reads as older is a counter, not a time.
var plausibleSince = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

func convSession(s qq.Session) bridge.Session {
	bs := bridge.Session{ID: string(s.SessionID), Peer: convUser(s.User), SortTime: int64(s.SortTime), NewMsgCnt: int(s.NewMsgCnt)}
	if s.NewMsg != nil {
		bs.NewMsgID = string(s.NewMsg.ID)
		bs.LastActive = unixTime(int64(s.NewMsg.Time))
	}
	if bs.LastActive.IsZero() {
		bs.LastActive = unixTime(int64(s.SortTime))
	}
	if bs.LastActive.Before(plausibleSince) {
		bs.LastActive = time.Time{} // not a time: unknown
	}
	return bs
}

func convUser(u *qq.User) bridge.Peer {
	if u == nil {
		return bridge.Peer{}
	}
	return bridge.Peer{
		UIN:        string(u.Uin),
		EncryptUIN: string(u.EncryptUin),
		Nick:       string(u.Nick),
		AvatarURL:  string(u.Avatar),
	}
}

// fillMedia asks GetMsgDetails for media URLs the list left out.
func (p *Port) fillMedia(ctx context.Context, sessionID string, ids []string, msgs []bridge.Message) {
	det, err := p.c.GetMediaDetails(ctx, sessionID, ids)
	if err != nil || det == nil {
		return // rendered without the URL; the fallback still shows the message
	}
	for i := range msgs {
		m := &msgs[i]
		d, ok := det.MsgIDs[m.ID]
		if !ok || d.MetaData == nil || m.Media == nil {
			continue
		}
		m.Media.URL = firstNonEmpty(string(d.MetaData.URL), string(d.MetaData.Pic))
		if m.Media.Width == 0 {
			m.Media.Width = int(d.MetaData.Width)
			m.Media.Height = int(d.MetaData.Height)
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// convMessage turns a QQ message into the bridge's model. Rendering goes by
// the fields a message carries: the protocol documents only that msg_type
// 2, 3, 5 and 6 are images or videos.
func convMessage(sessionID string, m qq.Message, own string) bridge.Message {
	bm := bridge.Message{
		ID:        string(m.ID),
		SessionID: sessionID,
		Sequence:  int64(m.Sequence),
		Time:      unixTime(int64(m.Time)),
		Sender:    convUser(m.FromUser),
		ClientKey: string(m.ClientKey),
		Type:      int(m.MsgType),
	}
	bm.FromOwner = own != "" && bm.Sender.UIN == own
	md := m.MetaData
	if md == nil {
		md = &qq.MetaData{}
	}
	content := string(md.Content)
	switch {
	case m.IsMedia():
		bm.Kind = bridge.KindImage
		if md.Duration > 0 || isVideoURL(string(md.URL)) {
			bm.Kind = bridge.KindVideo
		}
		url := string(md.URL)
		if bm.Kind == bridge.KindImage {
			url = firstNonEmpty(string(md.Pic), string(md.URL))
		}
		bm.Media = &bridge.Media{
			URL: url, Width: int(md.Width), Height: int(md.Height),
			Duration: time.Duration(md.Duration) * time.Second, Size: int64(md.Size),
		}
		bm.Text = content
	case md.Title != "" || (md.URL != "" && int(m.MsgType) != TextMsgType):
		bm.Kind = bridge.KindCard
		bm.Card = &bridge.Card{Title: string(md.Title), Description: content, CoverURL: string(md.Pic), URL: string(md.URL)}
		bm.Fields = unknownFields(m, md) // what else it carried (biz_id, biz_type, ...), shown beside it
	case int(m.MsgType) == TextMsgType || (int(m.MsgType) == 0 && content != ""):
		bm.Kind = bridge.KindText
		bm.Text = content
	default:
		bm.Kind = bridge.KindUnknown
		bm.Text = content
		bm.Fields = unknownFields(m, md)
	}
	return bm
}

// unknownFields lists what an undocumented message carries, so that it can
// be shown rather than dropped.
func unknownFields(m qq.Message, md *qq.MetaData) []bridge.Field {
	fs := []bridge.Field{{Name: "msg_type", Value: strconv.FormatInt(int64(m.MsgType), 10)}}
	add := func(name, v string) {
		if v != "" && v != "0" {
			fs = append(fs, bridge.Field{Name: name, Value: v})
		}
	}
	add("title", string(md.Title))
	add("content", string(md.Content))
	add("pic", string(md.Pic))
	add("url", string(md.URL))
	add("biz_id", string(md.BizID))
	add("biz_type", strconv.FormatInt(int64(md.BizType), 10))
	add("tips", string(m.Tips))
	return fs
}

func unixTime(v int64) time.Time {
	switch {
	case v <= 0:
		return time.Time{}
	case v > 1e12: // milliseconds
		return time.UnixMilli(v)
	default:
		return time.Unix(v, 0)
	}
}

// SendText sends a text message and returns its QQ id when the reply names
// it. Its errors are classified (see sendOutcome): permanent for what QQ
// refuses for good, ambiguous when the message may have been sent.
func (p *Port) SendText(ctx context.Context, s bridge.OutgoingText) (string, error) {
	if strings.TrimSpace(s.Text) == "" {
		return "", bridge.Permanent(errors.New("refusing to send an empty message to QQ Music"))
	}
	if n := len([]rune(s.Text)); n > MaxTextLen {
		return "", bridge.Permanent(fmt.Errorf("message of %d characters is longer than the %d QQ Music takes", n, MaxTextLen))
	}
	var res *qq.SendResult
	err := p.withRefresh(ctx, func() error {
		var err error
		res, err = p.c.SendMessage(ctx, qq.SendMessageParams{
			UserID:    s.PeerUIN,
			SessionID: s.SessionID,
			MsgType:   TextMsgType,
			MetaData:  qq.TextMetaData(s.Text),
			ClientKey: s.ClientKey,
		})
		return err
	})
	if err != nil {
		return "", sendOutcome(err)
	}
	if res != nil {
		for _, m := range res.Messages {
			if string(m.ClientKey) == s.ClientKey && m.ID != "" {
				return string(m.ID), nil
			}
		}
	}
	return "", nil
}

// FindSent looks for clientKey among a session's newest messages.
func (p *Port) FindSent(ctx context.Context, sessionID, clientKey string) (string, bool, error) {
	var id string
	var found bool
	err := p.withRefresh(ctx, func() error {
		var err error
		id, found, err = p.findSent(ctx, sessionID, clientKey)
		return err
	})
	return id, found, err
}

func (p *Port) findSent(ctx context.Context, sessionID, clientKey string) (string, bool, error) {
	p.mu.Lock()
	nf := p.newestFirst
	start := p.tail[sessionID]
	p.mu.Unlock()
	if nf == nil {
		nf = p.learnOrder(ctx, sessionID)
	}
	oldestFirst := nf != nil && !*nf
	params := qq.MessagesParams{SessionID: sessionID}
	if oldestFirst && start.id != "" {
		// Oldest first: a sent message comes after the newest one read.
		params.LastID = start.id
	}
	n := 0
	var found string
	for m, err := range p.c.Messages(ctx, params) {
		if err != nil {
			var apiErr *qq.APIError
			if params.LastID != "" && n == 0 && errors.As(err, &apiErr) {
				// The newest message read is gone: look from the start.
				p.mu.Lock()
				delete(p.tail, sessionID)
				p.mu.Unlock()
				return p.findSent(ctx, sessionID, clientKey)
			}
			return "", false, err
		}
		if string(m.ClientKey) == clientKey {
			found = string(m.ID)
			if found == "" {
				found = "?"
			}
			break
		}
		n++
		if n >= findSentScan {
			if oldestFirst {
				// Cut short before the newest messages: not found is not
				// known.
				return "", false, fmt.Errorf("look for a sent message in session %s: the newest messages are more than %d away; try again after the next read of the session", sessionID, findSentScan)
			}
			break
		}
	}
	if found == "?" {
		return "", true, nil
	}
	return found, found != "", nil
}

// MaxTextLen is the longest text one QQ message takes.
func (p *Port) MaxTextLen() int { return MaxTextLen }

// mapErr maps qq's typed errors onto the bridge's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, qq.ErrCredentialExpired), errors.Is(err, qq.ErrCredentialRequired):
		return fmt.Errorf("%w: %w", bridge.ErrLoginRequired, err)
	case errors.Is(err, qq.ErrRateLimited):
		return fmt.Errorf("%w: %w", bridge.ErrRateLimited, err)
	}
	return err
}

// isVideoURL tells a video by its file extension.
func isVideoURL(u string) bool {
	u = strings.ToLower(u)
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	for _, ext := range []string{".mp4", ".mov", ".m4v", ".webm", ".3gp"} {
		if strings.HasSuffix(u, ext) {
			return true
		}
	}
	return false
}
