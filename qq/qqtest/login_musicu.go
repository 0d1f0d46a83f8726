package qqtest

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Module of the QQ QR login's last step.
const ModuleQQConnect = "QQConnectLogin.LoginServer"

// Codes of SendPhoneAuthCode.
const (
	CodePhoneCaptcha     = 20276
	CodePhoneTooFrequent = 100001
	CodeLoginWrongCode   = 20271
)

// phoneState is the SMS side of the phone login.
type phoneState struct {
	codes       map[string]string // phone -> code sent
	expired     map[string]bool   // phone -> its code expired
	next        []PhoneOutcome
	securityURL string
}

// PhoneOutcome is how the double answers the next SendPhoneAuthCode.
type PhoneOutcome int

const (
	// PhoneSend sends a code (the default).
	PhoneSend PhoneOutcome = iota
	// PhoneCaptcha asks for a security check (20276, data.securityURL).
	PhoneCaptcha
	// PhoneTooFrequent refuses as too frequent (100001).
	PhoneTooFrequent
)

// PhoneSecurityURL is the securityURL of PhoneCaptcha answers.
const PhoneSecurityURL = "https://accounts.qq.com/safe/verify?ticket=qqtest"

// AttachLogin mounts the login double on s: the web endpoints of the QQ
// and WeChat QR logins (s.Endpoints already maps their hosts to s), the
// MQTT broker on /ws/handshake (for mu.y.qq.com: ws when s is plain HTTP,
// wss with NewTLS), and the musicu methods CreateQRCode, Login (mobile
// qrCodeID/token, WeChat code, phone code; refreshes still go to s's
// refresh handler), QQLogin and SendPhoneAuthCode. A successful login
// makes the double's account (SetAccount) s's account with a new
// musickey, so the client can use the credential at once.
//
// Close the Login (for its broker) as well as s.
func AttachLogin(s *Server) *Login {
	l := newLogin()
	l.srv = s
	for _, p := range []string{PathPtqrShow, PathPtqrLogin, PathCheckSig, PathAuthorize, PathWxQRConnect, PathWxQRCode, PathWxLongPoll} {
		s.HandleHTTP(p, l)
	}
	l.broker = NewMQTTBroker()
	s.HandleHTTP(HandshakePath, l.broker)
	s.HandleHTTP(HandshakePath+"/", l.broker)

	refresh, ok := s.Lookup(ModuleLogin, "Login")
	if !ok {
		refresh = Method{Handle: s.RefreshHandler}
	}
	s.Register(Method{
		Module: ModuleLogin, Name: "CreateQRCode",
		Params:     map[string]string{"tmeAppID": "s!", "ct": "i!", "cv": "i!"},
		ParamOrder: []string{"tmeAppID", "ct", "cv"},
		Comm:       map[string]any{"ct": 23, "cv": 0},
		Handle:     l.handleCreateQRCode,
	})
	s.Register(Method{
		Module: ModuleLogin, Name: "Login",
		Comm: map[string]any{"tmeLoginType": nil, "tmeLoginMethod": nil},
		Handle: func(c *Call) Reply {
			switch {
			case c.Has("qrCodeID"):
				return l.handleMobileLogin(c)
			case c.Has("strAppid"):
				return l.handleWeChatLogin(c)
			case c.Has("phoneNo"), c.Has("encryptedPhoneNo"):
				return l.handlePhoneLogin(c)
			}
			return refresh.Handle(c)
		},
	})
	s.Register(Method{
		Module: ModuleQQConnect, Name: "QQLogin",
		Params: map[string]string{"code": "s!"},
		Comm:   map[string]any{"tmeLoginType": 2},
		Handle: l.handleQQLogin,
	})
	s.Register(Method{
		Module: ModuleLogin, Name: "SendPhoneAuthCode",
		Params:     map[string]string{"tmeAppid": "s!", "phoneNo": "s", "areaCode": "s!", "encryptedPhoneNo": "s"},
		ParamOrder: []string{"tmeAppid", "areaCode", "phoneNo", "encryptedPhoneNo"},
		Comm:       map[string]any{"tmeLoginMethod": 3},
		Handle:     l.handleSendPhoneAuthCode,
	})
	return l
}

