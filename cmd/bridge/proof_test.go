package main

// The proof scenarios of issue 8: black-box runs of the real binary
// against qqtest and discordtest, asserting what a Discord member sees and
// what reaches QQ Music.
//
//	go test -race -count=1 -run 'TestProof' ./cmd/bridge/
//
// runs them at CI size (a few minutes at most on two cores). Flags, given
// after the package:
//
//	-proof.full     full size: 20 SIGKILLs during a 2,000-message stream
//	                across 50 sessions; the fault run with 3 s QQ
//	                time-outs, a gateway drop every 10 s and 600 messages
//	-proof.seed=N   the seed of every random choice (default: each
//	                scenario's fixed seed, logged)
//	-proof.logs     keep the bridge's output (in a file each test names)
//	                even when the test passes
//
// A failing scenario logs the command that runs it again with its seed,
// and writes the bridge's output (every run of it) to a file it names.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/discord/discordtest"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

var (
	proofFull = flag.Bool("proof.full", false, "run the proof scenarios at full size (20 kills, 2,000 messages, 50 sessions)")
	proofSeed = flag.Int64("proof.seed", 0, "seed of the proof scenarios (0: each scenario's fixed seed)")
	proofLogs = flag.Bool("proof.logs", false, "keep the bridge's output of every proof scenario, passed or not")
)

// proof is one scenario's environment: the doubles, the binary's config,
// and the bridge process, which may be killed and started again.
type proof struct {
	*e2e
	seed int64
	rng  *rand.Rand

	out  *syncBuffer // the output of every run, in order
	runs int
}

// newProof sets up a scenario seeded with defaultSeed (or -proof.seed).
func newProof(t *testing.T, defaultSeed int64, qqOpts ...qqtest.Option) *proof {
	t.Helper()
	seed := defaultSeed
	if *proofSeed != 0 {
		seed = *proofSeed
	}
	t.Logf("seed %d", seed)
	p := &proof{e2e: newE2E(t, append([]qqtest.Option{qqtest.WithSeed(seed)}, qqOpts...)...), seed: seed, out: &syncBuffer{}}
	p.rng = rand.New(rand.NewPCG(uint64(seed), 0x9e0f))
	t.Cleanup(func() {
		// Runs before the doubles close (cleanups run last-in first-out)
		// and after the bridge was killed (launch registers that later).
		if !t.Failed() && !*proofLogs {
			return
		}
		if !t.Failed() {
			f, err := os.CreateTemp("", "proof-bridge-*.log")
			if err == nil {
				_, _ = f.WriteString(p.out.String())
				_ = f.Close()
				t.Logf("the bridge's output (%d runs) is in %s", p.runs, f.Name())
			}
			return
		}
		full := ""
		if *proofFull {
			full = " -proof.full"
		}
		t.Logf("reproduce with: go test -race -count=1 -run '%s' ./cmd/bridge/ -proof.seed=%d%s", runPattern(t.Name()), seed, full)
		f, err := os.CreateTemp("", "proof-bridge-*.log")
		if err != nil {
			t.Logf("cannot save the bridge's output: %v", err)
			return
		}
		_, _ = f.WriteString(p.out.String())
		_ = f.Close()
		lines := strings.Split(strings.TrimRight(p.out.String(), "\n"), "\n")
		t.Logf("the bridge's output (%d runs, %d lines) is in %s; its last lines:\n%s",
			p.runs, len(lines), f.Name(), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	})
	return p
}

// runPattern is a -run pattern matching exactly the test named name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, s := range parts {
		parts[i] = "^" + regexp.QuoteMeta(s) + "$"
	}
	return strings.Join(parts, "/")
}

