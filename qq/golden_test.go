package qq

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

type commGolden struct {
	Device     json.RawMessage `json:"device"`
	Comm       []commCase      `json:"comm"`
	Credential []struct {
		Input         json.RawMessage `json:"input"`
		ParsedByAlias json.RawMessage `json:"parsed_by_alias"`
		ExpiresAt     *int64          `json:"expires_at"`
	} `json:"credential"`
	UserAgentAndroid string `json:"user_agent_android"`
}

type commCase struct {
	Platform   string          `json:"platform"`
	Credential json.RawMessage `json:"credential"`
	QIMEI      *struct {
		Q16 string `json:"q16"`
		Q36 string `json:"q36"`
	} `json:"qimei"`
	Comm map[string]any `json:"comm"`
}

func loadCommGolden(t testing.TB) commGolden {
	t.Helper()
	raw, err := os.ReadFile(vectorFile(t, "qqmusic_comm_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g commGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("decoding golden file: %v", err)
	}
	return g
}

func goldenDevice(t testing.TB, g commGolden) *Device {
	t.Helper()
	var d Device
	if err := json.Unmarshal(g.Device, &d); err != nil {
		t.Fatalf("golden device does not decode: %v", err)
	}
	return &d
}

// normalize round-trips v through JSON so numbers compare as float64.
func normalize(t testing.TB, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAndroidCommGolden(t *testing.T) {
	g := loadCommGolden(t)
	n := 0
	for _, tc := range g.Comm {
		if tc.Platform != "android" {
			continue // the library speaks only the Android platform
		}
		n++
		d := goldenDevice(t, g)
		if tc.QIMEI != nil {
			d.QIMEI, d.QIMEI36 = &tc.QIMEI.Q16, &tc.QIMEI.Q36
		}
		var cred Credential
		if err := json.Unmarshal(tc.Credential, &cred); err != nil {
			t.Fatal(err)
		}
		got := normalize(t, androidComm(d, &cred))
		want := normalize(t, tc.Comm)
		for k, wv := range want {
			if gv, ok := got[k]; !ok {
				t.Errorf("credential %s: comm lacks %q (want %v)", tc.Credential, k, wv)
			} else if !reflect.DeepEqual(gv, wv) {
				t.Errorf("credential %s: comm[%q] = %#v, want %#v", tc.Credential, k, gv, wv)
			}
		}
		for k, gv := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("credential %s: comm has extra key %q = %v", tc.Credential, k, gv)
			}
		}
	}
	if n != 3 {
		t.Fatalf("golden file has %d android cases, want 3", n)
	}
}

func TestAndroidUserAgentGolden(t *testing.T) {
	g := loadCommGolden(t)
	if got := androidUserAgent(goldenDevice(t, g)); got != g.UserAgentAndroid {
		t.Errorf("User-Agent = %q, want %q", got, g.UserAgentAndroid)
	}
}

func TestCredentialGolden(t *testing.T) {
	g := loadCommGolden(t)
	if len(g.Credential) == 0 {
		t.Fatal("no credential cases")
	}
	for _, tc := range g.Credential {
		var c Credential
		if err := json.Unmarshal(tc.Input, &c); err != nil {
			t.Fatalf("%s: %v", tc.Input, err)
		}
		got := normalize(t, &c)
		var want map[string]any
		if err := json.Unmarshal(tc.ParsedByAlias, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("credential %s parsed as\n%v\nwant\n%v", tc.Input, got, want)
		}
		if tc.ExpiresAt != nil {
			if got := c.ExpiresAt().Unix(); got != *tc.ExpiresAt {
				t.Errorf("ExpiresAt = %d, want %d", got, *tc.ExpiresAt)
			}
			at := time.Unix(*tc.ExpiresAt, 0)
			if c.Expired(at.Add(-time.Second)) {
				t.Error("expired one second before expiry")
			}
			if !c.Expired(at) {
				t.Error("not expired at expiry")
			}
		}
		// Re-encoding and decoding gives the same credential.
		raw, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		var back Credential
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if back != c {
			t.Errorf("round trip changed the credential: %v -> %v", c, back)
		}
	}
}

func TestGoldenDeviceIMEIIsLuhnValid(t *testing.T) {
	d := goldenDevice(t, loadCommGolden(t))
	if !LuhnValid(d.IMEI) {
		t.Errorf("golden IMEI %s fails our Luhn check", d.IMEI)
	}
	if LuhnValid("123456789012345") {
		t.Error("LuhnValid accepts a wrong check digit")
	}
}
