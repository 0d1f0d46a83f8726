package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrSeveralSessions means a QQ nick names more than one session.
var ErrSeveralSessions = errors.New("several sessions match")

// OpenSession gives a session its Discord channel now, whether it never
// had one or its channel was archived: who is the peer's QQ number or
// nick. Its messages are read as for any changed session (a session read
// for the first time gets the usual backfill) and posted in order.
func (e *Engine) OpenSession(ctx context.Context, who string) (BridgedSession, error) {
	who = strings.TrimSpace(who)
	if who == "" {
		return BridgedSession{}, errors.New("name the session by its QQ number or nick")
	}
	ss, err := e.st.SessionsOfPeer(ctx, who)
	if err != nil {
		return BridgedSession{}, err
	}
	switch {
	case len(ss) == 0:
		return BridgedSession{}, fmt.Errorf("%w: no QQ Music session with %q (a QQ number or nick) is known to the bridge; it learns a session from the session list once it changed", ErrUnknownSession, who)
	case len(ss) > 1:
		var names []string
		for _, s := range ss {
			names = append(names, fmt.Sprintf("%s (%s)", s.Peer.Nick, s.Peer.UIN))
		}
		return BridgedSession{}, fmt.Errorf("%w %q: %s; give the QQ number", ErrSeveralSessions, who, strings.Join(names, ", "))
	}
	id := ss[0].ID
	if err := e.syncSession(ctx, id); err != nil {
		return BridgedSession{}, fmt.Errorf("open session %s: %w", id, err)
	}
	kick(e.kickDeliver)
	s, _, err := e.st.Session(ctx, id)
	if err != nil {
		return BridgedSession{}, err
	}
	return bridgedSession(s), nil
}
