package discordtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// post sends a raw REST request with client and returns the status (0 when
// no answer came) and the transport error.
func post(t *testing.T, client *http.Client, s *Server, path, body string) (int, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bot "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var b json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return resp.StatusCode, b, nil
}

// TestApplyThenFailOnEveryCreatingRoute: the request is applied (its
// effect is there for later reads), and the client gets a 5xx, a dropped
// connection, or no answer until it gives up. The next request is served
// as usual.
func TestApplyThenFailOnEveryCreatingRoute(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dg := session(t, s)
	text := s.AddChannel(Channel{Type: ChannelTypeText, Name: "text"})
	forum := s.AddChannel(Channel{Type: ChannelTypeForum, Name: "inbox"})
	wh, err := dg.WebhookCreate(text, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	fwh, err := dg.WebhookCreate(forum, "bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	th, err := dg.ForumThreadStartComplex(forum, &discordgo.ThreadStart{Name: "Alice"}, &discordgo.MessageSend{Content: "first"})
	if err != nil {
		t.Fatal(err)
	}
	routes := []struct {
		name, pattern, path, body string
		effects                   func() int
	}{
		{"message create", "/channels/*/messages", "/api/v9/channels/" + text + "/messages", `{"content":"hi"}`,
			func() int { return len(s.Messages(text)) }},
		{"webhook execute", "/webhooks/*/*", "/api/v9/webhooks/" + wh.ID + "/" + wh.Token + "?wait=true", `{"content":"hi","username":"Alice"}`,
			func() int { return len(s.Messages(text)) }},
		{"webhook execute in a thread", "/webhooks/*/*", "/api/v9/webhooks/" + fwh.ID + "/" + fwh.Token + "?wait=true&thread_id=" + th.ID, `{"content":"hi"}`,
			func() int { return len(s.Messages(th.ID)) }},
		{"channel create", "/guilds/*/channels", "/api/v9/guilds/" + s.GuildID + "/channels", `{"name":"new","type":0}`,
			func() int { return len(s.Channels()) }},
		{"webhook create", "/channels/*/webhooks", "/api/v9/channels/" + text + "/webhooks", `{"name":"hook"}`,
			func() int { return len(s.Webhooks(text)) }},
		{"forum post create", "/channels/*/threads", "/api/v9/channels/" + forum + "/threads", `{"name":"Bob","message":{"content":"hi"}}`,
			func() int { return len(s.Channels()) }},
	}
	hows := []Lost{Lost500, Lost502, Lost503, LostDrop, LostHang}
	for _, rt := range routes {
		for _, how := range hows {
			before := rt.effects()
			s.ApplyThenFail("POST", rt.pattern, 1, how)
			client := http.DefaultClient
			if how == LostHang {
				// The client gives up; the double then drops the connection.
				client = &http.Client{Timeout: 200 * time.Millisecond}
			}
			status, _, err := post(t, client, s, rt.path, rt.body)
			switch {
			case how.status() != 0 && (err != nil || status != how.status()):
				t.Errorf("%s, %v: status %d, %v; want %d", rt.name, how, status, err, how.status())
			case how == LostDrop && err == nil:
				t.Errorf("%s, %v: answered %d; want a dropped connection", rt.name, how, status)
			case how == LostHang && (err == nil || !isTimeout(err)):
				t.Errorf("%s, %v: %d, %v; want the client's time-out", rt.name, how, status, err)
			}
			if got := rt.effects(); got != before+1 {
				t.Errorf("%s, %v: %d effects, want %d: the request was not applied", rt.name, how, got-before, 1)
			}
			status, _, err = post(t, http.DefaultClient, s, rt.path, strings.Replace(rt.body, `"name":"new"`, `"name":"newer"`, 1))
			if err != nil || status != 200 && status != 201 {
				t.Errorf("%s after %v: %d, %v; want served as usual", rt.name, how, status, err)
			}
		}
	}
}

// get sends a raw REST GET.
func get(t *testing.T, s *Server, path string) (int, []byte, error) {
	t.Helper()
	resp := rawDo(t, s, "GET", path, "", "Bot "+s.Token)
	defer resp.Body.Close()
	var b json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return resp.StatusCode, b, nil
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// TestApplyThenFailShare: a share of the matching requests is applied and
// then fails, the mix of ways drawn from the seed; other routes are not
// touched; a rate of 0 turns it off.
func TestApplyThenFailShare(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	text := s.AddChannel(Channel{Type: ChannelTypeText, Name: "text"})
	s.SetApplyThenFail("POST", "/channels/*/messages", 0.3, 7, Lost502, LostDrop)
	seen := map[string]int{}
	const n = 60
	for range n {
		status, _, err := post(t, http.DefaultClient, s, "/api/v9/channels/"+text+"/messages", `{"content":"x"}`)
		switch {
		case err != nil:
			seen["dropped"]++
		case status == 502:
			seen["502"]++
		case status == 200:
			seen["ok"]++
		default:
			t.Fatalf("status %d", status)
		}
	}
	if seen["dropped"] == 0 || seen["502"] == 0 || seen["ok"] < n/2 {
		t.Errorf("outcomes %v: want some of each, most ok", seen)
	}
	if got := len(s.Messages(text)); got != n {
		t.Errorf("%d messages stored, want %d: every request was applied", got, n)
	}
	// Other routes are untouched.
	for range 20 {
		if status, _, err := post(t, http.DefaultClient, s, "/api/v9/channels/"+text+"/webhooks", `{"name":"h"}`); err != nil || status != 200 {
			t.Fatalf("webhook create: %d, %v", status, err)
		}
		if len(s.Webhooks(text)) >= 10 {
			break
		}
	}
	s.SetApplyThenFail("POST", "/channels/*/messages", 0, 0)
	for range 20 {
		if status, _, err := post(t, http.DefaultClient, s, "/api/v9/channels/"+text+"/messages", `{"content":"x"}`); err != nil || status != 200 {
			t.Fatalf("after turning it off: %d, %v", status, err)
		}
	}
}

// TestEnforceNonce: a second message create with the same nonce by the
// same author returns the first message instead of a new one; without
// enforce_nonce, or with another nonce, a new message is made. With an
// applied-then-failed first try, the retry finds the message made.
func TestEnforceNonce(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	text := s.AddChannel(Channel{Type: ChannelTypeText, Name: "text"})
	path := "/api/v9/channels/" + text + "/messages"
	create := func(body string) Message {
		t.Helper()
		status, b, err := post(t, http.DefaultClient, s, path, body)
		if err != nil || status != 200 {
			t.Fatalf("create %s: %d, %v, %s", body, status, err, b)
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := create(`{"content":"a","nonce":"n-1","enforce_nonce":true}`)
	if first.Nonce != "n-1" {
		t.Errorf("nonce echoed as %q", first.Nonce)
	}
	again := create(`{"content":"a","nonce":"n-1","enforce_nonce":true}`)
	if again.ID != first.ID || len(s.Messages(text)) != 1 {
		t.Fatalf("same nonce: got message %s (first %s), %d messages", again.ID, first.ID, len(s.Messages(text)))
	}
	// As on Discord, reads of the message do not carry the nonce.
	if status, b, err := get(t, s, "/api/v9/channels/"+text+"/messages"); err != nil || status != 200 || strings.Contains(string(b), "n-1") {
		t.Errorf("history: %d, %v, %s; want no nonce", status, err, b)
	}
	create(`{"content":"a","nonce":"n-2","enforce_nonce":true}`)
	create(`{"content":"a","nonce":"n-1"}`) // not enforced
	create(`{"content":"a","nonce":12345,"enforce_nonce":true}`)
	if n := len(s.Messages(text)); n != 4 {
		t.Errorf("%d messages, want 4", n)
	}
	if status, _, _ := post(t, http.DefaultClient, s, path, `{"content":"a","nonce":"this-nonce-is-longer-than-25","enforce_nonce":true}`); status != 400 {
		t.Errorf("a 26-character nonce: %d, want 400", status)
	}

	s.ApplyThenFail("POST", "/channels/*/messages", 1, Lost502)
	if status, _, _ := post(t, http.DefaultClient, s, path, `{"content":"b","nonce":"n-3","enforce_nonce":true}`); status != 502 {
		t.Fatalf("applied then failed: %d", status)
	}
	retry := create(`{"content":"b","nonce":"n-3","enforce_nonce":true}`)
	ms := s.Messages(text)
	if len(ms) != 5 || ms[4].ID != retry.ID {
		t.Errorf("retry after a lost answer: %d messages, retry got %s; want the one message made", len(ms), retry.ID)
	}
}
