package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// ErrNoRoom (wrapped) from EnsureChannel means Discord has no room for
// another channel (its 500 channels per server): the engine archives the
// least recently active session to make room (archive.go), or, without an
// archive place, the delivery waits (held) until there is room.
var ErrNoRoom = errors.New("no room for another Discord channel")

// ensureChannelRoom ensures a session's channel, archiving the least
// recently active other session when Discord has no room, then trying
// once more. A delivery that still finds no room is held, never parked.
func (e *Engine) ensureChannelRoom(ctx context.Context, s store.Session, force bool) (ChannelRef, error) {
	ref, err := e.ensureChannel(ctx, s, force)
	if !errors.Is(err, ErrNoRoom) {
		return ref, err
	}
	if rerr := e.makeRoom(ctx, s.ID); rerr != nil {
		return ref, Held(fmt.Errorf("%w (making room: %v)", err, rerr))
	}
	ref, err = e.ensureChannel(ctx, s, force)
	if errors.Is(err, ErrNoRoom) {
		err = Held(err)
	}
	return ref, err
}

// makeRoom finishes the archives left open, then archives the least
// recently active bridged session other than except whose channel no
// delivery is using.
func (e *Engine) makeRoom(ctx context.Context, except string) error {
	if _, _, err := e.archiver(); err != nil {
		return err
	}
	if done, err := e.ResumeArchives(ctx); err != nil {
		return err
	} else if len(done) > 0 {
		return nil
	}
	ss, err := e.st.LeastActiveBridged(ctx, 8)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if s.ID == except {
			continue
		}
		gate := e.arch.of(s.ID)
		if !gate.TryLock() {
			continue // a delivery is posting there: it is active
		}
		_, err := e.beginArchive(ctx, s, "the server nears Discord's channel limit")
		gate.Unlock()
		return err
	}
	return errors.New("no other session's channel can be archived now")
}

// resumeArchivesAtStart finishes the archives a crash left open before
// anything is delivered (a failure is logged; making room, or /archive of
// the session, tries again).
func (e *Engine) resumeArchivesAtStart(ctx context.Context) {
	done, err := e.ResumeArchives(ctx)
	if err != nil {
		e.log.Warn("bridge: an archive left open could not be finished yet", "err", err)
	}
	if len(done) > 0 {
		e.log.Info("bridge: finished archives left open", "archived", len(done))
	}
}
