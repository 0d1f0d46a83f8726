// Package admin runs the bridge's admin channel (discord.admin_channel_id):
// it logs the QQ Music account in by posting the login QR code there as one
// message and editing that message through every state of the login, keeps
// the credential alive (refreshing it well before it expires, and noticing
// a credential that appears some other way), and answers the admin slash
// commands (/login, /login-phone, /logout, /status, /sessions, /pause,
// /resume, /resync, /outbox, /retry, /skip).
//
// It knows QQ Music, Discord and the engine only through the small ports
// below; bridge/qqport and package discord implement them, cmd/bridge wires
// them together.
package admin

import (
	"context"
	"errors"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Account is the QQ Music account the bridge is logged in as.
type Account struct {
	// UIN is the account's musicid.
	UIN string
	// Nick is its display name, "" when QQ Music did not say.
	Nick string
	// Expires is when the login expires, zero when unknown.
	Expires time.Time
	// SaveErr, after a login, says the login works but the credential
	// file could not be written: it is lost at the next restart.
	SaveErr error
}

// Name is "nick (uin)", or the uin alone when the nick is unknown.
func (a Account) Name() string {
	if a.Nick == "" {
		return a.UIN
	}
	return a.Nick + " (" + a.UIN + ")"
}

// LoginState is where a QR login stands.
type LoginState int

// The states of a QR login.
const (
	// LoginWaiting: the QR code is shown; the first event carries it.
	LoginWaiting LoginState = iota + 1
	// LoginScanned: scanned; waiting for the confirmation on the phone.
	LoginScanned
	// LoginConfirmed: confirmed; the credential is being fetched.
	LoginConfirmed
	// LoginRefused: the user refused on the phone. Terminal.
	LoginRefused
	// LoginExpired: the QR code expired. Terminal.
	LoginExpired
	// LoginDone: logged in; the credential is in use and saved. Terminal.
	LoginDone
	// LoginFailed: the login broke; Err says why. Terminal.
	LoginFailed
)

func (s LoginState) String() string {
	switch s {
	case LoginWaiting:
		return "waiting"
	case LoginScanned:
		return "scanned"
	case LoginConfirmed:
		return "confirmed"
	case LoginRefused:
		return "refused"
	case LoginExpired:
		return "expired"
	case LoginDone:
		return "done"
	case LoginFailed:
		return "failed"
	}
	return "unknown"
}

// LoginEvent is one step of a QR login.
type LoginEvent struct {
	State LoginState
	// Image and MIME are the QR code, on the first (LoginWaiting) event;
	// Expires is when the code stops working (zero: unknown).
	Image   []byte
	MIME    string
	Expires time.Time
	// Account is set on LoginDone.
	Account Account
	// Err is set on LoginFailed.
	Err error
}

// PhoneCodeStatus is the outcome of asking for an SMS code.
type PhoneCodeStatus int

// The outcomes of SendPhoneCode.
const (
	PhoneCodeSent PhoneCodeStatus = iota + 1
	// PhoneCodeCaptcha: a security check must be passed at SecurityURL first.
	PhoneCodeCaptcha
	// PhoneCodeTooFrequent: codes were asked for too often; wait.
	PhoneCodeTooFrequent
)

// PhoneCode is SendPhoneCode's answer.
type PhoneCode struct {
	Status      PhoneCodeStatus
	SecurityURL string
}

// QQ is the QQ Music login side. bridge/qqport implements it over a
// *qq.Client.
type QQ interface {
	// Account returns the account of the credential in use; ok is false
	// when there is none.
	Account() (a Account, ok bool)
	// Describe asks QQ Music for the account's nick (best effort: on error
	// the account is returned as Account gives it).
	Describe(ctx context.Context) Account
	// StartQRLogin starts a QR login with method "mobile", "qq" or "wx".
	// When the channel delivers LoginDone the new credential is already in
	// use and saved. The channel is closed after a terminal event or when
	// ctx ends.
	StartQRLogin(ctx context.Context, method string) (<-chan LoginEvent, error)
	// SendPhoneCode texts a verification code to phone (digits; area is
	// the calling code without "+").
	SendPhoneCode(ctx context.Context, area, phone string) (PhoneCode, error)
	// PhoneLogin logs in with the code; on success the credential is in
	// use and saved.
	PhoneLogin(ctx context.Context, area, phone, code string) (Account, error)
	// Logout ends the login on QQ Music's side, then forgets the
	// credential, in memory and on disk. The credential is forgotten even
	// when QQ Music did not confirm the logout: the error then wraps
	// ErrServerLogout.
	Logout(ctx context.Context) error
	// Reload adopts the credential file when it changed since the last look
	// and holds a login other than the one in use (written by `bridge
	// login` or by hand). It reports whether it did.
	Reload(ctx context.Context) (bool, error)
	// Check reports whether the credential in use works, refreshing it when
	// it is due or refused; nil means it works. An error wrapping
	// bridge.ErrLoginRequired means only a new login helps.
	Check(ctx context.Context) error
	// Keep keeps the credential alive (refreshed well before it expires)
	// until ctx ends or only a new login helps; it then returns an error
	// wrapping bridge.ErrLoginRequired. It reports what it does through h.
	Keep(ctx context.Context, h KeepHooks) error
}

// KeepHooks are Keep's reports; nil ones are skipped.
type KeepHooks struct {
	// Refreshed follows each refresh.
	Refreshed func(Account)
	// OK follows each successful check with the server.
	OK func()
	// Failed follows each failed check or refresh that Keep retries.
	Failed func(error)
}

// Message is an admin-channel message.
type Message struct {
	// Content is the text; it never pings anybody unless MentionAdmins.
	Content string
	// Image is a PNG attached to the message (the QR code), or nil.
	Image []byte
	// ImageName is the attachment's file name.
	ImageName string
	// MentionAdmins pings the admin role (when one is configured).
	MentionAdmins bool
}

// Edit changes an admin-channel message in place.
type Edit struct {
	Content string
	// Image, when set, replaces the attachment; RemoveImage drops it.
	Image       []byte
	ImageName   string
	RemoveImage bool
}

// Channel is the admin channel. Package discord implements it.
type Channel interface {
	Post(ctx context.Context, m Message) (id string, err error)
	Edit(ctx context.Context, id string, e Edit) error
	// RegisterCommands installs the slash commands (replacing older ones).
	RegisterCommands(ctx context.Context, cmds []Command) error
	// OnRequest sets the function called for each command or modal submit
	// of an allowed member (others are refused by the channel itself).
	OnRequest(f func(ctx context.Context, r Request))
}

// ErrMessageGone (wrapped) from Edit means the message was deleted: post a
// new one.
var ErrMessageGone = errors.New("the admin message was deleted")

// ErrChannelUnusable (wrapped) from Post means the admin channel is missing
// or the bot may not post there: the login falls back to the terminal.
var ErrChannelUnusable = errors.New("the admin channel is missing or the bot may not post there")

// ErrServerLogout (wrapped) from QQ.Logout means the credential was
// forgotten here but QQ Music did not confirm the end of the login: the
// old login may keep working on QQ Music's side until it expires.
var ErrServerLogout = errors.New("QQ Music did not confirm the logout")

// OptionType is the type of a command option.
type OptionType int

// Option types.
const (
	OptionString OptionType = iota + 1
	OptionInteger
	OptionChannel
)

// Option is a slash command option.
type Option struct {
	Name, Description string
	Type              OptionType
	Required          bool
	// Choices restrict a string option.
	Choices []string
}

// Command is a slash command.
type Command struct {
	Name, Description string
	Options           []Option
}

// TextInput is a modal's one text field.
type TextInput struct {
	ID, Label, Placeholder string
	MinLength, MaxLength   int
}

// Request is a slash command or a modal submit of an allowed member, with
// the ways to answer it. The first answer must come within 3 seconds:
// Reply, Defer or AskText.
type Request interface {
	// Command is the slash command's name ("" for a modal submit).
	Command() string
	// Option is a command option's value (a channel option gives the
	// channel id); ok is false when it was not given.
	Option(name string) (value string, ok bool)
	// ModalID is a modal submit's id ("" for a command); ModalValue one of
	// its text inputs.
	ModalID() string
	ModalValue(id string) string
	// UserID is the member who acted.
	UserID() string
	Reply(ctx context.Context, text string, ephemeral bool) error
	Defer(ctx context.Context, ephemeral bool) error
	// EditReply replaces the text of the answer given by Reply or Defer.
	EditReply(ctx context.Context, text string) error
	// AskText answers with a modal of one text input.
	AskText(ctx context.Context, modalID, title string, in TextInput) error
}

// Engine is what the admin channel needs of the relay engine
// (*bridge.Engine).
type Engine interface {
	Status(ctx context.Context) (bridge.Status, error)
	Pause()
	Resume()
	CredentialRenewed()
	Resync(ctx context.Context, sessionID string) (int, error)
	Sessions(ctx context.Context) ([]bridge.BridgedSession, error)
	SessionByChannel(ctx context.Context, channelID string) (bridge.BridgedSession, bool, error)
	// Outbox lists the deliveries that need a look (parked, or tried and
	// not yet delivered), of one session or of all (""), oldest first.
	Outbox(ctx context.Context, sessionID string, limit int) ([]bridge.OutboxEntry, error)
	// Retry and RetrySession put parked deliveries back in their queue;
	// Skip and SkipSession settle deliveries as skipped. Errors wrap
	// bridge.ErrNoEntry or bridge.ErrEntryState when the entry is unknown
	// or not in a state the command applies to.
	Retry(ctx context.Context, id int64) (int, error)
	RetrySession(ctx context.Context, sessionID string) (int, error)
	Skip(ctx context.Context, id int64) (int, error)
	SkipSession(ctx context.Context, sessionID string) (skipped, busy int, err error)
	// Archive archives a session's channel (bridge.Engine.Archive).
	Archive(ctx context.Context, sessionID, reason string) (bridge.Archived, error)
	// OpenSession gives a session (by QQ number or nick) its channel now.
	OpenSession(ctx context.Context, who string) (bridge.BridgedSession, error)
}

var _ Engine = (*bridge.Engine)(nil)
