package frame

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

func pipe(t testing.TB, ring *KeyRing, codec Codec) (*Encryptor, *Decryptor) {
	t.Helper()
	e, err := NewEncryptor(ring, codec)
	must(t, err)
	d, err := NewDecryptor(ring, codec)
	must(t, err)
	return e, d
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		codec Codec
		frame []byte
	}{
		{Opus, testOpus(rng, 100)},
		{Opus, []byte{0x78}}, // TOC only: empty ciphertext, tag only
		{VP8, testVP8(rng, 1200, true)},
		{VP8, testVP8(rng, 10, true)},
		{VP8, testVP8(rng, 3, false)},
		{VP9, randomBytes(rng, 800)},
		{H264, testH264IDR(rng, 3000)},
		{H264, testH264Slice(rng, 12)},                                 // shortest frame whose slice livekit-client sees
		{H264, []byte{0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 0, 0, 0, 0, 0}}, // zeros escape in the tail
	}
	ring := newRing(t, RingConfig{})
	must(t, ring.SetKey(42, []byte("matrix key material")))
	for _, c := range cases {
		e, d := pipe(t, ring, c.codec)
		enc, err := e.Encrypt([]byte("x"), c.frame)
		must(t, err)
		if enc[0] != 'x' || enc[len(enc)-1] != 42 || enc[len(enc)-2] != ivSize {
			t.Errorf("%v: bad frame %x", c.codec, enc)
		}
		got, kid, err := d.Decrypt([]byte("y"), enc[1:])
		if err != nil || kid != 42 || !bytes.Equal(got[1:], c.frame) || got[0] != 'y' {
			t.Errorf("%v %d bytes: Decrypt = %x, %d, %v", c.codec, len(c.frame), got, kid, err)
		}
	}
}

func TestEmptyFramesPassThrough(t *testing.T) {
	t.Parallel()
	e, d := pipe(t, newRing(t, RingConfig{}), Opus) // no key needed
	if out, err := e.Encrypt([]byte("a"), nil); err != nil || string(out) != "a" {
		t.Errorf("Encrypt(empty) = %q, %v", out, err)
	}
	if out, _, err := d.Decrypt([]byte("a"), nil); err != nil || string(out) != "a" {
		t.Errorf("Decrypt(empty) = %q, %v", out, err)
	}
}

