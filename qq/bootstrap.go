package qq

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	cacheTTL      = 24 * time.Hour
	maxRetryAfter = time.Hour
	// qimeiAttemptTimeout bounds one QIMEI request, so an unreachable
	// QIMEI service delays the first call by seconds, not minutes.
	qimeiAttemptTimeout = 10 * time.Second
	qimeiURL            = "https://api.tencentmusic.com/tme/trpc/proxy"
)

// bootstrap makes sure the device has a QIMEI and a session younger than
// 24 h before an Android call. Neither failure is fatal: the call goes on
// with what the device has, the failure is logged, and the next try waits
// for a back-off. Only a cancelled ctx stops the call.
func (c *Client) bootstrap(ctx context.Context) error {
	c.bootMu.Lock()
	defer c.bootMu.Unlock()
	c.ensureQIMEILocked(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := c.now()
	c.mu.Lock()
	dev := c.dev.clone()
	c.mu.Unlock()
	sessionOK := !stale(dev.SessionSaveTime, now) && deref(dev.SessionUID) != "" && deref(dev.SessionSID) != ""
	if !sessionOK && !now.Before(c.sessionNextTry) {
		if err := c.fetchSession(ctx, dev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.sessionNextTry = c.now().Add(c.retryAfter)
			c.log.Warn("qq: session bootstrap (GetSession) failed; going on without a fresh session", "err", err, "retry_in", c.retryAfter)
		}
	}
	return nil
}

// ensureQIMEILocked acquires a QIMEI when the cached one is missing or 24 h
// old and no back-off is pending. Failures are logged, not returned.
func (c *Client) ensureQIMEILocked(ctx context.Context) {
	now := c.now()

	c.mu.Lock()
	dev := c.dev.clone()
	c.mu.Unlock()

	if stale(dev.QIMEISaveTime, now) && !now.Before(c.qimeiNextTry) {
		q16, q36, err := c.acquireQIMEI(ctx, dev)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.qimeiFailures++
			wait := min(c.retryAfter<<min(c.qimeiFailures-1, 16), maxRetryAfter)
			c.qimeiNextTry = c.now().Add(wait)
			c.log.Warn("qq: QIMEI acquisition failed; going on without a fresh QIMEI", "err", err, "retry_in", wait)
		} else {
			c.qimeiFailures = 0
			ts := c.now().Unix()
			c.updateDevice(func(d *Device) {
				d.QIMEI, d.QIMEI36, d.QIMEISaveTime = &q16, &q36, &ts
			})
		}
	}
}

func stale(saved *int64, now time.Time) bool {
	return saved == nil || now.Sub(time.Unix(*saved, 0)) >= cacheTTL || now.Unix() < *saved-int64(cacheTTL/time.Second)
}

// updateDevice changes the device under the lock and writes the device
// file; a write failure is logged (the device still works in memory).
func (c *Client) updateDevice(f func(*Device)) {
	c.mu.Lock()
	f(c.dev)
	d := c.dev.clone()
	c.mu.Unlock()
	if c.deviceFile != "" {
		if err := SaveDevice(c.deviceFile, d); err != nil {
			c.log.Error("qq: could not save the device file; the QIMEI and session will be fetched again after a restart", "err", err)
		}
	}
}

// RefreshSession runs the session bootstrap (GetSession) now, whatever the
// age of the cached session.
func (c *Client) RefreshSession(ctx context.Context) error {
	c.bootMu.Lock()
	defer c.bootMu.Unlock()
	c.ensureQIMEILocked(ctx)
	c.mu.Lock()
	dev := c.dev.clone()
	c.mu.Unlock()
	return c.fetchSession(ctx, dev)
}