// PhoneCode returns the last code the double "texted" to phone.
func (l *Login) PhoneCode(phone string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.phone.codes[phone]
	return c, ok
}

// ExpirePhoneCode makes the code texted to phone expire: a Login with it
// is answered with the expired code 1000 (the double's choice; the real
// service's code for this is not documented).
func (l *Login) ExpirePhoneCode(phone string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phone.expired == nil {
		l.phone.expired = map[string]bool{}
	}
	l.phone.expired[phone] = true
}

// PhoneNext queues the outcome of the next SendPhoneAuthCode.
func (l *Login) PhoneNext(o PhoneOutcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phone.next = append(l.phone.next, o)
}

func (l *Login) handleCreateQRCode(c *Call) Reply {
	if c.Str("tmeAppID") != "qqmusic" || c.Int("ct") != 11 || c.Int("cv") != 14090008 {
		return Reply{Code: CodeLoginBadParams, Data: map[string]any{"msg": "qqtest: CreateQRCode wants tmeAppID=qqmusic, ct=11, cv=14090008"}}
	}
	id := "QR" + randHex(10)
	l.mu.Lock()
	l.issueLocked(QRKindMobile, id)
	l.mu.Unlock()
	img := qrPNG("https://y.qq.com/m/login?qrcodeID=" + id)
	return Reply{Data: map[string]any{
		"qrcode":   "data:image/png;base64," + base64.StdEncoding.EncodeToString(img),
		"qrcodeID": id,
	}}
}

// grant issues a credential for the double's account and makes it the
// server's account.
func (l *Login) grant(loginType int, prefix string) Reply {
	l.mu.Lock()
	a := l.account
	l.mu.Unlock()
	now := l.srv.Now().Unix()
	a.LoginType = loginType
	a.MusicKey = prefix + randHex(24)
	a.MusicKeyCreateTime = now
	l.srv.mu.Lock()
	a.KeyExpiresIn = l.srv.keyLife
	l.srv.mu.Unlock()
	a.RefreshKey = "RK" + randHex(12)
	a.RefreshToken = "RT" + randHex(12)
	if loginType == 1 {
		a.OpenID, a.UnionID = "OPENID"+randHex(6), "UNIONID"+randHex(6)
	}
	if loginType == 2 {
		a.OpenID, a.AccessToken, a.ExpiredAt = "OPENID"+randHex(6), "AT"+randHex(12), now+7776000
	}
	l.srv.SetAccount(a)
	return Reply{Data: credentialJSON(l.srv.Account())}
}

// useCode consumes an OAuth code issued for kind.
func (l *Login) useCode(code string, kind QRKind) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if code == "" || l.codes[code] != kind || l.confirmed[code] {
		return false
	}
	l.confirmed[code] = true
	return true
}

func wantLoginType(c *Call, want int) *Reply {
	if !sameValue(c.Comm["tmeLoginType"], int64(want)) {
		return &Reply{Code: CodeLoginBadParams, Data: map[string]any{"msg": fmt.Sprintf("qqtest: comm.tmeLoginType = %s, want %d", show(c.Comm["tmeLoginType"]), want)}}
	}
	return nil
}

func (l *Login) handleQQLogin(c *Call) Reply {
	if !l.useCode(c.Str("code"), QRKindQQ) {
		return Reply{Code: CodeExpired, Data: map[string]any{"msg": "qqtest: unknown or used QQ code"}}
	}
	return l.grant(2, "Q_H_L_")
}

func (l *Login) handleWeChatLogin(c *Call) Reply {
	if r := wantLoginType(c, 1); r != nil {
		return *r
	}
	if c.Str("strAppid") != wxAppID {
		return Reply{Code: CodeLoginBadParams, Data: map[string]any{"msg": "qqtest: strAppid is not QQ Music's"}}
	}
	if !l.useCode(c.Str("code"), QRKindWeChat) {
		return Reply{Code: CodeExpired, Data: map[string]any{"msg": "qqtest: unknown or used WeChat code"}}
	}
	return l.grant(1, "W_X_")
}

