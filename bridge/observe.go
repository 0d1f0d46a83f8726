package bridge

import "time"

// Direction is which way a message is relayed.
type Direction string

const (
	// ToDiscord is a QQ message posted into its session channel.
	ToDiscord Direction = "to_discord"
	// ToQQ is a member's reply sent to QQ.
	ToQQ Direction = "to_qq"
)

// Outcome is what became of one relayed message.
type Outcome string

const (
	// OutcomeDelivered: the message reached the other side.
	OutcomeDelivered Outcome = "delivered"
	// OutcomeReconciled: an attempt made before a crash or a lost answer
	// had in fact delivered it; it was recorded, not sent again.
	OutcomeReconciled Outcome = "reconciled"
	// OutcomeRetry: the attempt failed and will be retried.
	OutcomeRetry Outcome = "retry"
	// OutcomeFailed: the bridge gave up after too many attempts (the
	// entry is parked).
	OutcomeFailed Outcome = "failed"
	// OutcomeParked: the other side refused it for good; the entry is
	// parked until an admin retries or skips it.
	OutcomeParked Outcome = "parked"
	// OutcomeAmbiguous: the attempt may have happened; it is reconciled
	// before any second attempt.
	OutcomeAmbiguous Outcome = "ambiguous"
	// OutcomeRefused: the message cannot be relayed (too long, empty).
	OutcomeRefused Outcome = "refused"
)

// Observer receives measurements for metrics. Its methods are called from
// the engine's goroutines and must be quick and safe for concurrent use.
type Observer interface {
	// Relayed counts one delivery attempt's outcome.
	Relayed(dir Direction, outcome Outcome)
	// PollDone reports one session-list poll and how long it took.
	PollDone(d time.Duration, err error)
	// RelayLatency is the time from the message's creation (QQ time, or
	// Discord time) to its delivery.
	RelayLatency(dir Direction, d time.Duration)
}

// NopObserver is an Observer that ignores everything.
type NopObserver struct{}

func (NopObserver) Relayed(Direction, Outcome)            {}
func (NopObserver) PollDone(time.Duration, error)         {}
func (NopObserver) RelayLatency(Direction, time.Duration) {}

// EventKind says what an Event is about.
type EventKind int

const (
	// EventLoginNeeded: QQ refused the credential; polling and sending
	// are paused (deliveries stay queued) until CredentialRenewed.
	EventLoginNeeded EventKind = iota + 1
	// EventLoginRestored: CredentialRenewed was called; relaying resumes.
	EventLoginRestored
	// EventSessionBridged: a session got its Discord channel.
	EventSessionBridged
	// EventDeliveryFailed: the engine gave up on a delivery.
	EventDeliveryFailed
	// EventRiskControl: QQ Music's risk control (code 2001) has refused
	// calls for RiskNoticeAfter; Detail is the verification page it named
	// (data.feedbackURL), or "". Emitted once per streak.
	EventRiskControl
	// EventRiskControlCleared: QQ accepted a call again after an
	// EventRiskControl; Detail is how long the refusals lasted.
	EventRiskControlCleared
	// EventSessionArchived: a session's channel was archived (archive.go);
	// Detail says which and why.
	EventSessionArchived
)

func (k EventKind) String() string {
	switch k {
	case EventLoginNeeded:
		return "login needed"
	case EventLoginRestored:
		return "login restored"
	case EventSessionBridged:
		return "session bridged"
	case EventDeliveryFailed:
		return "delivery failed"
	case EventRiskControl:
		return "risk control"
	case EventRiskControlCleared:
		return "risk control cleared"
	case EventSessionArchived:
		return "session archived"
	default:
		return "unknown event"
	}
}

// Event is something the admin channel may want to tell the operator.
type Event struct {
	Kind      EventKind
	Time      time.Time
	SessionID string
	// Detail says more: the error, the peer's name, ...
	Detail string
}

// Clock tells the time. Tests inject a controllable one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