func (c *Client) fetchSession(ctx context.Context, dev *Device) error {
	res, err := c.send(ctx, []Request{{
		Module: "music.getSession.session",
		Method: "GetSession",
		Param:  Object{{"uid", deref(dev.SessionUID)}, {"vkey", 0}, {"caller", 0}},
	}})
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	var d struct {
		Session *struct {
			UID  FlexString  `json:"uid"`
			SID  FlexString  `json:"sid"`
			VKey *FlexString `json:"vkey"`
		} `json:"session"`
	}
	if err := json.Unmarshal(res[0].Data, &d); err != nil || d.Session == nil || d.Session.UID == "" || d.Session.SID == "" {
		if err == nil {
			err = errors.New("no session uid and sid in the reply")
		}
		return &MalformedResponseError{What: "GetSession data", Excerpt: excerpt(res[0].Data), Err: err}
	}
	uid, sid := string(d.Session.UID), string(d.Session.SID)
	var vkey *string
	if d.Session.VKey != nil {
		v := string(*d.Session.VKey)
		vkey = &v
	}
	ts := c.now().Unix()
	c.updateDevice(func(d *Device) {
		d.SessionUID, d.SessionSID, d.SessionVKey, d.SessionSaveTime = &uid, &sid, vkey, &ts
	})
	c.log.Info("qq: session bootstrapped")
	return nil
}

