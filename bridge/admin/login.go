package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the WeChat QR code is a JPEG
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/qrterm"
)

// QRFileName is the QR image the terminal fallback saves beside the
// credential file.
const QRFileName = "login-qr.png"

// qrImageName is the attachment's name in Discord.
const qrImageName = "qqmusic-login-qr.png"

// scanWith says what to scan a QR code with.
var scanWith = map[string]string{
	"mobile": "Scan it with the **QQ Music app** (我的 → the scan icon at the top), then confirm in the app.",
	"qq":     "Scan it with the **QQ app**, then confirm in QQ.",
	"wx":     "Scan it with **WeChat**, then confirm in WeChat.",
}

var methodName = map[string]string{"mobile": "QQ Music app", "qq": "QQ", "wx": "WeChat"}

// loginRun is one login request: a QR code posted as one admin message and
// edited in place through every state, replaced when it expires (up to
// Config.QRRenewals times). Only its goroutine touches the message.
type loginRun struct {
	c       *Controller
	method  string
	why     string
	mention bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the run has ended

	mu      sync.Mutex
	endText string // the message's last words when stopped from outside
	stopped bool   // stop was called

	msgID    string
	terminal bool // the admin channel is unusable: the terminal shows the QR
	qrNo     int  // QR codes shown so far
}

