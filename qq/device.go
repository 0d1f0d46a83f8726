package qq

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
)

// OSVersion is the Android version of the virtual device.
type OSVersion struct {
	Incremental string `json:"incremental"`
	Release     string `json:"release"`
	Codename    string `json:"codename"`
	SDK         int    `json:"sdk"`
}

// Device is the virtual Android phone the client presents to QQ Music. It
// is generated once and kept (see Options.DeviceFile): a new device on
// every start would look like a new phone to the server. Its JSON field
// names are those of the reference library's device file, so such a file
// loads as is. The cached QIMEI and session live here too.
type Device struct {
	Display     string    `json:"display"`
	Product     string    `json:"product"`
	Device      string    `json:"device"`
	Board       string    `json:"board"`
	Model       string    `json:"model"`
	Fingerprint string    `json:"fingerprint"`
	BootID      string    `json:"boot_id"`
	ProcVersion string    `json:"proc_version"`
	IMEI        string    `json:"imei"`
	Brand       string    `json:"brand"`
	Bootloader  string    `json:"bootloader"`
	BaseBand    string    `json:"base_band"`
	Version     OSVersion `json:"version"`
	SimInfo     string    `json:"sim_info"`
	OSType      string    `json:"os_type"`
	MacAddress  string    `json:"mac_address"`
	WifiBSSID   string    `json:"wifi_bssid"`
	WifiSSID    string    `json:"wifi_ssid"`
	IMSIMD5     []int     `json:"imsi_md5"`
	AndroidID   string    `json:"android_id"`
	APN         string    `json:"apn"`
	VendorName  string    `json:"vendor_name"`
	VendorOS    string    `json:"vendor_os_name"`

	QIMEI           *string `json:"qimei"`
	QIMEI36         *string `json:"qimei36"`
	QIMEISaveTime   *int64  `json:"qimei_save_time"`
	SessionUID      *string `json:"session_uid"`
	SessionSID      *string `json:"session_sid"`
	SessionVKey     *string `json:"session_vkey"`
	SessionSaveTime *int64  `json:"session_save_time"`

	OpenUDID string `json:"open_udid"`
}

// NewDevice generates a random virtual device (a Xiaomi MI 6 on Android 10)
// from the random source r (crypto/rand when nil).
func NewDevice(r io.Reader) (*Device, error) {
	if r == nil {
		r = rand.Reader
	}
	g := &randGen{r: r}
	imsi := md5.Sum(g.bytes(16))
	imsiInts := make([]int, len(imsi))
	for i, b := range imsi {
		imsiInts[i] = int(b)
	}
	d := &Device{
		Display:     "QMAPI." + strconv.FormatInt(g.intn(100000, 999999), 10) + ".001",
		Product:     "iarim",
		Device:      "sagit",
		Board:       "eomam",
		Model:       "MI 6",
		Fingerprint: "xiaomi/iarim/sagit:10/eomam.200122.001/" + strconv.FormatInt(g.intn(1000000, 9999999), 10) + ":user/release-keys",
		BootID:      g.uuid4(),
		ProcVersion: "Linux 5.4.0-54-generic-" + g.alnum(8) + " (android-build@google.com)",
		IMEI:        g.imei(),
		Brand:       "Xiaomi",
		Bootloader:  "U-boot",
		Version:     OSVersion{Incremental: "5891938", Release: "10", Codename: "REL", SDK: 29},
		SimInfo:     "T-Mobile",
		OSType:      "android",
		MacAddress:  "00:50:56:C0:00:08",
		WifiBSSID:   "00:50:56:C0:00:08",
		WifiSSID:    "<unknown ssid>",
		IMSIMD5:     imsiInts,
		AndroidID:   hex.EncodeToString(g.bytes(8)),
		APN:         "wifi",
		VendorName:  "MIUI",
		VendorOS:    "qmapi",
	}
	u := g.bytes(16)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	d.OpenUDID = hex.EncodeToString(u)
	if g.err != nil {
		return nil, fmt.Errorf("qq: generating a device: %w", g.err)
	}
	return d, nil
}

// Validate checks that the device has the identifiers the comm needs.
func (d *Device) Validate() error {
	switch {
	case d.AndroidID == "":
		return errors.New("qq: device has no android_id")
	case d.OpenUDID == "":
		return errors.New("qq: device has no open_udid")
	case d.Fingerprint == "":
		return errors.New("qq: device has no fingerprint")
	case d.Version.Release == "":
		return errors.New("qq: device has no version.release")
	}
	return nil
}

// LoadDevice reads a device file. A missing file gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func LoadDevice(path string) (*Device, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("qq: reading device file: %w", err)
	}
	var d Device
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("qq: device file %s is not valid JSON (%v); fix or delete it (deleting it makes the server see a new phone)", path, err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%w in %s; fix or delete the file", err, path)
	}
	return &d, nil
}

// SaveDevice writes d to path atomically with mode 0600.
func SaveDevice(path string, d *Device) error {
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("qq: encoding device: %w", err)
	}
	return writeFileAtomic(path, raw)
}

func (d *Device) clone() *Device {
	c := *d
	c.IMSIMD5 = append([]int(nil), d.IMSIMD5...)
	return &c
}

// randGen draws random values, remembering the first read error.
type randGen struct {
	r   io.Reader
	err error
}

func (g *randGen) bytes(n int) []byte {
	b := make([]byte, n)
	if g.err == nil {
		_, g.err = io.ReadFull(g.r, b)
	}
	return b
}

// intn returns a uniform integer in [lo, hi].
func (g *randGen) intn(lo, hi int64) int64 {
	if g.err != nil {
		return lo
	}
	n, err := rand.Int(g.r, big.NewInt(hi-lo+1))
	if err != nil {
		g.err = err
		return lo
	}
	return lo + n.Int64()
}

const alnumChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (g *randGen) pick(chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.intn(0, int64(len(chars)-1))]
	}
	return string(b)
}

func (g *randGen) alnum(n int) string { return g.pick(alnumChars, n) }

func (g *randGen) hex(n int) string { return g.pick("0123456789abcdef", n) }

func (g *randGen) uuid4() string {
	u := g.bytes(16)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// imei returns a random 15-digit IMEI with a valid Luhn check digit.
func (g *randGen) imei() string {
	digits := make([]byte, 15)
	for i := range 14 {
		digits[i] = byte(g.intn(0, 9))
	}
	digits[14] = luhnCheckDigit(digits[:14])
	for i := range digits {
		digits[i] += '0'
	}
	return string(digits)
}

// luhnCheckDigit computes the Luhn check digit of the given digit values
// (not characters).
func luhnCheckDigit(d []byte) byte {
	sum := 0
	for i, v := range d {
		x := int(v)
		if i%2 == 1 {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return byte((10 - sum%10) % 10)
}

// LuhnValid reports whether s is a string of digits with a valid Luhn
// check digit.
func LuhnValid(s string) bool {
	if len(s) < 2 {
		return false
	}
	d := make([]byte, len(s))
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		d[i] = s[i] - '0'
	}
	// Pad so the check digit's partners are at odd positions as above.
	body := d[:len(d)-1]
	if len(body)%2 == 1 {
		body = append([]byte{0}, body...)
	}
	return luhnCheckDigit(body) == d[len(d)-1]
}

// cryptoRand reads crypto/rand.
type cryptoRand struct{}

func (cryptoRand) Read(p []byte) (int, error) { return rand.Read(p) }
