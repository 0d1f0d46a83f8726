package qqport

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// ScanPages is the most message pages one read of a session takes (at the
// server's default 50 a page, 5,000 messages): a read position lost on an
// oldest-first server, or a long re-created conversation, costs at most
// this, never the whole history.
const ScanPages = 100

// Messages returns the messages of a session newer than after, in
// session order (see bridge.QQ).
func (p *Port) Messages(ctx context.Context, sessionID string, after bridge.ReadPos, max int) ([]bridge.Message, error) {
	var raw []qq.Message
	var newestFirst bool
	err := p.withRefresh(ctx, func() error {
		var err error
		raw, newestFirst, err = p.read(ctx, sessionID, after, max)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := sessionOrder(raw, newestFirst)
	out = newerThan(out, after)
	if max > 0 && len(out) > max {
		out = out[len(out)-max:]
	}
	if len(out) > 0 && out[len(out)-1].ID != "" {
		p.mu.Lock()
		p.tail[sessionID] = tailMark{id: string(out[len(out)-1].ID), seq: int64(out[len(out)-1].Sequence)}
		p.mu.Unlock()
	}
	res := make([]bridge.Message, 0, len(out))
	own := p.ownUIN()
	var needDetails []string
	for _, m := range out {
		bm := convMessage(sessionID, m, own)
		if (bm.Kind == bridge.KindImage || bm.Kind == bridge.KindVideo) && bm.Media != nil && bm.Media.URL == "" {
			needDetails = append(needDetails, bm.ID)
		}
		res = append(res, bm)
	}
	if len(needDetails) > 0 {
		p.fillMedia(ctx, sessionID, needDetails, res)
	}
	p.fillOwner(ctx, res)
	return res, nil
}

// read pages through a session's messages until the read position (or
// max messages, or ScanPages pages) is covered, whichever order the server
// pages in. It returns the messages in the server's order and that order.
func (p *Port) read(ctx context.Context, sessionID string, after bridge.ReadPos, limit int) ([]qq.Message, bool, error) {
	p.mu.Lock()
	order := p.newestFirst
	p.mu.Unlock()

	params := qq.MessagesParams{SessionID: sessionID}
	// An oldest-first server is read from the read position on, not from
	// the start of the history.
	jumped, mayJump := false, after.MsgID != ""
	if order != nil && !*order && mayJump {
		params.LastID, jumped, mayJump = after.MsgID, true, false
	}
	var got []qq.Message
	seen := map[qq.FlexString]bool{}
	var newestSeq int64 = -1
	older := 0
	for range ScanPages {
		page, err := p.c.GetMessages(ctx, params)
		if err != nil {
			var apiErr *qq.APIError
			if jumped && errors.As(err, &apiErr) {
				// The read position's message is gone (deleted, or the
				// conversation started again): read from the start.
				params.LastID, jumped = "", false
				got, seen = nil, map[qq.FlexString]bool{}
				continue
			}
			return nil, false, err
		}
		fresh := 0
		reached := false
		for _, m := range page.Messages {
			if m.ID != "" {
				if seen[m.ID] {
					continue
				}
				seen[m.ID] = true
			}
			fresh++
			got = append(got, m)
			if after.MsgID != "" && string(m.ID) == after.MsgID {
				reached = true
			}
		}
		if order == nil {
			if nf, ok := pageOrder(page.Messages); ok {
				order = &nf
				p.mu.Lock()
				p.newestFirst = order
				p.mu.Unlock()
			}
		}
		newestFirst := order == nil || *order
		if newestFirst {
			for _, m := range page.Messages {
				seq := int64(m.Sequence)
				if seq <= 0 {
					continue // no sequence: says nothing about where the read is
				}
				newestSeq = max(newestSeq, seq)
				if after.Seq > 0 && seq <= after.Seq {
					older++
				}
			}
			switch {
			case reached:
				return got, true, nil
			// Without a message to stop at, two messages at or below the
			// position's sequence, and the newest not below it: the rest
			// is older. (With one, its absence means it was deleted or the
			// conversation started again: sequences say nothing then.)
			case after.MsgID == "" && older >= 2 && newestSeq >= after.Seq && after.Seq > 0:
				return got, true, nil
			case limit > 0 && len(got) >= limit+1:
				return got, true, nil
			}
		} else if mayJump && !reached && len(got) > 0 {
			// Oldest first, from the start: go to the read position; what
			// was read is older than it.
			params.LastID, jumped, mayJump = after.MsgID, true, false
			got = nil
			continue
		}
		if page.HasMore != 1 || len(page.Messages) == 0 || fresh == 0 {
			return got, newestFirst, nil
		}
		last := page.Messages[len(page.Messages)-1]
		if last.ID == "" {
			return nil, false, &qq.MalformedResponseError{What: "GetMessage page says has_more but its last message has no id"}
		}
		params.LastID = string(last.ID)
	}
	nf := order == nil || *order
	if !nf {
		// Oldest first and cut short: what was read is not the newest.
		return nil, false, fmt.Errorf("session %s: the newest messages are more than %d pages away from the read position; read the rest with a resync", sessionID, ScanPages)
	}
	return got, nf, nil
}

// pageOrder tells the server's page order from a page: by sequences where
// two messages have one, else by times.
func pageOrder(msgs []qq.Message) (newestFirst bool, ok bool) {
	cmp := func(key func(qq.Message) int64) (bool, bool) {
		prev := int64(-1)
		for _, m := range msgs {
			v := key(m)
			if v <= 0 {
				continue
			}
			if prev > 0 && v != prev {
				return v < prev, true
			}
			prev = v
		}
		return false, false
	}
	if nf, ok := cmp(func(m qq.Message) int64 { return int64(m.Sequence) }); ok {
		return nf, true
	}
	return cmp(func(m qq.Message) int64 { return int64(m.Time) })
}

// sessionOrder returns msgs (in the server's order) oldest first: by
// sequence where a message has one; a message without sequence keeps its
// place after the sequenced message before it in the server's order (its
// arrival); time is not used, as it ties within a second.
func sessionOrder(msgs []qq.Message, newestFirst bool) []qq.Message {
	n := len(msgs)
	chrono := make([]qq.Message, n)
	for i, m := range msgs {
		if newestFirst {
			chrono[n-1-i] = m
		} else {
			chrono[i] = m
		}
	}
	type key struct {
		seq  int64
		tail int
		pos  int
	}
	keys := make([]key, n)
	prev := int64(0)
	for i, m := range chrono {
		if s := int64(m.Sequence); s > 0 {
			keys[i] = key{s, 0, i}
			prev = max(prev, s)
		} else {
			keys[i] = key{prev, 1, i}
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		if ka.seq != kb.seq {
			return ka.seq < kb.seq
		}
		if ka.tail != kb.tail {
			return ka.tail < kb.tail
		}
		return ka.pos < kb.pos
	})
	out := make([]qq.Message, n)
	for i, j := range idx {
		out[i] = chrono[j]
	}
	return out
}

// newerThan drops what is not newer than the read position: everything up
// to its message when it is there (when it is not, it was deleted or the
// conversation started again, and everything read is returned for the
// engine to de-duplicate by id); without one, the sequenced messages at or
// below its sequence, unless the newest sequence is below it.
func newerThan(msgs []qq.Message, after bridge.ReadPos) []qq.Message {
	if after.MsgID != "" {
		for i, m := range msgs {
			if string(m.ID) == after.MsgID {
				return msgs[i+1:]
			}
		}
		return msgs
	}
	if after.Seq <= 0 {
		return msgs
	}
	var newest int64
	for _, m := range msgs {
		newest = max(newest, int64(m.Sequence))
	}
	if newest < after.Seq {
		return msgs
	}
	out := msgs[:0:0]
	for _, m := range msgs {
		if s := int64(m.Sequence); s <= 0 || s > after.Seq {
			out = append(out, m)
		}
	}
	return out
}

// learnOrder reads a session's first page to tell the server's page order
// when it is not known yet (nil when the page does not tell).
func (p *Port) learnOrder(ctx context.Context, sessionID string) *bool {
	page, err := p.c.GetMessages(ctx, qq.MessagesParams{SessionID: sessionID})
	if err != nil {
		return nil
	}
	nf, ok := pageOrder(page.Messages)
	if !ok {
		return nil
	}
	p.mu.Lock()
	p.newestFirst = &nf
	p.mu.Unlock()
	return &nf
}
