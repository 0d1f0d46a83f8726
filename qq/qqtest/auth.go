package qqtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Account is the logged-in QQ Music account: the credential every request
// must carry, and the user its sent messages come from.
type Account struct {
	MusicID  int64
	MusicKey string
	// LoginType is 1 (WeChat), 2 (QQ) or another login's type; 0 is
	// inferred from the musickey ("W_X" prefix: 1, else 2).
	LoginType int

	Nick       string
	Avatar     string
	EncryptUIN string

	OpenID       string
	UnionID      string
	AccessToken  string
	RefreshToken string
	// RefreshKey, when set, must be sent by a refresh (Login, loginMode 2).
	RefreshKey string
	ExpiredAt  int64

	// MusicKeyCreateTime and KeyExpiresIn (unix seconds, seconds): when
	// KeyExpiresIn is non-zero the musickey expires at their sum on the
	// server's clock.
	MusicKeyCreateTime int64
	KeyExpiresIn       int64
}

// SetAccount makes a the logged-in account, with a working musickey. Its
// user (MusicID, Nick, Avatar, EncryptUIN) is added to the users.
func (s *Server) SetAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setAccountLocked(a)
}

func (s *Server) setAccountLocked(a Account) {
	if a.LoginType == 0 {
		a.LoginType = 2
		if strings.HasPrefix(a.MusicKey, "W_X") {
			a.LoginType = 1
		}
	}
	if a.EncryptUIN == "" {
		a.EncryptUIN = encryptUIN(a.MusicID)
	}
	s.account, s.haveAccount, s.expired = a, true, false
	u := User{UIN: a.MusicID, EncryptUIN: a.EncryptUIN, Nick: a.Nick, Avatar: a.Avatar}
	s.addUserLocked(u)
}

// Account returns the logged-in account as the server knows it now (after a
// refresh: the new musickey, musickeyCreateTime and keyExpiresIn).
func (s *Server) Account() Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account
}

// ExpireCredential makes the current musickey stop working: every call
// that needs a credential is answered with the expired code (1000 unless
// WithExpiredCode) until a refresh issues a new key or SetAccount is called.
func (s *Server) ExpireCredential() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = true
}

// keyExpiredLocked reports whether the account's musickey no longer works.
func (s *Server) keyExpiredLocked() bool {
	if s.expired {
		return true
	}
	a := s.account
	return a.KeyExpiresIn > 0 && s.clock().Unix() >= a.MusicKeyCreateTime+a.KeyExpiresIn
}

// authenticate returns 0 when the call carries the account's working
// credential in comm.qq and comm.authst (cookies do not count: the
// reference sends none on the gateway), else the code to answer with.
func (s *Server) authenticate(c *Call) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.haveAccount || s.account.MusicKey == "" {
		return CodeExpired
	}
	id := strconv.FormatInt(s.account.MusicID, 10)
	key := s.account.MusicKey
	if asString(c.Comm["qq"]) != id || asString(c.Comm["authst"]) != key {
		return CodeExpired
	}
	if s.keyExpiredLocked() {
		return s.expiredCode
	}
	return 0
}

