package qq

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// signScramble is the XOR key of the zzc signature's middle part.
var signScramble = [20]byte{89, 39, 179, 150, 218, 82, 58, 252, 177, 52, 186, 123, 120, 64, 242, 133, 143, 161, 121, 179}

var (
	signPart1 = [...]int{23, 14, 6, 36, 16, 7, 19}
	signPart2 = [...]int{16, 1, 32, 12, 19, 27, 8, 5}
)

// Sign returns the zzc signature of payload, as the signed musics.fcg
// gateway expects it in its sign query parameter. The payload must be the
// exact bytes that are sent as the request body.
func Sign(payload []byte) string {
	sum := sha1.Sum(payload)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))

	var b strings.Builder
	b.Grow(3 + len(signPart1) + 28 + len(signPart2))
	b.WriteString("zzc")
	for _, i := range signPart1 {
		b.WriteByte(h[i])
	}
	var mid [20]byte
	for i := range mid {
		mid[i] = signScramble[i] ^ sum[i]
	}
	enc := base64.StdEncoding.EncodeToString(mid[:])
	for _, r := range enc {
		switch r {
		case '\\', '/', '+', '=':
			continue
		}
		b.WriteRune(r)
	}
	for _, i := range signPart2 {
		b.WriteByte(h[i])
	}
	return strings.ToLower(b.String())
}

// Hash33 is the ptlogin string hash: h = (h<<5) + h + code point for every
// code point of s, starting from seed, masked to 31 bits. The ptqrlogin
// ptqrtoken is Hash33(qrsig, 0) and g_tk is Hash33(key, 5381).
func Hash33(s string, seed int64) int64 {
	// Only the low 31 bits are kept, and they do not depend on the bits
	// that wrap around, so unsigned overflow is harmless.
	h := uint64(seed)
	for _, r := range s {
		h += h<<5 + uint64(r)
	}
	return int64(h & 0x7fffffff)
}

// GTK is the g_tk value derived from a musickey (or p_skey): Hash33(key, 5381),
// or 5381 when key is empty.
func GTK(key string) int64 {
	if key == "" {
		return 5381
	}
	return Hash33(key, 5381)
}
