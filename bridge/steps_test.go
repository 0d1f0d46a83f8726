package bridge

import (
	"context"
	"errors"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
)

// The crash tests kill the bridge at step boundaries. The engine knows
// nothing of it: the store and the ports it is given are wrapped so that a
// hook runs at each boundary, and an error from the hook aborts the step
// as if the process died there. Exported for the external tests of this
// directory (package bridge_test), which use the real adapters.
//
// The boundaries: "before-observe-commit" and "after-observe-commit"
// (recording the messages read from a session), "before-attempt" (before
// an attempt is recorded), "before-delivery" and "after-delivery" (around
// a post or a send), "after-ensure-channel" (a channel made, not yet
// recorded).

// ErrSimulatedCrash is what a hook returns to abandon a step.
var ErrSimulatedCrash = errors.New("simulated crash")

// WithStepHook wraps a store and the ports so that hook runs at each step
// boundary. hook must be safe for concurrent use.
func WithStepHook(st Store, q QQ, d Discord, hook func(point string) error) (Store, QQ, Discord) {
	return stepStore{st, hook}, stepQQ{q, hook}, stepDiscord{d, hook}
}

type stepStore struct {
	Store
	hook func(string) error
}

func (s stepStore) MarkAttempt(ctx context.Context, id int64) error {
	if err := s.hook("before-attempt"); err != nil {
		return err
	}
	return s.Store.MarkAttempt(ctx, id)
}

func (s stepStore) MarkAttemptSent(ctx context.Context, id int64, sent []byte) error {
	if err := s.hook("before-attempt"); err != nil {
		return err
	}
	return s.Store.MarkAttemptSent(ctx, id, sent)
}

func (s stepStore) RecordObserved(ctx context.Context, sessionID string, msgs []store.Observed, cursor store.Cursor, clearDirty bool) (store.ObserveResult, error) {
	if err := s.hook("before-observe-commit"); err != nil {
		return store.ObserveResult{}, err
	}
	res, err := s.Store.RecordObserved(ctx, sessionID, msgs, cursor, clearDirty)
	if err != nil {
		return res, err
	}
	if err := s.hook("after-observe-commit"); err != nil {
		return store.ObserveResult{}, err
	}
	return res, nil
}

type stepQQ struct {
	QQ
	hook func(string) error
}

func (q stepQQ) SendText(ctx context.Context, s OutgoingText) (string, error) {
	if err := q.hook("before-delivery"); err != nil {
		return "", err
	}
	id, err := q.QQ.SendText(ctx, s)
	if herr := q.hook("after-delivery"); herr != nil {
		return "", herr
	}
	return id, err
}

type stepDiscord struct {
	Discord
	hook func(string) error
}

func (d stepDiscord) Post(ctx context.Context, ch ChannelRef, m Rendered) ([]string, error) {
	if err := d.hook("before-delivery"); err != nil {
		return nil, err
	}
	ids, err := d.Discord.Post(ctx, ch, m)
	if herr := d.hook("after-delivery"); herr != nil {
		return nil, herr
	}
	return ids, err
}

func (d stepDiscord) EnsureChannel(ctx context.Context, s Session, have *ChannelRef) (ChannelRef, error) {
	ref, err := d.Discord.EnsureChannel(ctx, s, have)
	if err != nil {
		return ref, err
	}
	if herr := d.hook("after-ensure-channel"); herr != nil {
		return ChannelRef{}, herr
	}
	return ref, nil
}

// WithArchiveStepHook wraps an archive place so that hook runs at its
// step boundary "after-opening-notice" (a re-opened session's notice
// posted into its fresh channel, the channel not yet recorded).
func WithArchiveStepHook(p ArchivePlace, hook func(point string) error) ArchivePlace {
	return stepPlace{p, hook}
}

type stepPlace struct {
	ArchivePlace
	hook func(string) error
}

func (p stepPlace) PostOpening(ctx context.Context, ch ChannelRef, nonce, text string) (string, error) {
	id, err := p.ArchivePlace.PostOpening(ctx, ch, nonce, text)
	if herr := p.hook("after-opening-notice"); herr != nil {
		return "", herr
	}
	return id, err
}