func TestEncryptErrors(t *testing.T) {
	t.Parallel()
	ring := newRing(t, RingConfig{})
	e, _ := pipe(t, ring, H264)
	if _, err := e.Encrypt(nil, []byte{0, 0, 0, 1, 0x65, 1, 2, 3}); !errors.Is(err, ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
	must(t, ring.SetKey(0, []byte{1}))
	if _, err := e.Encrypt(nil, []byte{0, 0, 0, 1, 0x67, 1, 2, 3, 4}); !errors.Is(err, ErrNoSlice) {
		t.Errorf("SPS only: %v", err)
	}
	v, _ := pipe(t, ring, VP8)
	if _, err := v.Encrypt(nil, []byte{0x10, 2, 0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("3-byte VP8 key frame: %v", err)
	}
	if _, err := NewEncryptor(ring, Codec(9)); !errors.Is(err, ErrConfig) {
		t.Errorf("bad codec: %v", err)
	}
	if _, err := NewDecryptor(nil, Opus); !errors.Is(err, ErrConfig) {
		t.Errorf("nil ring: %v", err)
	}
}

func TestNewKeyRingRejects(t *testing.T) {
	t.Parallel()
	for _, cfg := range []RingConfig{{Size: -1}, {Size: 257}, {KDF: 7}, {RatchetWindow: -1}, {RatchetWindow: 300}} {
		if _, err := NewKeyRing(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	r := newRing(t, RingConfig{})
	if err := r.SetKey(0, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("empty material: %v", err)
	}
}

func TestKeyIndices(t *testing.T) {
	t.Parallel()
	ring := newRing(t, RingConfig{Size: 16})
	must(t, ring.SetKey(20, []byte("k20")))
	if ring.CurrentIndex() != 4 {
		t.Errorf("index 20 in a 16-slot ring: current %d, want 4", ring.CurrentIndex())
	}
	must(t, ring.AddKey(5, []byte("k5")))
	if ring.CurrentIndex() != 4 {
		t.Errorf("AddKey moved the current index to %d", ring.CurrentIndex())
	}
	if err := ring.SetCurrentIndex(6); !errors.Is(err, ErrNoKey) {
		t.Errorf("SetCurrentIndex(empty slot): %v", err)
	}
	must(t, ring.SetCurrentIndex(5))
	e, d := pipe(t, ring, Opus)
	enc, err := e.Encrypt(nil, []byte{0x78, 1, 2})
	must(t, err)
	if enc[len(enc)-1] != 5 {
		t.Errorf("kid %d, want 5", enc[len(enc)-1])
	}
	enc[len(enc)-1] = 21 // beyond the ring: never reduced modulo its size
	if _, kid, err := d.Decrypt(nil, enc); !errors.Is(err, ErrNoKey) || kid != 21 {
		t.Errorf("kid 21: %d, %v", kid, err)
	}
}

func TestFailureTolerance(t *testing.T) {
	t.Parallel()
	sender := newRing(t, RingConfig{})
	must(t, sender.SetKey(1, []byte("right")))
	e, _ := NewEncryptor(sender, Opus)
	good, err := e.Encrypt(nil, []byte{0x78, 1, 2, 3})
	must(t, err)

	for _, tol := range []int{0, 2, -1} {
		ring := newRing(t, RingConfig{FailureTolerance: tol})
		must(t, ring.SetKey(1, []byte("wrong")))
		d, _ := NewDecryptor(ring, Opus)
		limit := tol
		if tol == 0 {
			limit = defaultFailureTolerance
		}
		for i := range 13 {
			_, _, err := d.Decrypt(nil, good)
			want := ErrDecrypt
			if tol >= 0 && i > limit {
				want = ErrInvalidKey
			}
			if !errors.Is(err, want) {
				t.Fatalf("tolerance %d, failure %d: %v, want %v", tol, i, err, want)
			}
		}
		must(t, ring.SetKey(1, []byte("right"))) // a new key clears the count
		if _, _, err := d.Decrypt(nil, good); err != nil {
			t.Errorf("tolerance %d after SetKey: %v", tol, err)
		}
	}
}

func TestTamperedFramesFail(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 3))
	ring := newRing(t, RingConfig{FailureTolerance: -1})
	must(t, ring.SetKey(0, []byte("k")))
	e, d := pipe(t, ring, VP8)
	enc, err := e.Encrypt(nil, testVP8(rng, 200, true))
	must(t, err)
	for _, i := range []int{0, 5, 9, 10, 100, len(enc) - 15, len(enc) - 3} {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x40 // keeps the key-frame bit, so the layout is unchanged
		if _, _, err := d.Decrypt(nil, bad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("flip at %d: %v", i, err)
		}
	}
	bad := bytes.Clone(enc)
	bad[len(bad)-2] = 16
	if _, _, err := d.Decrypt(nil, bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("IV length 16: %v", err)
	}
	if _, _, err := d.Decrypt(nil, enc[len(enc)-20:]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
}

func TestRatchetWindow(t *testing.T) {
	t.Parallel()
	sender := newRing(t, RingConfig{})
	must(t, sender.SetKey(3, []byte("epoch0")))
	e, _ := NewEncryptor(sender, Opus)
	frame := []byte{0x78, 9, 9, 9}
	encAt := func() []byte {
		enc, err := e.Encrypt(nil, frame)
		must(t, err)
		return enc
	}
	first := encAt()
	for range 3 {
		_, err := sender.Ratchet(3)
		must(t, err)
	}
	third := encAt()

	narrow := newRing(t, RingConfig{RatchetWindow: 2})
	must(t, narrow.SetKey(3, []byte("epoch0")))
	d, _ := NewDecryptor(narrow, Opus)
	if _, _, err := d.Decrypt(nil, third); !errors.Is(err, ErrDecrypt) {
		t.Errorf("3 ratchets, window 2: %v", err)
	}

	ring := newRing(t, RingConfig{RatchetWindow: 3})
	must(t, ring.SetKey(3, []byte("epoch0")))
	d, _ = NewDecryptor(ring, Opus)
	for i, f := range [][]byte{first, third, encAt()} {
		if got, _, err := d.Decrypt(nil, f); err != nil || !bytes.Equal(got, frame) {
			t.Errorf("frame %d: %x, %v", i, got, err)
		}
	}
	if !bytes.Equal(ring.slots[3].Load().material, sender.slots[3].Load().material) {
		t.Error("receiver did not adopt the ratcheted key")
	}
	if _, _, err := d.Decrypt(nil, first); !errors.Is(err, ErrDecrypt) {
		t.Errorf("old epoch after adopting: %v", err)
	}
	// The chain was extended: three more sender ratchets still follow.
	for range 3 {
		_, err := sender.Ratchet(3)
		must(t, err)
	}
	if _, _, err := d.Decrypt(nil, encAt()); err != nil {
		t.Errorf("after 3 more ratchets: %v", err)
	}
}

func TestIVCounter(t *testing.T) {
	t.Parallel()
	c := ivCounter{floor: ivFloor}
	for i := range c.iv {
		c.iv[i] = 0xff
	}
	c.iv[4] = 0x10
	c.next()
	if got := c.next(); got[4] != 0x11 || got[5] != ivFloor || got[11] != ivFloor || got[3] != 0xff {
		t.Errorf("carry: %x", got)
	}

	ring := newRing(t, RingConfig{})
	must(t, ring.SetKey(0, []byte("k")))
	e, d := pipe(t, ring, H264)
	frame := testH264Slice(rand.New(rand.NewPCG(2, 2)), 50)
	seen := map[string]bool{}
	for range 2000 {
		enc, err := e.Encrypt(nil, frame)
		must(t, err)
		s, ok := d.parse(enc, layout{clear: 10, escaped: true})
		if !ok {
			t.Fatal("unparsable")
		}
		for _, b := range s.iv {
			if b < ivFloor {
				t.Fatalf("H.264 IV byte %#x < 4: %x", b, s.iv)
			}
		}
		if seen[string(s.iv)] {
			t.Fatalf("IV %x repeated", s.iv)
		}
		seen[string(s.iv)] = true
	}
}

func TestServerInjectedFrames(t *testing.T) {
	t.Parallel()
	trailer := []byte("LK-ROCKS")
	d, _ := NewDecryptor(newRing(t, RingConfig{SIFTrailer: trailer}), H264)
	sc := "\x00\x00\x00\x01"
	g711 := bytes.Repeat([]byte{0xd5}, sifG711Size)
	for _, p := range []string{
		sifVP8KeyFrame8x8, sifOpusSilence, sifOpusREDHeader + sifOpusSilence, sifH264SPS, string(g711),
		sc + sifH264SPS + sc + sifH264PPS + sc + sifH264IDR, sc + sifH264IDR, "\x00\x00\x01" + sifH264PPS,
	} {
		got, _, err := d.Decrypt(nil, append([]byte(p), trailer...))
		if err != nil || string(got) != p {
			t.Errorf("%x: %x, %v", p, got, err)
		}
	}
	for _, p := range []string{"", "x", sc + sifH264SPS + sc + "\x65junk", sifH264IDR + "\x00", string(g711[1:])} {
		if _, _, err := d.Decrypt(nil, append([]byte(p), trailer...)); !errors.Is(err, ErrServerInjected) {
			t.Errorf("%x: %v, want ErrServerInjected", p, err)
		}
	}
	// Without a trailer configured the same bytes are just a frame.
	d, _ = NewDecryptor(newRing(t, RingConfig{}), Opus)
	if _, _, err := d.Decrypt(nil, append([]byte(sifOpusSilence), trailer...)); !errors.Is(err, ErrNoKey) {
		t.Errorf("no trailer configured: %v", err)
	}
}

// TestConcurrentKeyChanges runs SetKey and Ratchet against encrypting and
// decrypting goroutines; meaningful under -race.
func TestConcurrentKeyChanges(t *testing.T) {
	t.Parallel()
	ring := newRing(t, RingConfig{RatchetWindow: 1})
	must(t, ring.SetKey(0, []byte("k0")))
	var keyer, wg sync.WaitGroup
	stop := make(chan struct{})
	keyer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			must(t, ring.SetKey(uint8(i%4), []byte{byte(i)}))
			if _, err := ring.Ratchet(uint8(i % 4)); err != nil {
				t.Error(err)
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			e, d := pipe(t, ring, Opus)
			var enc, dec []byte
			for range 2000 {
				var err error
				if enc, err = e.Encrypt(enc[:0], []byte{0x78, 1, 2, 3}); err != nil {
					t.Error(err)
					return
				}
				// The key may change in between: only ErrDecrypt or
				// ErrInvalidKey are acceptable failures.
				if dec, _, err = d.Decrypt(dec[:0], enc); err != nil && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrInvalidKey) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	keyer.Wait()
}
