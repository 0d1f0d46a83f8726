package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// Commands are the admin slash commands.
func Commands() []Command {
	return append([]Command{
		{Name: "login", Description: "Start a QQ Music QR-code login now", Options: []Option{
			{Name: "method", Description: "what to scan the code with (default: qq.login_method)", Type: OptionString, Choices: []string{"mobile", "qq", "wx"}},
		}},
		{Name: "login-phone", Description: "Log in to QQ Music with an SMS code", Options: []Option{
			{Name: "number", Description: "the phone number, digits only", Type: OptionString, Required: true},
			{Name: "area", Description: "the calling code without + (default 86)", Type: OptionString},
			{Name: "code", Description: "the SMS code, when you already have one (skips sending a new code)", Type: OptionString},
		}},
		{Name: "logout", Description: "Log out of QQ Music and forget the login (relaying pauses; nothing queued is lost)"},
		{Name: "status", Description: "Login, relaying, outbox and poll status of the bridge"},
		{Name: "sessions", Description: "The bridged QQ Music sessions, newest first", Options: []Option{
			{Name: "page", Description: "page number (default 1)", Type: OptionInteger},
		}},
		{Name: "pause", Description: "Stop polling QQ Music and sending replies (replies stay queued)"},
		{Name: "resume", Description: "Resume polling and sending"},
		{Name: "resync", Description: "Re-read a session's history and fill any gap, without duplicates", Options: []Option{
			{Name: "session", Description: "the session's channel (or forum post)", Type: OptionChannel, Required: true},
		}},
	}, append(outboxCommands(), append(archiveCommands(), openCommands()...)...)...)
}

// phoneModal prefixes the modal id that asks for the SMS code; the area
// and the number follow.
const phoneModal = "login-phone-code"

// handle answers a command or a modal submit of an allowed member.
func (c *Controller) handle(ctx context.Context, r Request) {
	if id := r.ModalID(); id != "" {
		if area, phone, ok := parsePhoneModal(id); ok {
			c.phoneCode(ctx, r, area, phone)
			return
		}
		c.reply(ctx, r, "This form is not known to the bridge (it may be from an older version); run the command again.", true)
		return
	}
	switch r.Command() {
	case "login":
		c.cmdLogin(ctx, r)
	case "login-phone":
		c.cmdLoginPhone(ctx, r)
	case "logout":
		c.cmdLogout(ctx, r)
	case "status":
		c.cmdStatus(ctx, r)
	case "sessions":
		c.cmdSessions(ctx, r)
	case "pause":
		c.eng.Pause()
		c.log.Info("admin: relaying paused", "by", r.UserID())
		c.reply(ctx, r, fmt.Sprintf("⏸️ Relaying paused by <@%s>. Replies written meanwhile are queued; `/resume` to go on.", r.UserID()), false)
	case "resume":
		c.eng.Resume()
		c.log.Info("admin: relaying resumed", "by", r.UserID())
		text := fmt.Sprintf("▶️ Relaying resumed by <@%s>.", r.UserID())
		if c.LoginPending() {
			text += " QQ Music still needs a login, though: see the login message here, or run `/login`."
		}
		c.reply(ctx, r, text, false)
	case "resync":
		c.cmdResync(ctx, r)
	case "outbox":
		c.cmdOutbox(ctx, r)
	case "retry":
		c.cmdRetry(ctx, r)
	case "skip":
		c.cmdSkip(ctx, r)
	case "archive":
		c.cmdArchive(ctx, r)
	case "open":
		c.cmdOpen(ctx, r)
	default:
		c.reply(ctx, r, "The bridge does not know this command; its commands may be out of date. Restarting the bridge registers them again.", true)
	}
}

func (c *Controller) reply(ctx context.Context, r Request, text string, ephemeral bool) {
	if err := r.Reply(ctx, text, ephemeral); err != nil {
		c.log.Warn("admin: could not answer a command", "command", r.Command(), "err", err)
	}
}

func (c *Controller) editReply(ctx context.Context, r Request, text string) {
	if err := r.EditReply(ctx, text); err != nil {
		c.log.Warn("admin: could not answer a command", "command", r.Command(), "err", err)
	}
}