// The Android comm as the facts give it (qqmusic-protocol.md section 2).
var (
	androidComm = map[string]any{
		"ct": int64(11), "cv": int64(14090008), "v": int64(14090008), "chid": "10003505",
		"tmeAppID": "qqmusic", "os_ver": "10", "phonetype": "MI 6",
		"devicelevel": "29", "newdevicelevel": "29",
	}
	romPattern   = regexp.MustCompile(`^xiaomi/iarim/sagit:10/eomam\.200122\.001/[0-9]{7}:user/release-keys$`)
	hex32Pattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hex16Pattern = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// checkRequestLocked compares a gateway request's User-Agent, cookies and
// comm with the facts and returns the deviations.
func (s *Server) checkRequestLocked(where string, r *http.Request, comm map[string]any, cookies map[string]string, items []*item) []string {
	names := make([]string, 0, len(items))
	auth, session := false, false
	overrides := map[string]any{}
	for _, it := range items {
		names = append(names, it.method)
		if it.spec == nil {
			continue
		}
		auth = auth || it.spec.Auth
		session = session || it.method == "GetSession"
		for k, v := range it.spec.Comm {
			overrides[k] = v
		}
	}
	where = fmt.Sprintf("%s[%s]", where, strings.Join(names, ","))
	var out []string
	add := func(format string, args ...any) { out = append(out, where+": "+fmt.Sprintf(format, args...)) }

	if ua := r.Header.Get("User-Agent"); ua != AndroidUserAgent {
		add("User-Agent %q, want %q", ua, AndroidUserAgent)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		add("Content-Type %q, want application/json", ct)
	}
	if len(cookies) > 0 {
		names := make([]string, 0, len(cookies))
		for n := range cookies {
			names = append(names, n)
		}
		sort.Strings(names)
		add("cookies %s sent; the reference sends no cookies on the gateway (the credential travels in comm.qq and comm.authst)", strings.Join(names, ", "))
	}
	for _, it := range items {
		if it.spec == nil {
			add("unknown module/method %s/%s", it.module, it.method)
			continue
		}
		if it.bad == "" {
			out = append(out, checkParams(where+" "+it.method, it.spec.Params, it.param)...)
			out = append(out, checkParamOrder(where+" "+it.method, it.spec.ParamOrder, it.raw)...)
		}
	}

	// Fixed values, with the calls' overrides.
	want := map[string]any{}
	for k, v := range androidComm {
		want[k] = v
	}
	for k, v := range overrides {
		want[k] = v
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := want[k]
		if w == nil {
			continue
		}
		got, ok := comm[k]
		if !ok {
			add("comm.%s is missing, want %v", k, w)
			continue
		}
		if !sameValue(got, w) {
			add("comm.%s = %s, want %s", k, show(got), show(w))
		}
	}

	a := s.account
	id := strconv.FormatInt(a.MusicID, 10)
	if auth && s.haveAccount && a.MusicKey != "" { // "": logged out, any key is refused
		if v, ok := comm["qq"].(string); !ok || v != id {
			add("comm.qq = %s, want the string %q (musicid)", show(comm["qq"]), id)
		}
		if v, ok := comm["authst"].(string); !ok || v != a.MusicKey {
			add("comm.authst is not the account's musickey")
		}
		if _, set := overrides["tmeLoginType"]; !set && a.LoginType != 0 && !sameValue(comm["tmeLoginType"], int64(a.LoginType)) {
			add("comm.tmeLoginType = %s, want %d", show(comm["tmeLoginType"]), a.LoginType)
		}
	}

	q16, ok16 := comm["QIMEI"].(string)
	q36, ok36 := comm["QIMEI36"].(string)
	switch {
	case !ok16 || !ok36 || q16 == "" || q36 == "":
		add("comm.QIMEI/QIMEI36 = %s/%s, want the strings the QIMEI proxy issued", show(comm["QIMEI"]), show(comm["QIMEI36"]))
	case s.qimeiIssued && (q16 != s.qimei16 || q36 != s.qimei36):
		add("comm.QIMEI/QIMEI36 = %q/%q, want %q/%q (what the QIMEI proxy issues)", q16, q36, s.qimei16, s.qimei36)
	}

	guid, _ := comm["OpenUDID"].(string)
	if !hex32Pattern.MatchString(guid) {
		add("comm.OpenUDID = %s, want 32 lowercase hex digits (the device's open_udid)", show(comm["OpenUDID"]))
	}
	for _, k := range []string{"udid", "OpenUDID2"} {
		if v, _ := comm[k].(string); v != guid {
			add("comm.%s = %s, want the same as OpenUDID", k, show(comm[k]))
		}
	}
	if v, _ := comm["aid"].(string); !hex16Pattern.MatchString(v) {
		add("comm.aid = %s, want 16 lowercase hex digits (android_id)", show(comm["aid"]))
	}
	if v, _ := comm["rom"].(string); !romPattern.MatchString(v) {
		add("comm.rom = %s, want the device fingerprint xiaomi/iarim/sagit:10/eomam.200122.001/<7 digits>:user/release-keys", show(comm["rom"]))
	}
	if !session {
		uid, okU := comm["uid"].(string)
		sid, okS := comm["sid"].(string)
		switch {
		case !okU || !okS || uid == "" || sid == "":
			add("comm.uid/sid = %s/%s, want the strings GetSession issued", show(comm["uid"]), show(comm["sid"]))
		case len(s.issuedSessions) > 0 && s.issuedSessions[uid] != sid:
			add("comm.uid/sid = %q/%q is not a session GetSession issued", uid, sid)
		}
	}

	known := map[string]bool{"qq": true, "authst": true, "tmeLoginType": true, "QIMEI": true, "QIMEI36": true,
		"OpenUDID": true, "OpenUDID2": true, "udid": true, "aid": true, "uid": true, "sid": true, "rom": true}
	var unknown []string
	for k := range comm {
		if _, ok := want[k]; !ok && !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		add("unexpected comm key %s", k)
	}
	for k, v := range comm {
		if k == "qq" || k == "authst" {
			continue // values are secrets; checked above
		}
		if _, isBool := v.(bool); isBool {
			add("comm.%s is a JSON boolean", k)
		}
	}
	return out
}

func sameValue(got, want any) bool {
	switch w := want.(type) {
	case int64:
		n, ok := got.(json.Number)
		if !ok {
			return false
		}
		v, err := n.Int64()
		return err == nil && v == w
	case int:
		return sameValue(got, int64(w))
	case string:
		v, ok := got.(string)
		return ok && v == w
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "(missing)"
	case string:
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case int64, int:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Deviations returns every way requests differed from the facts (comm keys
// and values, cookies, User-Agent, param names and types, signs), each
// distinct message once, in the order first seen.
func (s *Server) Deviations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deviations...)
}

// ResetDeviations forgets the deviations seen so far.
func (s *Server) ResetDeviations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deviations, s.deviationSeen = nil, map[string]bool{}
}

func (s *Server) deviate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addDeviationLocked(fmt.Sprintf(format, args...))
}

