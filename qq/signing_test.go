package qq_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// A call answered 2000 (signature required) goes once more through the
// signed musics.fcg, and from then on its method is signed from the start;
// other methods stay on musicu.fcg.
func TestSignatureRequiredResendsSignedAndRemembers(t *testing.T) {
	e := newEnv(t, qqtest.WithSignRequired("GetMsgDetails", "SendMessageAsync"))
	ctx := ctxT(t)
	alice := e.s.AddUser(qqtest.User{Nick: "Alice"})
	sid := e.s.AddSession(alice)
	img, err := e.s.Deliver(sid, qqtest.Image("https://p/1.jpg", 10, 10))
	if err != nil {
		t.Fatal(err)
	}

	signedFlags := func(method string) []bool {
		var out []bool
		for _, r := range e.s.Requests() {
			if r.Method == method {
				out = append(out, r.Signed)
			}
		}
		return out
	}
	for i := range 2 {
		d, err := e.c.GetMediaDetails(ctx, sid, []string{img.ID})
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if _, ok := d.MsgIDs[img.ID]; !ok {
			t.Fatalf("call %d: details lack the image: %+v", i+1, d)
		}
	}
	if got := signedFlags("GetMsgDetails"); len(got) != 3 || got[0] || !got[1] || !got[2] {
		t.Errorf("GetMsgDetails went signed %v, want [false true true]: once unsigned, then signed", got)
	}

	// A send refused with 2000 did not happen: sent again signed, it
	// happens exactly once.
	if _, err := e.c.SendMessage(ctx, qq.SendMessageParams{UserID: strconv.FormatInt(alice.UIN, 10), SessionID: sid, MsgType: qqtest.MsgTypeText, MetaData: qq.TextMetaData("hi")}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.s.Sent()); n != 1 {
		t.Errorf("%d messages sent, want 1", n)
	}
	if _, err := e.c.GetSessionList(ctx, qq.SessionListParams{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range signedFlags("GetSessionList") {
		if s {
			t.Error("GetSessionList went signed; only the methods answered 2000 should")
		}
	}
}

// When even the signed call is answered 2000, the error says so; there is
// no third try.
func TestSignatureRequiredEvenSigned(t *testing.T) {
	e := newEnv(t)
	e.s.Fail("GetConfig", qqtest.Fault{Kind: qqtest.Signature})
	_, err := e.c.GetConfig(ctxT(t), 1, "")
	if !errors.Is(err, qq.ErrSignatureRequired) {
		t.Fatalf("err %v, want ErrSignatureRequired", err)
	}
	if n := e.s.Count("GetConfig"); n != 2 {
		t.Errorf("GetConfig sent %d times, want 2 (unsigned, then signed)", n)
	}
}
