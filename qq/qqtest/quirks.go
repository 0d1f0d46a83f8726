package qqtest

import "fmt"

// Quirks are behaviours of the real service that the protocol allows and
// the double does not show unless told: the session list and message pages
// break the assumptions a client might make about sort_time and sequence.
// The zero value (the default) keeps every assumption.
type Quirks struct {
	// CoarseSortTime makes sort_time whole unix seconds, not strictly
	// increasing: sessions changed within the same second tie.
	CoarseSortTime bool
	// LazySortTimeEvery leaves sort_time as it was for every Nth new
	// message of the server (0: off): the session changes without moving.
	LazySortTimeEvery int
	// NoSequenceEvery sends every Nth new message of the server without a
	// "sequence" field (0: off).
	NoSequenceEvery int
	// ZeroSequenceEvery sends every Nth new message with "sequence": 0
	// (0: off).
	ZeroSequenceEvery int
	// RecreateResetsSequence makes a session deleted by its peer (see
	// DeleteSession) come back under the same id with sequences from 1
	// when the peer writes again.
	RecreateResetsSequence bool
	// RepeatPageEdge starts every next page (of the session list and of a
	// session's messages) with the previous page's last item.
	RepeatPageEdge bool
}

// SetQuirks sets the quirks the server shows from now on.
func (s *Server) SetQuirks(q Quirks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quirks = q
}

// DeleteSession deletes a session as its peer's side would: it leaves the
// list with its messages; a later Deliver brings it back under the same
// id (see Quirks.RecreateResetsSequence).
func (s *Server) DeleteSession(sessionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[sessionID]
	if !ok || ss.deleted {
		return fmt.Errorf("qqtest: DeleteSession: no live session %q", sessionID)
	}
	ss.deleted = true
	for _, m := range ss.msgs {
		m.Deleted = true
	}
	ss.unread = 0
	if s.quirks.RecreateResetsSequence {
		ss.nextSeq = 1
	}
	s.notifyLocked()
	return nil
}

// quirkMessageLocked applies the per-message quirks to a message being
// appended (the server's nth message) and says whether it bumps sort_time.
func (s *Server) quirkMessageLocked(m *Message, nth int64) (bump bool) {
	q := s.quirks
	if q.NoSequenceEvery > 0 && nth%int64(q.NoSequenceEvery) == 0 {
		m.noSeq = true
	} else if q.ZeroSequenceEvery > 0 && nth%int64(q.ZeroSequenceEvery) == 0 {
		m.zeroSeq = true
	}
	return !(q.LazySortTimeEvery > 0 && nth%int64(q.LazySortTimeEvery) == 0)
}

// wireSequence puts a message's sequence on the wire as the quirks say.
func wireSequence(w map[string]any, m *Message) {
	switch {
	case m.noSeq:
		delete(w, "sequence")
	case m.zeroSeq:
		w["sequence"] = 0
	}
}

// pageEdge is where the page after the item at index i starts.
func (s *Server) pageEdge(i int) int {
	if s.quirks.RepeatPageEdge && i > 0 {
		return i - 1
	}
	return i
}