func (s *Server) addDeviationLocked(d string) {
	if s.deviationSeen[d] || len(s.deviations) >= maxDeviations {
		return
	}
	s.deviationSeen[d] = true
	s.deviations = append(s.deviations, d)
}

// handleGetSession answers music.getSession.session/GetSession: it keeps
// the uid the client sent (or issues one) and issues a new sid and vkey.
func (s *Server) handleGetSession(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid := c.Str("uid")
	if uid == "" {
		uid = strconv.FormatInt(1000000000+s.rng.Int64N(9000000000), 10)
	}
	sid := s.randHexLocked(32)
	vkey := s.randHexLocked(40)
	s.issuedSessions[uid] = sid
	return Reply{Data: map[string]any{"session": map[string]any{"uid": uid, "sid": sid, "vkey": vkey}}}
}

// handleGetLoginUserInfo answers music.UserInfo.userInfoServer/
// GetLoginUserInfo for a working credential (the double's own data shape:
// uin, nick, headpic, encryptUin).
func (s *Server) handleGetLoginUserInfo(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account
	return Reply{Data: map[string]any{"uin": a.MusicID, "nick": a.Nick, "headpic": a.Avatar, "encryptUin": a.EncryptUIN}}
}

// Param keys of a refresh, by login type (qqmusic-protocol.md section 3).
var refreshKeys = map[int][]string{
	1: {"openid", "refresh_token", "str_musicid", "musickey", "unionid", "refresh_key", "loginMode"},
	2: {"openid", "access_token", "refresh_token", "expired_in", "musicid", "musickey", "refresh_key", "loginMode"},
	0: {"openid", "access_token", "refresh_token", "expired_in", "str_musicid", "musicid", "musickey", "unionid", "refresh_key", "loginMode"},
}