func (c *Controller) cmdLogin(ctx context.Context, r Request) {
	method := c.cfg.LoginMethod
	if m, ok := r.Option("method"); ok && m != "" {
		method = m
	}
	if _, ok := scanWith[method]; !ok {
		c.reply(ctx, r, fmt.Sprintf("Unknown login method %q: use mobile, qq or wx.", method), true)
		return
	}
	c.reply(ctx, r, fmt.Sprintf("Starting a %s QR login: the code appears in the admin channel in a moment.", methodName[method]), true)
	c.mu.Lock()
	c.startLoginLocked(method, fmt.Sprintf("requested by <@%s>", r.UserID()), false)
	c.mu.Unlock()
}

func (c *Controller) cmdLoginPhone(ctx context.Context, r Request) {
	number, _ := r.Option("number")
	area, _ := r.Option("area")
	number, area = digits(number), digits(area)
	if area == "" {
		area = "86"
	}
	if len(number) < 5 || len(number) > 15 || len(area) > 4 {
		c.reply(ctx, r, "That does not look like a phone number: give the digits only, e.g. `13800138000` (and `area` without +, default 86).", true)
		return
	}
	if code, ok := r.Option("code"); ok && digits(code) != "" {
		c.finishPhone(ctx, r, area, number, digits(code))
		return
	}
	// The answer is due within 3 seconds: the code is asked for first, so
	// that the form for it only shows when it is on its way.
	sctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	res, err := c.qq.SendPhoneCode(sctx, area, number)
	timedOut := errors.Is(sctx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil && timedOut && ctx.Err() == nil {
		c.reply(ctx, r, fmt.Sprintf("⏱️ QQ Music did not answer in time, so the code may or may not be on its way. If it arrives, finish with `/login-phone number:%s code:<the code>`; otherwise run `/login-phone` again in a minute.", number), true)
		return
	}
	if err != nil {
		c.reply(ctx, r, "❌ QQ Music did not send a code: "+oneLine(err.Error(), 300)+"\nTry again in a moment.", true)
		return
	}
	switch res.Status {
	case PhoneCodeCaptcha:
		c.reply(ctx, r, "🧩 QQ Music wants a security check first. Open "+res.SecurityURL+" on the phone, pass the check, then run `/login-phone` again.", true)
	case PhoneCodeTooFrequent:
		c.reply(ctx, r, "⏱️ Codes were asked for too often. Wait a few minutes, then run `/login-phone` again.", true)
	default:
		err := r.AskText(ctx, phoneModal+":"+area+":"+number, "QQ Music SMS code", TextInput{
			ID: "code", Label: "The code texted to " + maskPhone(area, number), Placeholder: "123456", MinLength: 4, MaxLength: 8,
		})
		if err != nil {
			c.log.Warn("admin: could not ask for the SMS code", "err", err)
		}
	}
}

func parsePhoneModal(id string) (area, phone string, ok bool) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 || parts[0] != phoneModal || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// phoneCode finishes a phone login with the code from the modal.
func (c *Controller) phoneCode(ctx context.Context, r Request, area, phone string) {
	code := digits(r.ModalValue("code"))
	if code == "" {
		c.reply(ctx, r, "The code is empty: run `/login-phone` again.", true)
		return
	}
	c.finishPhone(ctx, r, area, phone, code)
}

// finishPhone logs in with an SMS code and answers r.
func (c *Controller) finishPhone(ctx context.Context, r Request, area, phone, code string) {
	if err := r.Defer(ctx, true); err != nil {
		c.log.Warn("admin: could not answer the code form", "err", err)
		return
	}
	a, err := c.qq.PhoneLogin(ctx, area, phone, code)
	if err != nil {
		c.editReply(ctx, r, "❌ The phone login failed: "+oneLine(err.Error(), 300)+"\nRun `/login-phone` again.")
		return
	}
	c.editReply(ctx, r, fmt.Sprintf("✅ Logged in as **%s**. Relaying resumes.", a.Name())+unsavedText(a))
	c.mu.Lock()
	run := c.run
	c.mu.Unlock()
	if run != nil {
		run.stop(fmt.Sprintf("✅ Logged in with a phone code as **%s**; this QR code is no longer needed.", a.Name()))
	}
	c.loggedIn(a, "phone code")
}

func (c *Controller) cmdLogout(ctx context.Context, r Request) {
	st, _ := c.eng.Status(ctx)
	c.mu.Lock()
	run := c.run
	if run != nil {
		run.stop("Cancelled: `/logout`.")
	}
	c.loggedOut = true
	c.pending = true
	c.asked = false
	c.openMsg = ""
	c.checkWait = 0
	c.nextCheck = time.Time{}
	keeperDone := c.stopKeeperLocked()
	if !st.Paused {
		c.pausedForLogout = true
	}
	c.mu.Unlock()
	c.eng.Pause()
	// Answer first (Discord waits 3 seconds at most), then forget the
	// credential once nothing can write it any more: a login finishing
	// or a refresh in flight would otherwise bring the file back.
	c.reply(ctx, r, fmt.Sprintf("🚪 Logged out by <@%s>: the QQ Music credential is forgotten and relaying is paused (queued replies are kept). Run `/login` to log in again.", r.UserID()), false)
	wait := time.After(30 * time.Second)
	if run != nil {
		select {
		case <-run.done:
		case <-wait:
		}
	}
	if keeperDone != nil {
		select {
		case <-keeperDone:
		case <-wait:
		}
	}
	if err := c.qq.Logout(context.WithoutCancel(ctx)); err != nil {
		if errors.Is(err, ErrServerLogout) {
			c.log.Warn("admin: /logout: QQ Music did not confirm the logout", "err", err)
			c.post(c.base, Message{Content: "⚠️ The credential is forgotten here, but QQ Music did not confirm the logout (" + oneLine(err.Error(), 300) +
				"). The old login may keep working on QQ Music's side until it expires (about 3 days); to end it now, remove the device in the QQ Music app's login management."})
		}
		if failedBesidesServerLogout(err) {
			c.log.Error("admin: /logout could not delete the credential file", "file", c.cfg.CredentialFile, "err", err)
			c.post(c.base, Message{Content: "⚠️ Relaying is paused, but the credential file could not be deleted: " + oneLine(err.Error(), 300)})
		}
		return
	}
	c.log.Info("admin: logged out of QQ Music", "by", r.UserID())
}

// failedBesidesServerLogout reports whether a Logout error holds a
// failure other than ErrServerLogout (the credential file's).
func failedBesidesServerLogout(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if e != nil && !errors.Is(e, ErrServerLogout) {
				return true
			}
		}
		return false
	}
	return !errors.Is(err, ErrServerLogout)
}

