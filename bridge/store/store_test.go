package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bridge.db")
	s, err := Open(context.Background(), p)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

func TestOpenCreatesPrivateWALDatabase(t *testing.T) {
	ctx := context.Background()
	s, p := openTemp(t)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode = %v, want 0600", fi.Mode().Perm())
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	// Every commit is synced: it survives a power loss (see Open).
	var sync int
	if err := s.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
	// Write something so that the WAL exists, then check its mode too.
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 5}}, 5); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(p + suffix); err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode = %v, want no group/other access", suffix, fi.Mode().Perm())
		}
	}
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() || v < 1 {
		t.Errorf("user_version = %d, %v; want %d", v, err, SchemaVersion())
	}
}

func TestOpenTightensLooseMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bridge.db")
	s, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after reopen = %v, want 0600", fi.Mode().Perm())
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "bridge.db")
	s, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", Peer: Peer{UIN: "42", Nick: "Ann"}, SortTime: 100}}, 100); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChannel(ctx, "s1", Channel{ChannelID: "900", WebhookID: "w", WebhookToken: "tok"}, "Ann", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordObserved(ctx, "s1", []Observed{{ID: "m1", Sequence: 1, Payload: []byte("x")}}, Cursor{MsgID: "m1", Seq: 1}, true); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, p)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	wm, err := s.Watermark(ctx)
	if err != nil || wm != 100 {
		t.Errorf("Watermark = %d, %v; want 100", wm, err)
	}
	got, ok, err := s.SessionByChannel(ctx, "900")
	if err != nil || !ok {
		t.Fatalf("SessionByChannel: %v %v", ok, err)
	}
	if got.ID != "s1" || got.Peer.UIN != "42" || got.LastMsgID != "m1" || got.LastSeq != 1 || got.Dirty || !got.Backfilled || got.Channel.WebhookToken != "tok" {
		t.Errorf("session after reopen = %+v", got)
	}
	heads, err := s.Heads(ctx)
	if err != nil || len(heads) != 1 || heads[0].Key != "m1" {
		t.Errorf("Heads after reopen = %+v, %v", heads, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	s, p := openTemp(t)
	if _, err := s.db.ExecContext(ctx, "PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, p)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
	if !strings.Contains(err.Error(), "999") || !strings.Contains(err.Error(), "newer bridge") {
		t.Errorf("error does not say what to do: %v", err)
	}
}

func TestCorruptFileRefusedAndKept(t *testing.T) {
	tests := []struct {
		name    string
		content func(t *testing.T, p string) []byte
		want    error
	}{
		{"not a database", func(t *testing.T, p string) []byte {
			return []byte(strings.Repeat("this is not sqlite at all\n", 400))
		}, ErrCorrupt},
		{"damaged pages", func(t *testing.T, p string) []byte {
			ctx := context.Background()
			s, err := Open(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			var cs []SessionChange
			for i := 0; i < 300; i++ {
				cs = append(cs, SessionChange{ID: strings.Repeat("s", 50) + string(rune('a'+i%26)) + time.Duration(i).String(), SortTime: int64(i)})
			}
			if err := s.MarkChanged(ctx, cs, 300); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				t.Fatal(err)
			}
			s.Close()
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Keep the header page, scribble over everything after it.
			for i := 4096; i < len(b); i++ {
				b[i] = 0xA5
			}
			return b
		}, ErrCorrupt},
		{"another application's database", func(t *testing.T, p string) []byte {
			ctx := context.Background()
			s, err := Open(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.ExecContext(ctx, "PRAGMA application_id = 1234"); err != nil {
				t.Fatal(err)
			}
			s.Close()
			b, _ := os.ReadFile(p)
			return b
		}, ErrNotBridge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bridge.db")
			b := tt.content(t, p)
			os.Remove(p + "-wal")
			os.Remove(p + "-shm")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(context.Background(), p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
			after, _ := os.ReadFile(p)
			if string(after) != string(b) {
				t.Error("the refused file was modified")
			}
		})
	}
}

func TestOutboxToDiscordLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 10}, {ID: "s2", SortTime: 11}}, 11); err != nil {
		t.Fatal(err)
	}
	dirty, err := s.DirtySessions(ctx)
	if err != nil || len(dirty) != 2 {
		t.Fatalf("DirtySessions = %v, %v", dirty, err)
	}
	obs := []Observed{{ID: "a", Sequence: 1, Payload: []byte("A")}, {ID: "b", Sequence: 2, Payload: []byte("B")}}
	res, err := s.RecordObserved(ctx, "s1", obs, Cursor{MsgID: "b", Seq: 2}, true)
	if err != nil || len(res.Queued) != 2 {
		t.Fatalf("RecordObserved = %+v, %v", res, err)
	}
	// Seen again (another page order, a resync): nothing new.
	res, err = s.RecordObserved(ctx, "s1", []Observed{obs[1], obs[0]}, Cursor{MsgID: "a", Seq: 1}, true)
	if err != nil || len(res.Queued) != 0 || res.Known != 2 {
		t.Fatalf("RecordObserved again = %+v, %v", res, err)
	}
	ss, _, _ := s.Session(ctx, "s1")
	if ss.LastMsgID != "b" || ss.LastSeq != 2 || ss.Dirty {
		t.Errorf("cursor moved backwards or session still dirty: %+v", ss)
	}
	td, tq, err := s.OutboxDepth(ctx)
	if err != nil || td != 2 || tq != 0 {
		t.Errorf("OutboxDepth = %d, %d, %v", td, tq, err)
	}

	heads, err := s.Heads(ctx)
	if err != nil || len(heads) != 1 || heads[0].Key != "a" || string(heads[0].Payload) != "A" || heads[0].Attempts != 0 {
		t.Fatalf("Heads = %+v, %v", heads, err)
	}
	a := heads[0]
	if err := s.MarkAttempt(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	if err := s.RecordRetry(ctx, a.ID, next, "discord 502"); err != nil {
		t.Fatal(err)
	}
	e, _, _ := s.Entry(ctx, a.ID)
	if e.Attempts != 1 || !e.NextAttemptAt.Equal(next) || e.LastError != "discord 502" || e.State != StatePending {
		t.Errorf("after retry: %+v", e)
	}
	if err := s.RecordDelivered(ctx, a.ID, []string{"1001", "1002"}); err != nil {
		t.Fatal(err)
	}
	ids, known, err := s.KnownMessage(ctx, "s1", "a")
	if err != nil || !known || strings.Join(ids, ",") != "1001,1002" {
		t.Errorf("KnownMessage = %v %v %v", ids, known, err)
	}
	ss, _, _ = s.Session(ctx, "s1")
	if ss.LastPostedDiscordID != "1002" {
		t.Errorf("LastPostedDiscordID = %q", ss.LastPostedDiscordID)
	}
	heads, _ = s.Heads(ctx)
	if len(heads) != 1 || heads[0].Key != "b" {
		t.Fatalf("next head = %+v", heads)
	}
	if err := s.RecordParked(ctx, heads[0].ID, "400 bad request"); err != nil {
		t.Fatal(err)
	}
	if heads, _ = s.Heads(ctx); len(heads) != 0 {
		t.Errorf("heads after all settled: %+v", heads)
	}
	// The parked entry waits for its placeholder and stays listed.
	if acks, _ := s.PendingAcks(ctx); len(acks) != 1 || acks[0].Direction != ToDiscord || acks[0].Reason != "400 bad request" {
		t.Errorf("PendingAcks after parking = %+v", acks)
	}
	if stuck, _ := s.Stuck(ctx, "", 0); len(stuck) != 1 || stuck[0].Key != "b" || stuck[0].Status != StatusParked {
		t.Errorf("Stuck = %+v", stuck)
	}
	// Pruning removes delivered entries, never parked ones, and the message
	// map stays.
	n, err := s.Prune(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Errorf("Prune = %d, %v", n, err)
	}
	if _, known, _ := s.KnownMessage(ctx, "s1", "b"); !known {
		t.Error("message map pruned")
	}
}

