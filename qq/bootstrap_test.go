package qq

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBuildQIMEIRequest(t *testing.T) {
	d := goldenDevice(t, loadCommGolden(t))
	now := time.Unix(1763800000, 0)
	h, body, cryptKey, err := buildQIMEIRequest(d, now, cryptoRand{})
	if err != nil {
		t.Fatal(err)
	}
	ts := "1763800000"
	for k, v := range map[string]string{
		"method": "GetQimei", "service": "trpc.tme_datasvr.qimeiproxy.QimeiProxy", "appid": "qimei_qq_android",
		"user-agent": "QQMusic", "timestamp": ts, "sign": md5hex("qimei_qq_androidpzAuCmaFAaFaHrdakPjLIEqKrGnSOOvH" + ts),
	} {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	var req struct {
		App, OS     int
		QimeiParams map[string]string `json:"qimeiParams"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	p := req.QimeiParams
	if req.App != 0 || req.OS != 1 || p["time"] != ts || len(p["nonce"]) != 16 || p["extra"] != `{"appKey":"0AND0HD6FE4HY80F"}` {
		t.Errorf("body = %s", body)
	}
	wantSign := md5hex(p["key"] + p["params"] + strconv.FormatInt(1763800000000, 10) + p["nonce"] + "ZdJqM15EeO2zWc08" + p["extra"])
	if p["sign"] != wantSign {
		t.Errorf("body sign = %s, want %s", p["sign"], wantSign)
	}
	if k, err := base64.StdEncoding.DecodeString(p["key"]); err != nil || len(k) != 128 {
		t.Errorf("key is not a base64 RSA-1024 block: %d bytes, %v", len(k), err)
	}
	// The params decrypt with the 16-hex-char key (AES-128-CBC, iv = key).
	if len(cryptKey) != 16 {
		t.Fatalf("crypt key %q", cryptKey)
	}
	ct, err := base64.StdEncoding.DecodeString(p["params"])
	if err != nil || len(ct)%16 != 0 {
		t.Fatalf("params: %v", err)
	}
	block, _ := aes.NewCipher([]byte(cryptKey))
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, []byte(cryptKey)).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 16 {
		t.Fatalf("bad padding %d", pad)
	}
	var payload map[string]any
	if err := json.Unmarshal(plain[:len(plain)-pad], &payload); err != nil {
		t.Fatalf("payload: %v", err)
	}
	for k, v := range map[string]any{
		"androidId": d.AndroidID, "appKey": "0AND0HD6FE4HY80F", "appVersion": "14.9.0.8", "sdkVersion": "1.2.13.6",
		"brand": "Xiaomi", "model": "MI 6", "osVersion": "Android 10,level 29", "imei": d.IMEI, "channelId": "10003505",
		"packageId": "com.tencent.qqmusic", "platformId": 1.0, "targetSdkVersion": "33",
	} {
		if payload[k] != v {
			t.Errorf("payload %s = %v, want %v", k, payload[k], v)
		}
	}
	if b, _ := payload["beaconIdSrc"].(string); strings.Count(b, ";") != 40 || !strings.HasPrefix(b, "k1:2025-11-01") {
		t.Errorf("beaconIdSrc = %q", b)
	}
	var reserved map[string]string
	if err := json.Unmarshal([]byte(payload["reserved"].(string)), &reserved); err != nil || reserved["kernel"] != d.ProcVersion || reserved["dv"] != "sagit" {
		t.Errorf("reserved = %v (%v)", reserved, err)
	}
}

func TestExcerptMasksSecrets(t *testing.T) {
	body := `{"musickey":"Q_H_L_abc","refresh_token":"rt1","authst":"zz","note":"ok","x":"SECRETVALUE"}`
	got := excerpt([]byte(body), "SECRETVALUE")
	for _, s := range []string{"Q_H_L_abc", "rt1", `"zz"`, "SECRETVALUE"} {
		if strings.Contains(got, s) {
			t.Errorf("excerpt %s keeps %s", got, s)
		}
	}
	if !strings.Contains(got, `"note":"ok"`) {
		t.Errorf("excerpt lost harmless content: %s", got)
	}
	long := excerpt([]byte(strings.Repeat("é", 500)))
	if len(long) > excerptLen+4 || !strings.HasSuffix(long, "…") {
		t.Errorf("long excerpt is %d bytes", len(long))
	}
}
