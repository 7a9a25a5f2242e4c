package e2ee

import (
	"bytes"
	"errors"
	"testing"

	"github.com/switchboard-rtc/switchboard/membership"
)

func TestKeyGeneration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d         membership.Dialect
		keyLen    int
		ring      int
		afterLast int
		sequence  []int
	}{
		{membership.DialectFamedly, 32, 16, 0, []int{1, 2, 3}},
		{membership.DialectMatrixRTC, 16, 256, 0, []int{1, 2, 3}},
	}
	for _, tt := range tests {
		a, err := NewKey(tt.d)
		if err != nil || len(a) != tt.keyLen || KeyLen(tt.d) != tt.keyLen || RingSize(tt.d) != tt.ring {
			t.Fatalf("%v: key %d bytes, %v; ring %d", tt.d, len(a), err, RingSize(tt.d))
		}
		b, _ := NewKey(tt.d)
		if bytes.Equal(a, b) {
			t.Errorf("%v: two equal random keys", tt.d)
		}
		if got := NextIndex(tt.d, tt.ring-1); got != tt.afterLast {
			t.Errorf("%v: after %d comes %d", tt.d, tt.ring-1, got)
		}
		for i, want := range tt.sequence {
			if got := NextIndex(tt.d, i); got != want {
				t.Errorf("%v: after %d comes %d", tt.d, i, got)
			}
		}
		if got := NextIndex(tt.d, -7); got < 0 || got >= tt.ring {
			t.Errorf("%v: NextIndex(-7) = %d", tt.d, got)
		}
		// What we generate parses back in our own dialect.
		ev := KeyEvent{Call: membership.CallKey{Room: "!r:x", Application: "m.call", Scope: "m.room"}, DeviceID: "D", Keys: []Key{{Index: tt.ring - 1, Bytes: a}}}
		build := map[membership.Dialect]func(KeyEvent) ([]byte, error){membership.DialectFamedly: BuildFamedlyKeys, membership.DialectMatrixRTC: BuildMatrixRTCKeys}[tt.d]
		content, err := build(ev)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseKeyEvent(map[membership.Dialect]string{membership.DialectFamedly: FamedlyKeysEventType, membership.DialectMatrixRTC: MatrixRTCKeysEventType}[tt.d], content); err != nil || !bytes.Equal(back.Keys[0].Bytes, a) {
			t.Errorf("%v: round trip %v", tt.d, err)
		}
	}
	for _, d := range []membership.Dialect{membership.DialectUnknown, membership.DialectRTCSticky} {
		if _, err := NewKey(d); !errors.Is(err, ErrDialect) {
			t.Errorf("%v: %v", d, err)
		}
		if NextIndex(d, 3) != 0 {
			t.Errorf("%v: NextIndex", d)
		}
	}
}

func TestKeyStringHidesBytes(t *testing.T) {
	t.Parallel()
	k := Key{Index: 4, Bytes: seq(16, 0x41)}
	if s := k.String(); s != "key#4(16 bytes)" {
		t.Errorf("String() = %q", s)
	}
}

func TestDecodeKeyForms(t *testing.T) {
	t.Parallel()
	want := []byte{0xfb, 0xff, 0xbf, 0x00}
	for _, s := range []string{"+/+/AA==", "+/+/AA", "-_-_AA==", "-_-_AA"} {
		if got, err := decodeKey(s); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"+/-_AA==", "+/+/AA=", "+/+/A", " +/+/AA==", "+/+/AB=="} {
		if _, err := decodeKey(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", s, err)
		}
	}
}