// configure replaces a "key = value" line of the config file.
func (p *proof) configure(key, value string) {
	p.t.Helper()
	raw, err := os.ReadFile(p.cfgPath)
	if err != nil {
		p.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*$`)
	if !re.Match(raw) {
		p.t.Fatalf("config has no %s line", key)
	}
	raw = re.ReplaceAll(raw, []byte(key+" = "+value))
	if err := os.WriteFile(p.cfgPath, raw, 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// launch starts the bridge binary (again), its output going to p.out.
func (p *proof) launch() {
	p.t.Helper()
	p.runs++
	fmt.Fprintf(p.out, "=== run %d, started %s ===\n", p.runs, time.Now().Format("15:04:05.000"))
	cmd := exec.Command(bridgeBinary(p.t), "run", "--config", p.cfgPath)
	cmd.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN="+p.dc.Token)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.proc, p.exited = cmd, exited
	if p.runs == 1 {
		p.t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	}
}

// kill ends the bridge with SIGKILL: no shutdown code runs.
func (p *proof) kill() {
	p.t.Helper()
	_ = p.proc.Process.Signal(syscall.SIGKILL)
	<-p.exited
	fmt.Fprintf(p.out, "=== run %d killed at %s ===\n", p.runs, time.Now().Format("15:04:05.000"))
}

// alive reports whether the bridge is running.
func (p *proof) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitFor polls cond until it holds; after timeout it fails the test with
// what and the state report. The bridge dying meanwhile fails it at once.
func (p *proof) waitFor(what string, timeout time.Duration, cond func() bool, report func() string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if !p.alive() {
			p.t.Fatalf("the bridge exited (%v) while waiting for %s", p.proc.ProcessState, what)
		}
		if time.Now().After(deadline) {
			msg := ""
			if report != nil {
				msg = "\n" + report()
			}
			p.t.Fatalf("timed out after %v waiting for %s%s", timeout, what, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthy waits for /healthz to answer 200.
func (p *proof) healthy(timeout time.Duration) {
	p.t.Helper()
	p.waitFor("a healthy /healthz", timeout, func() bool {
		code, _ := p.get("/healthz")
		return code == 200
	}, nil)
}

// relayCounts reads bridge_messages_relayed_total from the running
// bridge's /metrics, by "direction/outcome" (nil when it does not answer).
func (p *proof) relayCounts() map[string]int {
	code, body := p.get("/metrics")
	if code != 200 {
		return nil
	}
	re := regexp.MustCompile(`(?m)^bridge_messages_relayed_total\{direction="([a-z_]+)",outcome="([a-z_]+)"\} ([0-9]+)$`)
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		var n int
		fmt.Sscan(m[3], &n)
		out[m[1]+"/"+m[2]] += n
	}
	return out
}

// channelsOf returns the session channels whose topic ends with the tag of sessionID.
func (p *proof) channelsOf(sessionID string) []discordtest.Channel {
	var out []discordtest.Channel
	tag := p.tag(sessionID)
	for _, ch := range p.dc.Channels() {
		if tag != "" && ch.Type == discordtest.ChannelTypeText && strings.HasSuffix(ch.Topic, " · #"+tag) {
			out = append(out, ch)
		}
	}
	return out
}

// channelOf waits for the session's channel and returns its id.
func (p *proof) channelOf(sessionID string, timeout time.Duration) string {
	p.t.Helper()
	var id string
	p.waitFor("the channel of session "+sessionID, timeout, func() bool {
		if chs := p.channelsOf(sessionID); len(chs) > 0 {
			id = chs[0].ID
			return true
		}
		return false
	}, nil)
	return id
}

// posted returns the webhook messages of a channel, oldest first: what
// the bridge relayed from QQ.
func (p *proof) posted(channelID string) []discordtest.Message {
	var out []discordtest.Message
	for _, m := range p.dc.Messages(channelID) {
		if m.WebhookID != "" {
			out = append(out, m)
		}
	}
	return out
}

func contents(ms []discordtest.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Content
	}
	return out
}

// sentTo returns what QQ accepted for a session, in order.
func (p *proof) sentTo(sessionID string) []qqtest.Sent {
	var out []qqtest.Sent
	for _, s := range p.qq.Sent() {
		if s.SessionID == sessionID {
			out = append(out, s)
		}
	}
	return out
}

// checkNoBotPings fails the test for every message the bridge wrote (as
// the bot or through a webhook) that would have notified anyone.
func (p *proof) checkNoBotPings() {
	p.t.Helper()
	n := 0
	for _, ch := range p.dc.Channels() {
		for _, m := range p.dc.Messages(ch.ID) {
			if m.WebhookID == "" && m.Author.ID != p.dc.BotUserID {
				continue
			}
			n++
			if !m.Pinged.None() || m.MentionEveryone {
				p.t.Errorf("message %s in #%s pinged %+v: %q", m.ID, ch.Name, m.Pinged, clipForLog(m.Content))
			}
		}
	}
	p.t.Logf("%d messages written by the bridge, none pinging anyone", n)
}

// hasReaction reports whether the bot reacted to a message with emoji.
func (p *proof) hasReaction(channelID, messageID, emoji string) bool {
	m, ok := p.dc.Message(channelID, messageID)
	if !ok {
		return false
	}
	for _, r := range m.Reactions {
		if r.Emoji.Name == emoji && slices.Contains(r.Users, p.dc.BotUserID) {
			return true
		}
	}
	return false
}

// diffLists describes how got differs from want (nil when equal), naming
// the first difference, the missing items and the duplicates.
func diffLists(want, got []string) error {
	if slices.Equal(want, got) {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d items, want %d", len(got), len(want))
	for i := 0; i < min(len(want), len(got)); i++ {
		if want[i] != got[i] {
			fmt.Fprintf(&b, "; first difference at %d: %q, want %q", i, clipForLog(got[i]), clipForLog(want[i]))
			break
		}
	}
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	var missing, dup []string
	for _, w := range want {
		switch count[w] {
		case 0:
			missing = append(missing, clipForLog(w))
		case 1:
		default:
			dup = append(dup, fmt.Sprintf("%s ×%d", clipForLog(w), count[w]))
		}
		count[w] = -1 // report once
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "; missing %d: %q", len(missing), missing[:min(len(missing), 10)])
	}
	if len(dup) > 0 {
		fmt.Fprintf(&b, "; duplicated %d: %q", len(dup), dup[:min(len(dup), 10)])
	}
	return fmt.Errorf("%s", b.String())
}

func clipForLog(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + fmt.Sprintf("…(%d chars)", len(r))
	}
	return s
}