func TestOutboxToQQLifecycleAndEcho(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, []SessionChange{{ID: "s1", SortTime: 10}}, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChannel(ctx, "s1", Channel{ChannelID: "c1"}, "", ""); err != nil {
		t.Fatal(err)
	}
	parts := []ReplyPart{{ClientKey: "k0", Payload: []byte("p0")}, {ClientKey: "k1", Payload: []byte("p1")}}
	ok, err := s.QueueReply(ctx, "s1", "c1", "5000", parts, "")
	if err != nil || !ok {
		t.Fatalf("QueueReply = %v %v", ok, err)
	}
	if ok, err := s.QueueReply(ctx, "s1", "c1", "5000", parts, ""); err != nil || ok {
		t.Fatalf("QueueReply twice = %v %v, want false", ok, err)
	}
	// An older id does not move the last seen id back.
	if _, err := s.QueueReply(ctx, "s1", "c1", "499", parts[:1], ""); err != nil {
		t.Fatal(err)
	}
	ss, _, _ := s.Session(ctx, "s1")
	if ss.LastSeenDiscordID != "5000" {
		t.Errorf("LastSeenDiscordID = %q, want 5000", ss.LastSeenDiscordID)
	}
	if own, _ := s.IsOwnClientKey(ctx, "k1"); !own {
		t.Error("k1 not recognised as own client key")
	}
	es, _ := s.Entries(ctx, ToQQ, "s1")
	if len(es) != 3 || es[0].Key != "5000#0" || es[1].Part != 1 || es[1].Parts != 2 {
		t.Fatalf("entries = %+v", es)
	}
	// Part 0 delivered normally.
	if err := s.RecordDelivered(ctx, es[0].ID, []string{"q0"}); err != nil {
		t.Fatal(err)
	}
	if acks, _ := s.PendingAcks(ctx); len(acks) != 0 {
		t.Errorf("ack asked before every part was sent: %+v", acks)
	}
	// Part 1 was sent, then the process died before recording it: its
	// echo settles it.
	if err := s.MarkAttempt(ctx, es[1].ID); err != nil {
		t.Fatal(err)
	}
	res, err := s.RecordObserved(ctx, "s1", []Observed{
		{ID: "q0", Sequence: 7, FromOwner: true, ClientKey: "k0"},
		{ID: "q1", Sequence: 8, FromOwner: true, ClientKey: "k1"},
		{ID: "q2", Sequence: 9, FromOwner: true, ClientKey: "app-key", Payload: []byte("typed in the app")},
	}, Cursor{MsgID: "q2", Seq: 9}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Known != 1 || strings.Join(res.Echoes, ",") != "q1" || strings.Join(res.Queued, ",") != "q2" || res.Settled != 1 {
		t.Errorf("RecordObserved = %+v; want q0 known, q1 echo settling its entry, q2 queued", res)
	}
	e1, _, _ := s.Entry(ctx, es[1].ID)
	if e1.State != StateDelivered || strings.Join(e1.RemoteIDs, ",") != "q1" {
		t.Errorf("echo did not settle part 1: %+v", e1)
	}
	acks, err := s.PendingAcks(ctx)
	if err != nil || len(acks) != 1 || !acks[0].Delivered || acks[0].DiscordMsgID != "5000" {
		t.Fatalf("PendingAcks = %+v, %v", acks, err)
	}
	if err := s.AckDone(ctx, acks[0].EntryID); err != nil {
		t.Fatal(err)
	}
	// The second message fails: its ack says why.
	if err := s.RecordParked(ctx, es[2].ID, "QQ refused: too frequent"); err != nil {
		t.Fatal(err)
	}
	acks, _ = s.PendingAcks(ctx)
	if len(acks) != 1 || acks[0].Delivered || acks[0].Reason != "QQ refused: too frequent" || acks[0].DiscordMsgID != "499" {
		t.Fatalf("PendingAcks after failure = %+v", acks)
	}
	// A refused reply is recorded as failed right away.
	if ok, err := s.QueueReply(ctx, "s1", "c1", "6000", nil, "too long"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	acks, _ = s.PendingAcks(ctx)
	if len(acks) != 2 || acks[1].DiscordMsgID != "6000" || acks[1].Reason != "too long" {
		t.Fatalf("PendingAcks after refusal = %+v", acks)
	}
	if td, tq, _ := s.OutboxDepth(ctx); td != 1 || tq != 0 {
		t.Errorf("OutboxDepth = %d, %d; want 1, 0", td, tq)
	}
}

func TestSnowflakeAfter(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"2", "", true},
		{"", "2", false},
		{"10", "9", true},
		{"9", "10", false},
		{"1234", "1234", false},
		{"1235", "1234", true},
	}
	for _, tt := range tests {
		if got := SnowflakeAfter(tt.a, tt.b); got != tt.want {
			t.Errorf("SnowflakeAfter(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestWatermarkNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.MarkChanged(ctx, nil, 50); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkChanged(ctx, nil, 20); err != nil {
		t.Fatal(err)
	}
	if wm, _ := s.Watermark(ctx); wm != 50 {
		t.Errorf("Watermark = %d, want 50", wm)
	}
}

func TestMigratesVersion1Database(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "bridge.db")
	if err := prepareFile(p); err != nil {
		t.Fatal(err)
	}
	// A database as the first release left it: schema version 1 only.
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations()
	raw := &Store{db: db, path: p, now: time.Now}
	if err := raw.migrate(ctx, ms[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO sessions (session_id, peer_uin, channel_id, last_seen_discord_id, created_at, updated_at)
		VALUES ('s1', '42', 'c1', '777', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, p)
	if err != nil {
		t.Fatalf("Open of a version 1 database: %v", err)
	}
	defer s.Close()
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() {
		t.Errorf("user_version = %d, %v; want %d", v, err, SchemaVersion())
	}
	got, ok, err := s.SessionByChannel(ctx, "c1")
	if err != nil || !ok || got.LastSeenDiscordID != "777" || got.CaughtUpDiscordID != "" {
		t.Fatalf("session after migration = %+v, %v, %v", got, ok, err)
	}
	if err := s.AdvanceCaughtUp(ctx, "c1", "900"); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceCaughtUp(ctx, "c1", "800"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.SessionByChannel(ctx, "c1"); got.CaughtUpDiscordID != "900" {
		t.Errorf("CaughtUpDiscordID = %q, want 900", got.CaughtUpDiscordID)
	}
}

func TestSecondOpenRefusedWhileInUse(t *testing.T) {
	ctx := context.Background()
	s, p := openTemp(t)
	if _, err := Open(ctx, p); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	s.Close()
	s2, err := Open(ctx, p)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestOpenCreatesDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data", "sub", "bridge.db")
	s, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(filepath.Dir(p))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v; want mode 0700", fi, err)
	}
}