func (c *Controller) cmdStatus(ctx context.Context, r Request) {
	st, err := c.eng.Status(ctx)
	var b strings.Builder
	b.WriteString("**QQ Music bridge status**\n")
	c.mu.Lock()
	loggedOut, pending, running := c.loggedOut, c.pending, c.run != nil
	c.mu.Unlock()
	a, ok := c.qq.Account()
	switch {
	case loggedOut:
		b.WriteString("Login: 🚪 logged out (run `/login`)\n")
	case pending || !ok:
		b.WriteString("Login: ⏳ a login is needed")
		if running {
			b.WriteString(" (the QR code is in the admin channel)")
		} else {
			b.WriteString(" (run `/login`)")
		}
		b.WriteString("\n")
	default:
		fmt.Fprintf(&b, "Login: ✅ %s", c.nameOf(a))
		if !a.Expires.IsZero() {
			fmt.Fprintf(&b, ", expires <t:%d:R>", a.Expires.Unix())
		}
		b.WriteString("\n")
	}
	switch {
	case st.Paused:
		b.WriteString("Relaying: ⏸️ paused (`/resume`)\n")
	case st.LoginNeeded || pending:
		b.WriteString("Relaying: ⏳ waiting for the login\n")
	default:
		b.WriteString("Relaying: ▶️ running\n")
	}
	if err != nil {
		fmt.Fprintf(&b, "Database: ❌ %s\n", oneLine(err.Error(), 200))
	} else {
		fmt.Fprintf(&b, "Sessions bridged: %d\nOutbox: %d to Discord, %d to QQ Music", st.SessionsBridged, st.OutboxToDiscord, st.OutboxToQQ)
		if st.Parked > 0 {
			fmt.Fprintf(&b, "; ⛔ %d parked (`/outbox`)", st.Parked)
		}
		b.WriteString("\n")
	}
	if st.LastPoll.IsZero() {
		b.WriteString("Last successful poll: never\n")
	} else {
		fmt.Fprintf(&b, "Last successful poll: <t:%d:R>\n", st.LastPoll.Unix())
	}
	if st.LastError == "" {
		b.WriteString("Last error: none\n")
	} else {
		fmt.Fprintf(&b, "Last error (<t:%d:R>, %d in all): %s\n", st.LastErrorAt.Unix(), st.Errors, oneLine(st.LastError, 300))
	}
	fmt.Fprintf(&b, "Uptime: %s · version %s", c.cfg.Now().Sub(c.started).Round(time.Second), c.cfg.Version)
	c.reply(ctx, r, b.String(), true)
}