// QIMEI constants of the Android SDK (reference utils/qimei.py).
const (
	qimeiPublicKey = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDEIxgwoutfwoJxcGQeedgP7FG9qaIuS0qzfR8gWkrkTZKM2iWHn2ajQpBRZjMSoSf6+KJGvar2ORhBfpDXyVtZCKpqLQ+FLkpncClKVIrBwv6PHyUvuCb0rIarmgDnzkfQAqVufEtR64iazGDKatvJ9y6B9NMbHddGSAUmRTCrHQIDAQAB
-----END PUBLIC KEY-----`
	qimeiSecret     = "ZdJqM15EeO2zWc08"
	qimeiAppKey     = "0AND0HD6FE4HY80F"
	qimeiHeaderSalt = "qimei_qq_androidpzAuCmaFAaFaHrdakPjLIEqKrGnSOOvH"
	qimeiAppVersion = "14.9.0.8"
	qimeiSDKVersion = "1.2.13.6"
	qimeiPackageID  = "com.tencent.qqmusic"
)

// RefreshQIMEI acquires a new QIMEI now, whatever the age of the cached
// one, and stores it in the device.
func (c *Client) RefreshQIMEI(ctx context.Context) error {
	c.bootMu.Lock()
	defer c.bootMu.Unlock()
	c.mu.Lock()
	dev := c.dev.clone()
	c.mu.Unlock()
	q16, q36, err := c.acquireQIMEI(ctx, dev)
	if err != nil {
		return err
	}
	ts := c.now().Unix()
	c.updateDevice(func(d *Device) { d.QIMEI, d.QIMEI36, d.QIMEISaveTime = &q16, &q36, &ts })
	return nil
}

// acquireQIMEI tries the QIMEI service up to qimeiAttempts times with
// doubling back-off.
func (c *Client) acquireQIMEI(ctx context.Context, dev *Device) (q16, q36 string, err error) {
	wait := c.qimeiBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, qimeiAttemptTimeout)
		q16, q36, err = c.requestQIMEI(actx, dev)
		cancel()
		if err == nil || attempt >= c.qimeiAttempts || ctx.Err() != nil {
			return q16, q36, err
		}
		c.log.Debug("qq: QIMEI attempt failed", "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", "", ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

// qimeiRequest is the body the QIMEI service expects.
type qimeiRequest struct {
	App         int         `json:"app"`
	OS          int         `json:"os"`
	QimeiParams qimeiParams `json:"qimeiParams"`
}

type qimeiParams struct {
	Key    string `json:"key"`
	Params string `json:"params"`
	Time   string `json:"time"`
	Nonce  string `json:"nonce"`
	Sign   string `json:"sign"`
	Extra  string `json:"extra"`
}

// qimeiPayload is the device description, encrypted into params.
type qimeiPayload struct {
	AndroidID        string `json:"androidId"`
	PlatformID       int    `json:"platformId"`
	AppKey           string `json:"appKey"`
	AppVersion       string `json:"appVersion"`
	BeaconIDSrc      string `json:"beaconIdSrc"`
	Brand            string `json:"brand"`
	ChannelID        string `json:"channelId"`
	CID              string `json:"cid"`
	IMEI             string `json:"imei"`
	IMSI             string `json:"imsi"`
	Mac              string `json:"mac"`
	Model            string `json:"model"`
	NetworkType      string `json:"networkType"`
	OAID             string `json:"oaid"`
	OSVersion        string `json:"osVersion"`
	QIMEI            string `json:"qimei"`
	QIMEI36          string `json:"qimei36"`
	SDKVersion       string `json:"sdkVersion"`
	TargetSDKVersion string `json:"targetSdkVersion"`
	Audit            string `json:"audit"`
	UserID           string `json:"userId"`
	PackageID        string `json:"packageId"`
	DeviceType       string `json:"deviceType"`
	SDKName          string `json:"sdkName"`
	Reserved         string `json:"reserved"`
}

type qimeiReserved struct {
	Harmony    string `json:"harmony"`
	Clone      string `json:"clone"`
	Containe   string `json:"containe"`
	OZ         string `json:"oz"`
	OO         string `json:"oo"`
	Kelong     string `json:"kelong"`
	Uptimes    string `json:"uptimes"`
	MultiUser  string `json:"multiUser"`
	Bod        string `json:"bod"`
	DV         string `json:"dv"`
	FirstLevel string `json:"firstLevel"`
	Manufact   string `json:"manufact"`
	Name       string `json:"name"`
	Host       string `json:"host"`
	Kernel     string `json:"kernel"`
}

// buildQIMEIRequest returns the headers and body of a QIMEI request, and
// the AES key (for tests).
func buildQIMEIRequest(dev *Device, now time.Time, r io.Reader) (http.Header, []byte, string, error) {
	g := &randGen{r: r}
	reserved, _ := json.Marshal(qimeiReserved{
		Harmony: "0", Clone: "0", OZ: "UhYmelwouA+V2nPWbOvLTgN2/m8jwGB+yUB5v9tysQg=", OO: "Xecjt+9S1+f8Pz2VLSxgpw==",
		Kelong: "0", Uptimes: now.UTC().Add(-time.Duration(g.intn(0, 14400)) * time.Second).Format("2006-01-02 15:04:05"),
		MultiUser: "0", Bod: dev.Brand, DV: dev.Device, Manufact: dev.Brand, Name: dev.Model, Host: "se.infra", Kernel: dev.ProcVersion,
	})
	payload, _ := json.Marshal(qimeiPayload{
		AndroidID: dev.AndroidID, PlatformID: 1, AppKey: qimeiAppKey, AppVersion: qimeiAppVersion,
		BeaconIDSrc: beaconID(g, now), Brand: dev.Brand, ChannelID: AndroidChannel, IMEI: dev.IMEI,
		Model: dev.Model, NetworkType: "unknown",
		OSVersion:  "Android " + dev.Version.Release + ",level " + strconv.Itoa(dev.Version.SDK),
		SDKVersion: qimeiSDKVersion, TargetSDKVersion: "33", UserID: "{}", PackageID: qimeiPackageID,
		DeviceType: "Phone", Reserved: string(reserved),
	})
	cryptKey := g.hex(16)
	nonce := g.hex(16)
	if g.err != nil {
		return nil, nil, "", fmt.Errorf("qq: QIMEI randomness: %w", g.err)
	}
	block, _ := pem.Decode([]byte(qimeiPublicKey))
	pubAny, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, nil, "", fmt.Errorf("qq: QIMEI public key: %w", err)
	}
	encKey, err := rsa.EncryptPKCS1v15(r, pubAny.(*rsa.PublicKey), []byte(cryptKey))
	if err != nil {
		return nil, nil, "", fmt.Errorf("qq: QIMEI key encryption: %w", err)
	}
	aesBlock, _ := aes.NewCipher([]byte(cryptKey))
	pad := aes.BlockSize - len(payload)%aes.BlockSize
	plain := append(payload, bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(aesBlock, []byte(cryptKey)).CryptBlocks(ct, plain)

	ts := now.Unix()
	key := base64.StdEncoding.EncodeToString(encKey)
	params := base64.StdEncoding.EncodeToString(ct)
	extra := `{"appKey":"` + qimeiAppKey + `"}`
	body, _ := json.Marshal(qimeiRequest{App: 0, OS: 1, QimeiParams: qimeiParams{
		Key: key, Params: params, Time: strconv.FormatInt(ts, 10), Nonce: nonce,
		Sign:  md5hex(key + params + strconv.FormatInt(ts*1000, 10) + nonce + qimeiSecret + extra),
		Extra: extra,
	}})
	h := http.Header{}
	h.Set("method", "GetQimei")
	h.Set("service", "trpc.tme_datasvr.qimeiproxy.QimeiProxy")
	h.Set("appid", "qimei_qq_android")
	h.Set("sign", md5hex(qimeiHeaderSalt+strconv.FormatInt(ts, 10)))
	h.Set("user-agent", "QQMusic")
	h.Set("timestamp", strconv.FormatInt(ts, 10))
	h.Set("Content-Type", "application/json")
	return h, body, cryptKey, nil
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// beaconID is the beaconIdSrc of the QIMEI payload: 40 "kN:value;" pairs.
func beaconID(g *randGen, now time.Time) string {
	month := now.UTC().Format("2006-01-") + "01"
	r1 := g.intn(100000, 999999)
	r2 := g.intn(100000000, 999999999)
	var b strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "k%d:", i)
		switch i {
		case 1, 2, 13, 14, 17, 18, 21, 22, 25, 26, 29, 30, 33, 34, 37, 38:
			fmt.Fprintf(&b, "%s%d.%d", month, r1, r2)
		case 3:
			b.WriteString("0000000000000000")
		case 4:
			b.WriteString(g.pick("123456789abcdef", 16))
		default:
			b.WriteString(strconv.FormatInt(g.intn(0, 9999), 10))
		}
		b.WriteByte(';')
	}
	return b.String()
}

func (c *Client) requestQIMEI(ctx context.Context, dev *Device) (string, string, error) {
	rnd := c.rand
	if rnd == nil {
		rnd = cryptoRand{}
	}
	h, body, _, err := buildQIMEIRequest(dev, c.now(), rnd)
	if err != nil {
		return "", "", err
	}
	target := c.URL(qimeiURL)
	shown := stripQuery(target)
	if err := c.Wait(ctx); err != nil {
		return "", "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return "", "", fmt.Errorf("qq: building QIMEI request: %w", err)
	}
	req.Header = h
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", "", &NetworkError{URL: shown, Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", "", &NetworkError{URL: shown, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", &HTTPStatusError{Status: resp.StatusCode, URL: shown}
	}
	return decodeQIMEI(raw)
}

// decodeQIMEI reads q16 and q36 from a QIMEI reply, whose data is a JSON
// string (or, tolerated, an object) holding {"data": {"q16", "q36"}}.
func decodeQIMEI(raw []byte) (string, string, error) {
	var outer struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &outer); err != nil {
		return "", "", &MalformedResponseError{What: "QIMEI reply", Excerpt: excerpt(raw), Err: err}
	}
	inner := []byte(outer.Data)
	var s string
	if json.Unmarshal(outer.Data, &s) == nil {
		inner = []byte(s)
	}
	var v struct {
		Data struct {
			Q16 FlexString `json:"q16"`
			Q36 FlexString `json:"q36"`
		} `json:"data"`
	}
	if err := json.Unmarshal(inner, &v); err != nil {
		return "", "", &MalformedResponseError{What: "QIMEI data", Excerpt: excerpt(raw), Err: err}
	}
	if v.Data.Q16 == "" || v.Data.Q36 == "" {
		return "", "", &MalformedResponseError{What: "QIMEI reply without q16 and q36", Excerpt: excerpt(raw)}
	}
	return string(v.Data.Q16), string(v.Data.Q36), nil
}