// handleLogin answers music.login.LoginServer/Login. Only the refresh
// (loginMode 2) is built: the old musickey, even expired, and the refresh
// key buy a new musickey. Other login modes answer 20261 saying so; a
// login engineer replaces this method with Register, calling the refresh
// through RefreshHandler for loginMode 2.
func (s *Server) handleLogin(c *Call) Reply {
	if c.Int("loginMode") != 2 {
		return Reply{Code: CodeLoginBadParams, Data: map[string]any{
			"msg": fmt.Sprintf("qqtest: Login with loginMode %d is not built in the double", c.Int("loginMode")),
		}}
	}
	return s.RefreshHandler(c)
}

// RefreshHandler is the double's answer to a refresh (Login with
// loginMode 2), for a Login handler that adds other modes.
func (s *Server) RefreshHandler(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.haveAccount {
		return Reply{Code: CodeExpired}
	}
	a := s.account
	where := "musicu.fcg[Login]"
	lt := a.LoginType
	keys, ok := refreshKeys[lt]
	if !ok {
		keys = refreshKeys[0]
	}
	for _, k := range keys {
		if !c.Has(k) {
			s.addDeviationLocked(fmt.Sprintf("%s: refresh of login type %d lacks param %s", where, lt, k))
		}
	}
	if !sameValue(c.Comm["tmeLoginType"], int64(lt)) {
		s.addDeviationLocked(fmt.Sprintf("%s: comm.tmeLoginType = %s, want %d", where, show(c.Comm["tmeLoginType"]), lt))
	}
	id := strconv.FormatInt(a.MusicID, 10)
	gotID := c.Str("musicid")
	if gotID == "" {
		gotID = c.Str("str_musicid")
	}
	switch {
	case a.MusicKey == "" || c.Str("musickey") != a.MusicKey:
		return Reply{Code: CodeExpired, Data: map[string]any{"msg": "musickey is not the account's current key"}}
	case gotID != id:
		return Reply{Code: CodeExpired, Data: map[string]any{"msg": "musicid is not the account's"}}
	case a.RefreshKey != "" && c.Str("refresh_key") != a.RefreshKey:
		return Reply{Code: CodeExpired, Data: map[string]any{"msg": "refresh_key does not match"}}
	}
	prefix := "Q_H_L_"
	if lt == 1 {
		prefix = "W_X_"
	}
	a.MusicKey = prefix + s.randHexLocked(48)
	a.MusicKeyCreateTime = s.clock().Unix()
	a.KeyExpiresIn = s.keyLife
	s.account, s.expired = a, false
	return Reply{Data: credentialJSON(a)}
}

// CredentialJSON returns the account as a credential file in the
// reference library's field names (qqmusic-protocol.md section 3), for an
// end-to-end test to hand the bridge.
func (a Account) CredentialJSON() ([]byte, error) {
	if a.LoginType == 0 {
		a.LoginType = 2
		if strings.HasPrefix(a.MusicKey, "W_X") {
			a.LoginType = 1
		}
	}
	b, err := json.MarshalIndent(credentialJSON(a), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("qqtest: encoding the credential: %w", err)
	}
	return b, nil
}

func credentialJSON(a Account) map[string]any {
	return map[string]any{
		"openid": a.OpenID, "refresh_token": a.RefreshToken, "access_token": a.AccessToken,
		"expired_at": a.ExpiredAt, "musicid": a.MusicID, "musickey": a.MusicKey, "unionid": a.UnionID,
		"str_musicid": strconv.FormatInt(a.MusicID, 10), "refresh_key": a.RefreshKey,
		"musickeyCreateTime": a.MusicKeyCreateTime, "keyExpiresIn": a.KeyExpiresIn,
		"first_login": 0, "bindAccountType": 0, "needRefreshKeyIn": a.KeyExpiresIn / 2,
		"encryptUin": a.EncryptUIN, "loginType": a.LoginType,
	}
}

// handleLogout ends the account's login: its musickey stops working (calls
// are answered with the expired code) and cannot be refreshed, until a new
// login or SetAccount.
func (s *Server) handleLogout(c *Call) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account.MusicKey = ""
	return Reply{Data: map[string]any{}}
}
