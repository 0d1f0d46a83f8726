package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/store"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// seedMapped gives every session of the world perSession more messages in
// QQ and records them in the bridge's database as relayed (queued, then
// delivered with a Discord message id each), as a bridge that relayed
// them would have. Relaying 100,000 messages through Discord's limits
// would take the better part of an hour; the database and the QQ double
// end up in the state they would then be in. The Discord ids are
// synthetic (older than the double's own), so nothing points at them.
func seedMapped(w *world, perSession int) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	type seeded struct {
		msgs []qqtest.Message
	}
	bySession := make(map[string]*seeded, len(w.sessions))
	for _, sid := range w.sessions {
		s := &seeded{}
		for i := range perSession {
			m, err := w.qq.Deliver(sid, qqtest.Text(fmt.Sprintf("seed-%s-%d", sid, i)))
			if err != nil {
				t.Fatal(err)
			}
			s.msgs = append(s.msgs, m)
		}
		bySession[sid] = s
	}
	st, err := store.Open(ctx, w.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The session list now says every session changed: take that in, as
	// the engine's poll would.
	var changes []store.SessionChange
	wm := int64(0)
	for _, info := range w.qq.Sessions() {
		changes = append(changes, store.SessionChange{ID: info.ID, SortTime: info.SortTime, Peer: store.Peer{
			UIN: strconv.FormatInt(info.Peer.UIN, 10), EncryptUIN: info.Peer.EncryptUIN, Nick: info.Peer.Nick, AvatarURL: info.Peer.Avatar}})
		wm = max(wm, info.SortTime)
	}
	if err := st.MarkChanged(ctx, changes, wm); err != nil {
		t.Fatal(err)
	}
	discordID := int64(1_000_000_000_000_000_000)
	for _, sid := range w.sessions {
		s := bySession[sid]
		user, _ := w.qq.Session(sid)
		obs := make([]store.Observed, 0, len(s.msgs))
		var cur store.Cursor
		for _, m := range s.msgs {
			payload, err := json.Marshal(bridge.Message{
				ID: m.ID, SessionID: sid, Sequence: m.Sequence, Time: time.Unix(m.Time, 0),
				Sender: bridge.Peer{UIN: strconv.FormatInt(user.Peer.UIN, 10), EncryptUIN: user.Peer.EncryptUIN, Nick: user.Peer.Nick},
				Type:   m.MsgType, Kind: bridge.KindText, Text: m.Meta.Content,
			})
			if err != nil {
				t.Fatal(err)
			}
			obs = append(obs, store.Observed{ID: m.ID, Sequence: m.Sequence, Payload: payload})
			cur = store.Cursor{MsgID: m.ID, Seq: m.Sequence}
		}
		if _, err := st.RecordObserved(ctx, sid, obs, cur, true); err != nil {
			t.Fatal(err)
		}
		entries, err := st.Entries(ctx, store.ToDiscord, sid)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.State != store.StatePending {
				continue
			}
			discordID++
			if err := st.RecordDelivered(ctx, e.ID, []string{strconv.FormatInt(discordID, 10)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if td, _, err := st.OutboxDepth(ctx); err != nil || td != 0 {
		t.Fatalf("seeding left %d deliveries pending (%v)", td, err)
	}
}

// binaryResult is what the real binary showed.
type binaryResult struct {
	sessions, mapped int
	dbBytes          int64
	ready            time.Duration // from exec to /healthz 200
	caughtUp         time.Duration // from exec to the start-up catch-up done
	idleRSS, peakRSS int64         // bytes: VmRSS after the idle window, VmHWM
	idleCPU          float64       // % of one core over the idle window
	startCPU         time.Duration // CPU time used from exec to caught up
	idle             time.Duration
	pollInterval     time.Duration
	qqPerCycle       float64
	qqIdle           map[string]int
	// Discord REST requests from the start to the end of the catch-up,
	// and how many were answered 429.
	startRequests, start429 int
	// startReads: the posts whose history the start-up catch-up read.
	startReads int
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// buildBinary builds cmd/bridge as a release would (no race detector).
func buildBinary(w *world) string {
	t := w.t
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(w.dir, "bridge")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/bridge")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// measureBinary runs the real binary on the world (forum mode), with
// Discord's 50 requests/s global limit, waits for it to be ready and to
// finish its start-up catch-up, then leaves it idle for idle and reads its
// memory and CPU from /proc.
func measureBinary(w *world, idle time.Duration) binaryResult {
	t := w.t
	t.Helper()
	bin := buildBinary(w)
	listen := freeAddr(w)
	const poll = 2 * time.Second
	var eps strings.Builder
	for _, host := range []string{"u.y.qq.com", "api.tencentmusic.com"} {
		fmt.Fprintf(&eps, "%q = %q\n", host, w.qq.URL)
	}
	cfg := fmt.Sprintf(`
[discord]
guild_id = %q
admin_channel_id = %q
api_url = %q
mode = %q
# The doubles' avatars and media name real CDN hosts: link them, never download.
reupload_media = false

[qq]
credential_file = %q
device_file = %q

[qq.endpoints]
%s
[bridge]
database = %q
poll_interval = %q
idle_poll_interval = "10s"

[http]
listen = %q

[log]
level = "warn"
`, w.dc.GuildID, w.dc.AdminChannelID, w.dc.APIURL(), w.mode, w.credPath, w.devPath, eps.String(), w.dbPath, poll.String(), listen)
	cfgPath := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	res := binaryResult{sessions: len(w.sessions), idle: idle, pollInterval: poll}
	if fi, err := os.Stat(w.dbPath); err == nil {
		res.dbBytes = fi.Size()
	}
	if wal, err := os.Stat(w.dbPath + "-wal"); err == nil {
		res.dbBytes += wal.Size()
	}

	logs := &syncBuffer{}
	w.dc.SetGlobalLimit(50)
	defer w.dc.SetGlobalLimit(0)
	recsBefore := len(w.dc.Requests())
	caughtBefore := w.dc.Count("GET", "/channels/*/messages")
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "BRIDGE_DISCORD_TOKEN="+w.dc.Token)
	cmd.Stdout, cmd.Stderr = logs, logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("bridge output:\n%s", logs.String())
		}
	}()
	pid := cmd.Process.Pid

	hc := &http.Client{Timeout: 2 * time.Second}
	waitFor(t, 2*time.Minute, "/healthz 200", func() bool {
		select {
		case <-exited:
			t.Fatalf("the bridge exited:\n%s", logs.String())
		default:
		}
		resp, err := hc.Get("http://" + listen + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	res.ready = time.Since(start)

	// The start-up catch-up lists the forum's active posts, then reads
	// the history of those with a message newer than the bridge's
	// catch-up watermark (since issue 13 not every post): it is done when
	// the listing was answered and no post has been read for 3 s.
	var last time.Time
	waitFor(t, 5*time.Minute, "the start-up catch-up", func() bool {
		listed := false
		for _, rec := range w.dc.Requests()[recsBefore:] {
			switch {
			case rec.Method == "GET" && rec.Status == http.StatusOK && strings.HasSuffix(rec.Path, "/threads/active"):
				listed = true
				last = latest(last, rec.Time)
			case rec.Method == "GET" && isHistoryRead(rec.Path):
				last = latest(last, rec.Time)
			}
		}
		return listed && time.Since(last) >= 3*time.Second
	})
	res.caughtUp = last.Sub(start)
	res.startReads = w.dc.Count("GET", "/channels/*/messages") - caughtBefore
	res.startCPU = procCPU(w, pid)
	for _, rec := range w.dc.Requests()[recsBefore:] {
		if rec.Time.After(last) {
			break
		}
		res.startRequests++
		if rec.Status == http.StatusTooManyRequests {
			res.start429++
		}
	}
	cpu0 := procCPU(w, pid)
	q0 := w.qq.Counts()
	t0 := time.Now()
	time.Sleep(idle)
	cpu1 := procCPU(w, pid)
	el := time.Since(t0)
	q1 := w.qq.Counts()
	res.idleCPU = 100 * (cpu1 - cpu0).Seconds() / el.Seconds()
	res.idleRSS = procStatus(w, pid, "VmRSS")
	res.peakRSS = procStatus(w, pid, "VmHWM")
	res.qqIdle = map[string]int{}
	for k, v := range q1 {
		if d := v - q0[k]; d != 0 {
			res.qqIdle[k] = d
		}
	}
	if n := res.qqIdle["GetSessionList"]; n > 0 {
		res.qqPerCycle = float64(totalCount(res.qqIdle)) / float64(n)
	}
	return res
}

// procCPU is the user and system CPU time of a process so far
// (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s, which is
// USER_HZ on Linux).
func procCPU(w *world, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		w.t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		w.t.Fatalf("cannot read /proc/%d/stat: %q", pid, s)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procStatus reads a "kB" line of /proc/PID/status, in bytes.
func procStatus(w *world, pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		w.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				w.t.Fatalf("%s: %q", key, line)
			}
			return kb << 10
		}
	}
	w.t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// syncBuffer collects the subprocess's output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(w *world) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
