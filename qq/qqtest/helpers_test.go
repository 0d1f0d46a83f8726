package qqtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq/qqtest"
)

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1763700000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testAccount = qqtest.Account{
	MusicID: 123456789, MusicKey: "Q_H_L_5abcdef0123456789", LoginType: 2, Nick: "me",
	OpenID: "oid", AccessToken: "at", RefreshToken: "rt", RefreshKey: "rk", ExpiredAt: 1800000000,
}

// goldenAndroidComm reads the reference's Android comm for the fixed
// device and the QQ credential from the reference vectors in
// ../testdata/vectors.
func goldenAndroidComm(t testing.TB) map[string]any {
	t.Helper()
	p := filepath.Join("..", "testdata", "vectors", "qqmusic_comm_golden.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reference vector is missing: %v", err)
	}
	var g struct {
		Comm []struct {
			Platform   string         `json:"platform"`
			Credential map[string]any `json:"credential"`
			Comm       map[string]any `json:"comm"`
		} `json:"comm"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Comm {
		if c.Platform == "android" && c.Credential["musickey"] == "Q_H_L_5abcdef0123456789" {
			return c.Comm
		}
	}
	t.Fatal("no Android comm for the QQ credential in the golden file")
	return nil
}

// client speaks the wire protocol by hand, the way the facts describe it.
type client struct {
	t       testing.TB
	s       *qqtest.Server
	hc      *http.Client
	comm    map[string]any
	musicID int64
	key     string
	ua      string
	// cookies sends the credential as cookies too, which the reference
	// never does on the gateway (a deviation).
	cookies bool
}

// newEnv starts a server with a fake clock and the test account, and a
// client that has bootstrapped its session (GetSession).
func newEnv(t testing.TB, opts ...qqtest.Option) (*qqtest.Server, *client, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	s := qqtest.New(append([]qqtest.Option{qqtest.WithClock(clk.Now)}, opts...)...)
	t.Cleanup(s.Close)
	s.SetAccount(testAccount)
	c := &client{t: t, s: s, hc: &http.Client{Timeout: 5 * time.Second}, comm: goldenAndroidComm(t),
		musicID: testAccount.MusicID, key: testAccount.MusicKey, ua: qqtest.AndroidUserAgent}
	q16, q36 := s.QIMEI()
	c.comm["QIMEI"], c.comm["QIMEI36"] = q16, q36
	code, data := c.call(qqtest.ModuleSession, "GetSession", map[string]any{"uid": "", "vkey": 0, "caller": 0})
	if code != 0 {
		t.Fatalf("GetSession: code %d", code)
	}
	sess := data["session"].(map[string]any)
	c.comm["uid"], c.comm["sid"] = sess["uid"], sess["sid"]
	return s, c, clk
}

// body builds a gateway body for items {module, method, param}, keys in
// the reference's order: comm (AndroidCommOrder, then any other key), then
// req_N as module, method, param.
func (c *client) body(items ...[3]any) []byte {
	var b bytes.Buffer
	b.WriteString(`{"comm":{`)
	n := 0
	field := func(k string, v any) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			c.t.Fatal(err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	var extra []string
	for k := range c.comm {
		if !slices.Contains(qqtest.AndroidCommOrder, k) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range append(slices.Clone(qqtest.AndroidCommOrder), extra...) {
		if v, ok := c.comm[k]; ok {
			field(k, v)
		}
	}
	b.WriteByte('}')
	for i, it := range items {
		mod, _ := json.Marshal(it[0])
		meth, _ := json.Marshal(it[1])
		fmt.Fprintf(&b, `,"req_%d":{"module":%s,"method":%s,"param":`, i, mod, meth)
		c.writeParam(&b, it[0], it[1], it[2])
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeParam writes param with its keys in the method's ParamOrder (then
// any others, sorted), as the reference sends them.
func (c *client) writeParam(b *bytes.Buffer, module, method, param any) {
	m, ok := param.(map[string]any)
	spec, known := c.s.Lookup(fmt.Sprint(module), fmt.Sprint(method))
	if !ok || !known {
		raw, err := json.Marshal(param)
		if err != nil {
			c.t.Fatal(err)
		}
		b.Write(raw)
		return
	}
	var rest []string
	for k := range m {
		if !slices.Contains(spec.ParamOrder, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	b.WriteByte('{')
	n := 0
	for _, k := range append(slices.Clone(spec.ParamOrder), rest...) {
		v, ok := m[k]
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			c.t.Fatal(err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
}

// post sends a body to path (with the credential's cookies when c.cookies).
func (c *client) post(path string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.s.URL+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if c.cookies && c.musicID != 0 {
		id := strconv.FormatInt(c.musicID, 10)
		req.AddCookie(&http.Cookie{Name: "uin", Value: id})
		req.AddCookie(&http.Cookie{Name: "qqmusic_uin", Value: id})
	}
	if c.cookies && c.key != "" {
		req.AddCookie(&http.Cookie{Name: "qm_keyst", Value: c.key})
		req.AddCookie(&http.Cookie{Name: "qqmusic_key", Value: c.key})
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// batch posts items to musicu.fcg and decodes the reply.
func (c *client) batch(items ...[3]any) map[string]any {
	c.t.Helper()
	resp, b, err := c.post(qqtest.PathMusicu, c.body(items...))
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	return decode(c.t, b)
}

// call posts one item and returns its code and data.
func (c *client) call(module, method string, param map[string]any) (int, map[string]any) {
	c.t.Helper()
	top := c.batch([3]any{module, method, param})
	if code := num(top["code"]); code != 0 {
		c.t.Fatalf("%s: top-level code %d", method, code)
	}
	item, ok := top["req_0"].(map[string]any)
	if !ok {
		c.t.Fatalf("%s: no req_0 in %v", method, top)
	}
	data, _ := item["data"].(map[string]any)
	return num(item["code"]), data
}

func (c *client) setCredential(musicID int64, key string) {
	c.musicID, c.key = musicID, key
	if musicID == 0 {
		delete(c.comm, "qq")
	} else {
		c.comm["qq"] = strconv.FormatInt(musicID, 10)
	}
	if key == "" {
		delete(c.comm, "authst")
	} else {
		c.comm["authst"] = key
	}
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("reply is not JSON: %v: %s", err, b)
	}
	return m
}

func num(v any) int {
	switch x := v.(type) {
	case json.Number:
		n, _ := x.Int64()
		return int(n)
	case float64:
		return int(x)
	}
	return -1
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []map[string]any {
	a, _ := v.([]any)
	out := make([]map[string]any, 0, len(a))
	for _, e := range a {
		m, _ := e.(map[string]any)
		out = append(out, m)
	}
	return out
}

func noDeviations(t testing.TB, s *qqtest.Server) {
	t.Helper()
	if d := s.Deviations(); len(d) != 0 {
		t.Errorf("unexpected deviations:\n%v", d)
	}
}

// signedPath is the musics.fcg path with the sign of body.
func signedPath(body []byte, ms int64) string {
	return fmt.Sprintf("%s?_=%d&sign=%s", qqtest.PathMusics, ms, qq.Sign(body))
}

func sessionListParam(lastID string, lastTime int64, size int) map[string]any {
	return map[string]any{"last_id": lastID, "order": 1, "size": size, "last_time": lastTime, "from": 0, "FansFlag": 1}
}