func (l *Login) handleMobileLogin(c *Call) Reply {
	if r := wantLoginType(c, 6); r != nil {
		return *r
	}
	id := c.Str("qrCodeID")
	l.mu.Lock()
	s := l.qrLocked(QRKindMobile, id)
	ok := s != nil && s.state == QRConfirmed && s.token != "" && c.Str("token") == s.token &&
		c.Int("musicid") == s.musicid && kindOf(c.Param["musicid"]) == "i" && !l.confirmed[s.token]
	if ok {
		l.confirmed[s.token] = true
	}
	l.mu.Unlock()
	if !ok {
		return Reply{Code: CodeExpired, Data: map[string]any{"msg": "qqtest: qrCodeID/token/musicid do not match a confirmed QR code"}}
	}
	return l.grant(6, "Q_H_L_")
}

func (l *Login) handleSendPhoneAuthCode(c *Call) Reply {
	phone, ok := phoneOf(c)
	if c.Str("tmeAppid") != "qqmusic" || !ok || strings.Trim(c.Str("areaCode"), "0123456789") != "" {
		return Reply{Code: CodeLoginBadParams, Data: map[string]any{"msg": "qqtest: SendPhoneAuthCode wants tmeAppid=qqmusic, phoneNo or encryptedPhoneNo, areaCode"}}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	o := PhoneSend
	if len(l.phone.next) > 0 {
		o, l.phone.next = l.phone.next[0], l.phone.next[1:]
	}
	switch o {
	case PhoneCaptcha:
		return Reply{Code: CodePhoneCaptcha, Data: map[string]any{"securityURL": PhoneSecurityURL}}
	case PhoneTooFrequent:
		return Reply{Code: CodePhoneTooFrequent, Data: map[string]any{"msg": "too frequent"}}
	}
	code := fmt.Sprintf("%06d", 100000+len(l.phone.codes)*7919%900000)
	l.phone.codes[phone] = code
	delete(l.phone.expired, phone)
	return Reply{Data: map[string]any{}}
}

func (l *Login) handlePhoneLogin(c *Call) Reply {
	if !sameValue(c.Comm["tmeLoginMethod"], int64(3)) || !sameValue(c.Comm["tmeLoginType"], int64(0)) || c.Int("loginMode") != 1 {
		return Reply{Code: CodeLoginBadParams, Data: map[string]any{"msg": "qqtest: phone Login wants loginMode 1, comm tmeLoginMethod 3 and tmeLoginType 0"}}
	}
	phone, given := phoneOf(c)
	if !given {
		return Reply{Code: CodeLoginBadParams, Data: map[string]any{"msg": "qqtest: phone Login wants phoneNo or encryptedPhoneNo"}}
	}
	l.mu.Lock()
	want, ok := l.phone.codes[phone]
	expired := l.phone.expired[phone]
	if ok && want == c.Str("code") {
		delete(l.phone.codes, phone)
	}
	l.mu.Unlock()
	if ok && want == c.Str("code") && expired {
		return Reply{Code: CodeExpired, Data: map[string]any{"msg": "qqtest: the code has expired"}}
	}
	if !ok || want != c.Str("code") {
		return Reply{Code: CodeLoginWrongCode, Data: map[string]any{"msg": "qqtest: wrong code for " + strconv.Quote(phone)}}
	}
	return l.grant(2, "Q_H_L_")
}

// phoneOf is the phone number of a phone call: phoneNo, or the
// encryptedPhoneNo a client holding only the encrypted form sends (the
// double keys its codes by the string given). Exactly one must be sent.
func phoneOf(c *Call) (string, bool) {
	plain, enc := c.Str("phoneNo"), c.Str("encryptedPhoneNo")
	if (plain == "") == (enc == "") {
		return "", false
	}
	return plain + enc, true
}
