package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// archiveIdle archives the sessions idle for ArchiveAfter (their last
// activity, QQ's sort_time, is older), least recently active first, a few
// per call. It returns how many it archived.
func (e *Engine) archiveIdle(ctx context.Context) (int, error) {
	if e.cfg.ArchiveAfter <= 0 || e.cfg.ArchivePlace == nil {
		return 0, nil
	}
	cutoff := e.now().Add(-e.cfg.ArchiveAfter)
	ss, err := e.st.LeastActiveBridged(ctx, 8)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range ss {
		if at := activityTime(s.SortTime); at.IsZero() || !at.Before(cutoff) {
			break // the others are more recent
		}
		gate := e.arch.of(s.ID)
		if !gate.TryLock() {
			continue // a delivery is posting there right now
		}
		_, err := e.beginArchive(ctx, s, fmt.Sprintf("idle for over %s", e.cfg.ArchiveAfter))
		gate.Unlock()
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// activityTime reads QQ's sort_time (seconds or milliseconds).
func activityTime(v int64) time.Time {
	switch {
	case v <= 0:
		return time.Time{}
	case v > 1e12:
		return time.UnixMilli(v)
	default:
		return time.Unix(v, 0)
	}
}

// archiveLoop archives idle sessions now and then (ArchiveAfter > 0).
func (e *Engine) archiveLoop(ctx context.Context) {
	if e.cfg.ArchiveAfter <= 0 || e.cfg.ArchivePlace == nil {
		return
	}
	every := min(max(e.cfg.ArchiveAfter/10, time.Minute), 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			n, err := e.archiveIdle(ctx)
			if err != nil {
				e.log.Warn("bridge: could not archive an idle session; trying again later", "err", err)
			}
			if err != nil || n == 0 {
				break
			}
		}
	}
}
