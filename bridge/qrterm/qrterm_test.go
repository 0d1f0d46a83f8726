package qrterm

import (
	"bytes"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"
)

func TestRoundTrip(t *testing.T) {
	const text = "https://y.qq.com/m/login?qrcode=abc123&t=1"
	pngBytes, err := qrcode.Encode(text, qrcode.Medium, 256)
	if err != nil {
		t.Fatal(err)
	}
	// The same code as a JPEG, as WeChat serves it.
	m, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, m, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string][]byte{"png": pngBytes, "jpeg": jpg.Bytes()} {
		got, err := Decode(img)
		if err != nil || got != text {
			t.Errorf("%s: Decode = %q, %v; want %q", name, got, err, text)
		}
	}
	for _, plain := range []bool{false, true} {
		out, err := FromImage(pngBytes, plain)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) < 10 {
			t.Errorf("plain=%v: %d lines, want a drawn code", plain, len(lines))
		}
		if plain && !strings.Contains(out, "██") {
			t.Error("plain output lacks full blocks")
		}
		if !plain && !strings.ContainsAny(out, "▀▄█") {
			t.Error("half-block output lacks half blocks")
		}
	}
}

func TestBadImages(t *testing.T) {
	blank, err := qrcode.Encode("x", qrcode.Medium, 64)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":        nil,
		"not an image": []byte("<html>"),
		"truncated":    blank[:len(blank)/2],
		"huge":         make([]byte, MaxImageBytes+1),
	}
	for name, img := range tests {
		if _, err := Decode(img); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
