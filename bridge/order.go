package bridge

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// sessionOrder sorts messages oldest first: by sequence where a message
// has one; a message without sequence (absent or 0) keeps its place after
// the sequenced message before it in the order given (the port's, which
// follows the server's pages). Time is not used: it ties within a second.
func sessionOrder(msgs []Message) []Message {
	type key struct {
		seq  int64
		tail int
		pos  int
	}
	keys := make(map[string]key, len(msgs))
	prev := int64(0)
	for i, m := range msgs {
		if m.Sequence > 0 {
			keys[m.ID] = key{m.Sequence, 0, i}
			prev = max(prev, m.Sequence)
		} else {
			keys[m.ID] = key{prev, 1, i}
		}
	}
	out := append([]Message(nil), msgs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := keys[out[i].ID], keys[out[j].ID]
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		if a.tail != b.tail {
			return a.tail < b.tail
		}
		return a.pos < b.pos
	})
	return out
}

// restarted reports whether msgs are a conversation that was deleted and
// started again: one of them, not known, has a sequence the session had
// already reached.
func (e *Engine) restarted(ctx context.Context, sessionID string, msgs []Message) (bool, error) {
	s, ok, err := e.st.Session(ctx, sessionID)
	if err != nil || !ok || !s.Backfilled {
		return false, err
	}
	for _, m := range msgs {
		if m.Sequence <= 0 || m.Sequence > s.LastSeq {
			continue
		}
		if _, known, err := e.st.KnownMessage(ctx, sessionID, m.ID); err != nil || !known {
			return err == nil, err
		}
	}
	return false, nil
}

// restartNotice is the line a session channel gets when its conversation
// was deleted and started again.
const restartNotice = "ℹ️ This QQ Music conversation was deleted and started again: the messages below are the new conversation."

// noticeRestart reports whether msgs are a conversation started again
// and, if so, posts restartNotice into the session's channel, once, before
// its messages are queued.
func (e *Engine) noticeRestart(ctx context.Context, s store.Session, msgs []Message) (bool, error) {
	if len(msgs) == 0 || s.Channel.ChannelID == "" {
		return false, nil
	}
	restarted, err := e.restarted(ctx, s.ID, msgs)
	if err != nil || !restarted {
		return false, err
	}
	sum := sha1.Sum([]byte(s.ID + "\x00" + s.LastMsgID))
	nonce := "rs" + hex.EncodeToString(sum[:])[:23]
	if _, err := e.dc.PostNotice(ctx, fromStoreChannel(s.Channel), nonce, restartNotice); err != nil {
		return false, fmt.Errorf("post the notice of session %s's re-created conversation: %w", s.ID, err)
	}
	e.log.Info("bridge: conversation re-created by QQ; new messages relayed", "session", s.ID)
	return true, nil
}