func newLoginRun(ctx context.Context, c *Controller, method, why string, mention bool) *loginRun {
	r := &loginRun{c: c, method: method, why: why, mention: mention, done: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

// stop ends the run from outside; the run then edits its message to text
// (when not "") and removes the QR code.
func (r *loginRun) stop(text string) {
	r.mu.Lock()
	r.endText = text
	r.stopped = true
	r.mu.Unlock()
	r.cancel()
}

func (r *loginRun) stoppedFromOutside() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

func (r *loginRun) loop(parent context.Context) {
	defer close(r.done)
	defer r.cancel()
	account := r.attempts()
	if r.ctx.Err() != nil {
		r.mu.Lock()
		text := r.endText
		r.mu.Unlock()
		if text == "" && parent.Err() != nil {
			text = "⏹️ The bridge stopped before this login finished; it posts a new QR code when it starts again."
		}
		if text != "" {
			r.final(text)
		}
	}
	r.c.runEnded(r, account)
}

// attempts shows QR codes until one logs in (its account is returned) or
// the run ends.
func (r *loginRun) attempts() *Account {
	wait := r.c.cfg.RetryWait
	startFails := 0
	for r.ctx.Err() == nil {
		events, err := r.c.qq.StartQRLogin(r.ctx, r.method)
		if err != nil {
			if r.ctx.Err() != nil {
				return nil
			}
			startFails++
			r.c.log.Warn("admin: could not start the QR login", "method", r.method, "attempt", startFails, "err", err)
			if startFails > r.c.cfg.StartRetries {
				r.final(fmt.Sprintf("❌ The %s login could not be started: %s\nRun `/login` to try again, or `bridge login` in a terminal.", methodName[r.method], oneLine(err.Error(), 300)))
				return nil
			}
			r.show(fmt.Sprintf("⚠️ The %s login could not be started (%s); trying again <t:%d:R>.", methodName[r.method], oneLine(err.Error(), 200), r.c.cfg.Now().Add(wait).Unix()), nil, true)
			select {
			case <-r.ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait *= 2
			continue
		}
		startFails, wait = 0, r.c.cfg.RetryWait
		account, again := r.follow(events)
		if account != nil || !again {
			return account
		}
	}
	return nil
}

// follow shows one QR login's events. again says a new QR code should be
// shown (this one expired).
func (r *loginRun) follow(events <-chan LoginEvent) (account *Account, again bool) {
	for ev := range events {
		switch ev.State {
		case LoginWaiting:
			if len(ev.Image) == 0 {
				continue
			}
			img, err := toPNG(ev.Image)
			if err != nil {
				r.c.log.Warn("admin: the QR code image cannot be read", "err", err)
				img = ev.Image
			}
			r.qrNo++
			expires := ev.Expires
			if expires.IsZero() {
				expires = r.c.cfg.Now().Add(qrLife)
			}
			r.show(r.text(fmt.Sprintf("⏳ Waiting for a scan. This code expires <t:%d:R>.", expires.Unix())), img, false)
		case LoginScanned:
			r.show(r.text("📱 Scanned. Confirm the login on the phone."), nil, false)
		case LoginConfirmed:
			r.show(r.text("🔄 Confirmed. Finishing the login…"), nil, false)
		case LoginRefused:
			r.final("⛔ The login was refused on the phone. Run `/login` to try again.")
			return nil, false
		case LoginExpired:
			if r.ctx.Err() != nil {
				return nil, false
			}
			if r.qrNo > r.c.cfg.QRRenewals {
				r.final(fmt.Sprintf("⌛ The QR code expired %d times without a login. Run `/login` to try again, or `bridge login` in a terminal.", r.qrNo))
				return nil, false
			}
			r.show(r.text("⌛ The QR code expired; a new one is on its way…"), nil, true)
			return nil, true
		case LoginDone:
			a := ev.Account
			r.final(fmt.Sprintf("✅ Logged in as **%s**%s. Relaying resumes.", a.Name(), expiresText(a.Expires)) + unsavedText(a))
			return &a, false
		case LoginFailed:
			if r.ctx.Err() != nil {
				return nil, false
			}
			why := "unknown error"
			if ev.Err != nil {
				why = oneLine(ev.Err.Error(), 300)
			}
			r.final("❌ The login failed: " + why + "\nRun `/login` to try again.")
			return nil, false
		}
	}
	return nil, false
}

// qrLife is how long a QR code is taken to last when the QQ side does not
// say (the qq client's default QR time-out).
var qrLife = 5 * time.Minute

// unsavedText warns that a login could not be saved.
func unsavedText(a Account) string {
	if a.SaveErr == nil {
		return ""
	}
	return "\n⚠️ But the credential file could not be written (" + oneLine(a.SaveErr.Error(), 200) + "): the login is lost when the bridge restarts. Check the data folder's permissions and free space, then log in again."
}

// text is the login message with a status line.
func (r *loginRun) text(status string) string {
	var b bytes.Buffer
	b.WriteString("🔐 **QQ Music login needed**")
	if r.why != "" {
		b.WriteString(": " + r.why)
	}
	b.WriteString(".\n")
	b.WriteString(scanWith[r.method])
	b.WriteString("\n" + status)
	if r.qrNo > 1 {
		fmt.Fprintf(&b, "\n(QR code %d of %d: the earlier one expired.)", r.qrNo, r.c.cfg.QRRenewals+1)
	}
	return b.String()
}

// show puts a state on the message: the first time it is posted (with
// the mention, once), later it is edited in place. img, when set, is a
// new QR code; dropImage removes the shown one. When the admin channel
// cannot be used the terminal shows the state instead.
func (r *loginRun) show(text string, img []byte, dropImage bool) {
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	if r.msgID == "" {
		if r.terminal && img == nil {
			fmt.Fprintln(r.c.cfg.Terminal, "QQ Music login:", plainStatus(text, r.c.cfg.Now()))
			return
		}
		id, err := r.c.ch.Post(ctx, Message{Content: text, Image: img, ImageName: qrImageName, MentionAdmins: r.mention})
		if err == nil {
			r.msgID = id
			r.terminal = false
			r.mention = false // once per login request
			return
		}
		if r.ctx.Err() != nil {
			return
		}
		r.toTerminal(err, text, img)
		return
	}
	e := Edit{Content: text, RemoveImage: dropImage}
	if img != nil {
		e.Image, e.ImageName = img, qrImageName
	}
	err := r.c.ch.Edit(ctx, r.msgID, e)
	switch {
	case err == nil || r.ctx.Err() != nil:
	case errors.Is(err, ErrMessageGone):
		// Somebody deleted it: post it again (without a second ping).
		r.msgID = ""
		if img != nil || !dropImage {
			r.show(text, img, dropImage)
		}
	default:
		r.c.log.Warn("admin: could not edit the login message", "err", err)
		if img != nil {
			r.toTerminal(err, text, img)
		}
	}
}

// final puts the last state on the message and removes the QR code.
func (r *loginRun) final(text string) {
	wait := 30 * time.Second
	if r.ctx.Err() != nil {
		wait = 2500 * time.Millisecond // stopped: perhaps the process is stopping
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), wait)
	defer cancel()
	if r.msgID == "" && r.ctx.Err() != nil && !r.terminal {
		return // stopped before anything was shown: nothing to update
	}
	if r.msgID == "" {
		if r.terminal {
			fmt.Fprintln(r.c.cfg.Terminal, "QQ Music login:", plainStatus(text, r.c.cfg.Now()))
			r.removeQRFile()
			return
		}
		id, err := r.c.ch.Post(ctx, Message{Content: text})
		if err != nil {
			r.c.log.Warn("admin: could not post in the admin channel", "err", err)
			fmt.Fprintln(r.c.cfg.Terminal, "QQ Music login:", plainStatus(text, r.c.cfg.Now()))
			return
		}
		r.msgID = id
		return
	}
	if err := r.c.ch.Edit(ctx, r.msgID, Edit{Content: text, RemoveImage: true}); errors.Is(err, ErrMessageGone) {
		if _, err := r.c.ch.Post(ctx, Message{Content: text}); err != nil {
			r.c.log.Warn("admin: could not post in the admin channel", "err", err)
		}
	} else if err != nil {
		r.c.log.Warn("admin: could not edit the login message", "err", err)
	}
	if r.terminal {
		fmt.Fprintln(r.c.cfg.Terminal, "QQ Music login:", plainStatus(text, r.c.cfg.Now()))
		r.removeQRFile()
	}
}

// toTerminal is the fallback when the admin channel cannot show the QR
// code: it is drawn on the terminal and saved beside the credential file.
func (r *loginRun) toTerminal(cause error, text string, img []byte) {
	r.terminal = true
	path := filepath.Join(filepath.Dir(r.c.cfg.CredentialFile), QRFileName)
	if errors.Is(cause, ErrChannelUnusable) {
		r.c.log.Error("admin: the login QR code cannot be posted in the admin channel; it is drawn on the terminal and saved as a file instead. Check discord.admin_channel_id and the bot's permissions there",
			"err", cause, "file", path)
	} else {
		r.c.log.Warn("admin: Discord cannot take the login QR code now; it is drawn on the terminal and saved as a file instead",
			"err", cause, "file", path)
	}
	w := r.c.cfg.Terminal
	fmt.Fprintln(w, "QQ Music login:", plainStatus(text, r.c.cfg.Now()))
	if img == nil {
		return
	}
	if art, err := qrterm.FromImage(img, false); err == nil {
		fmt.Fprint(w, art)
	} else {
		fmt.Fprintln(w, "(the QR code cannot be drawn here:", err.Error()+")")
	}
	if err := writePrivate(path, img); err != nil {
		r.c.log.Warn("admin: could not save the QR code", "file", path, "err", err)
		return
	}
	fmt.Fprintln(w, "The QR code is also saved as", path)
}

func (r *loginRun) removeQRFile() {
	_ = os.Remove(filepath.Join(filepath.Dir(r.c.cfg.CredentialFile), QRFileName))
}

// discordTime is Discord's timestamp markup, <t:unix> or <t:unix:style>.
var discordTime = regexp.MustCompile(`<t:(-?[0-9]{1,12})(:[a-zA-Z])?>`)

// plainStatus drops the Discord markup of a status for the terminal: a
// timestamp becomes a plain clock time and countdown.
func plainStatus(s string, now time.Time) string {
	s = discordTime.ReplaceAllStringFunc(s, func(m string) string {
		unix, _ := strconv.ParseInt(discordTime.FindStringSubmatch(m)[1], 10, 64)
		at := time.Unix(unix, 0)
		left := at.Sub(now).Round(time.Second)
		if left <= 0 {
			return "at " + at.UTC().Format("15:04:05 UTC")
		}
		return fmt.Sprintf("at %s (in %s)", at.UTC().Format("15:04:05 UTC"), left)
	})
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '*' || r == '`' {
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// maxQRSide bounds the QR image's width and height: a hostile image must
// not make the bridge allocate gigabytes.
const maxQRSide = 4096

// toPNG returns img as a PNG (the WeChat QR code is a JPEG).
func toPNG(img []byte) ([]byte, error) {
	if bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
		return img, nil
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("decoding the QR image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxQRSide || cfg.Height > maxQRSide {
		return nil, fmt.Errorf("the QR image is %dx%d pixels, larger than a QR code needs", cfg.Width, cfg.Height)
	}
	m, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("decoding the QR image: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		return nil, fmt.Errorf("encoding the QR image: %w", err)
	}
	return b.Bytes(), nil
}

// writePrivate writes a file atomically with mode 0600.
func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".login-qr-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