// nameOf names the account with the nick learnt at login, when known.
func (c *Controller) nameOf(a Account) string {
	c.mu.Lock()
	nick := c.nicks[a.UIN]
	c.mu.Unlock()
	if a.Nick == "" {
		a.Nick = nick
	}
	return a.Name()
}

func (c *Controller) cmdSessions(ctx context.Context, r Request) {
	ss, err := c.eng.Sessions(ctx)
	if err != nil {
		c.reply(ctx, r, "❌ The sessions cannot be read: "+oneLine(err.Error(), 300), true)
		return
	}
	if len(ss) == 0 {
		c.reply(ctx, r, "No session is bridged yet: a channel appears here when a QQ Music private message arrives.", true)
		return
	}
	per := c.cfg.SessionsPerPage
	pages := (len(ss) + per - 1) / per
	page := 1
	if v, ok := r.Option("page"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			page = n
		}
	}
	page = max(1, min(page, pages))
	var b strings.Builder
	fmt.Fprintf(&b, "**Bridged sessions** (%d; page %d of %d, newest first)\n", len(ss), page, pages)
	for i, s := range ss[(page-1)*per : min(page*per, len(ss))] {
		name := s.Peer.Nick
		if name == "" {
			name = "(no nick)"
		}
		fmt.Fprintf(&b, "%d. <#%s> · %s (%s)", (page-1)*per+i+1, s.ChannelID, oneLine(name, 60), s.Peer.UIN)
		if t := sortTime(s.SortTime); !t.IsZero() {
			fmt.Fprintf(&b, " · active <t:%d:R>", t.Unix())
		}
		b.WriteString("\n")
	}
	if page < pages {
		fmt.Fprintf(&b, "More: `/sessions page:%d`", page+1)
	}
	c.reply(ctx, r, b.String(), true)
}

// sortTime reads a QQ sort_time (seconds or milliseconds).
func sortTime(v int64) time.Time {
	switch {
	case v <= 0:
		return time.Time{}
	case v > 1e12:
		return time.UnixMilli(v)
	default:
		return time.Unix(v, 0)
	}
}

// sessionOf resolves a command's "session" option (a channel) to its
// bridged session and defers the answer; it answers the member itself and
// returns false when the command cannot go on.
func (c *Controller) sessionOf(ctx context.Context, r Request, command string) (bridge.BridgedSession, bool) {
	ch, _ := r.Option("session")
	s, ok, err := c.eng.SessionByChannel(ctx, ch)
	switch {
	case err != nil:
		c.reply(ctx, r, "❌ The session cannot be looked up: "+oneLine(err.Error(), 300), true)
		return s, false
	case !ok:
		c.reply(ctx, r, fmt.Sprintf("<#%s> is not the channel of a bridged QQ Music session: pick a session channel (or forum post).", ch), true)
		return s, false
	}
	if err := r.Defer(ctx, true); err != nil {
		c.log.Warn("admin: could not answer /"+command, "err", err)
		return s, false
	}
	return s, true
}

func (c *Controller) cmdResync(ctx context.Context, r Request) {
	s, ok := c.sessionOf(ctx, r, "resync")
	if !ok {
		return
	}
	n, err := c.eng.Resync(ctx, s.ID)
	switch {
	case errors.Is(err, bridge.ErrLoginRequired):
		c.editReply(ctx, r, "⏳ QQ Music needs a login first; the session is resynced once relaying resumes. Nothing is lost.")
	case err != nil:
		c.editReply(ctx, r, "❌ The resync failed: "+oneLine(err.Error(), 300)+"\nTry again in a moment.")
	case n == 0:
		c.editReply(ctx, r, fmt.Sprintf("✅ <#%s> is complete: no message was missing.", s.ChannelID))
	default:
		c.editReply(ctx, r, fmt.Sprintf("✅ %d missing message(s) of <#%s> are being posted, in order.", n, s.ChannelID))
	}
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// maskPhone shows a phone number with all but its last four digits hidden.
func maskPhone(area, phone string) string {
	if len(phone) <= 4 {
		return "+" + area + " " + phone
	}
	return "+" + area + " " + strings.Repeat("•", len(phone)-4) + phone[len(phone)-4:]
}
