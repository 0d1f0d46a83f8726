// Package qrterm shows a login QR code on a terminal. The QQ Music login
// flows hand out the QR code as an image; qrterm reads the code's text back
// from the image (github.com/makiuchi-d/gozxing) and draws it again with
// text characters (github.com/skip2/go-qrcode), so that it can be scanned
// from a terminal over SSH.
package qrterm

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // WeChat's QR codes are JPEG
	_ "image/png"  // QQ's and the app's are PNG
	"strings"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
)

// MaxImageBytes bounds the images Decode accepts.
const MaxImageBytes = 4 << 20

// Decode returns the text a QR-code image holds.
func Decode(img []byte) (string, error) {
	if len(img) == 0 {
		return "", errors.New("qrterm: empty image")
	}
	if len(img) > MaxImageBytes {
		return "", fmt.Errorf("qrterm: image of %d bytes is larger than the %d accepted", len(img), MaxImageBytes)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return "", fmt.Errorf("qrterm: not a PNG or JPEG image: %w", err)
	}
	if cfg.Width*cfg.Height > 16<<20 {
		return "", fmt.Errorf("qrterm: image of %dx%d pixels is too large", cfg.Width, cfg.Height)
	}
	m, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return "", fmt.Errorf("qrterm: decoding the image: %w", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(m)
	if err != nil {
		return "", fmt.Errorf("qrterm: reading the image: %w", err)
	}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", fmt.Errorf("qrterm: no QR code found in the image: %w", err)
	}
	return res.GetText(), nil
}

// Render draws text as a QR code for a terminal: with half blocks (two rows
// of modules per line) unless plain is set, in which case each module is two
// characters wide ("██" or "  "), which survives fonts that draw half blocks
// badly.
func Render(text string, plain bool) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qrterm: encoding: %w", err)
	}
	if !plain {
		return q.ToSmallString(false), nil
	}
	var b strings.Builder
	for _, row := range q.Bitmap() {
		for _, dark := range row {
			if dark {
				b.WriteString("██")
			} else {
				b.WriteString("  ")
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// FromImage decodes a QR image and renders it for a terminal.
func FromImage(img []byte, plain bool) (string, error) {
	text, err := Decode(img)
	if err != nil {
		return "", err
	}
	return Render(text, plain)
}
