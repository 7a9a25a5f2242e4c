package media

import "testing"

func FuzzVP8Size(f *testing.F) {
	f.Add([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
	f.Fuzz(func(t *testing.T, p []byte) {
		w, h := vp8Size(p)
		if w > 0x3fff || h > 0x3fff || (w != 0 || h != 0) && (len(p) < 10 || p[0]&1 != 0) {
			t.Fatalf("vp8Size(% x) = %d x %d", p, w, h)
		}
	})
}
