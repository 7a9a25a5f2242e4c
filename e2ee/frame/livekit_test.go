package frame

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
)

// jsTrack is one track's plaintext frames and their RTP identity.
type jsTrack struct {
	codec  Codec
	frames [][]byte
	types  []string // video frame types as the browser encoder reports them
	ssrc   uint32
	ts     uint32
}

func (tr jsTrack) jsFrames(data [][]byte) []jsFrame {
	out := make([]jsFrame, len(data))
	for i, d := range data {
		f := jsFrame{SSRC: tr.ssrc, Timestamp: tr.ts + uint32(i)*3000, Data: hex.EncodeToString(d)}
		if tr.types != nil {
			f.Type = tr.types[i]
		}
		out[i] = f
	}
	return out
}

func newRing(t testing.TB, cfg RingConfig) *KeyRing {
	t.Helper()
	r, err := NewKeyRing(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// goEncrypt encrypts every frame with a fresh encryptor on ring.
func goEncrypt(t *testing.T, ring *KeyRing, codec Codec, frames [][]byte) [][]byte {
	t.Helper()
	e, err := NewEncryptor(ring, codec)
	must(t, err)
	out := make([][]byte, len(frames))
	for i, f := range frames {
		if out[i], err = e.Encrypt(nil, f); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// escapedH264 returns an H.264 frame and its encryption on ring whose
// ciphertext needed emulation-prevention bytes (found by trying frames).
func escapedH264(t *testing.T, rng *rand.Rand, ring *KeyRing) (plain, enc []byte) {
	t.Helper()
	e, err := NewEncryptor(ring, H264)
	must(t, err)
	for range 1 << 20 {
		plain = testH264Slice(rng, 600)
		enc, err = e.Encrypt(enc[:0], plain)
		must(t, err)
		if len(enc) > len(plain)+tagSize+trailerSize {
			return plain, bytes.Clone(enc)
		}
	}
	t.Fatal("no frame needed escaping")
	return nil, nil
}

// TestAgainstLivekitClient checks e2ee/frame against livekit-client 2.21.0's
// own worker: frames it encrypts must decrypt here to the plaintext and
// re-seal here to the same bytes; frames encrypted here must decrypt there.
func TestAgainstLivekitClient(t *testing.T) {
	requireNode(t)
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 7))
	keyJS, keyPBKDF2, keyRatchetJS := randomBytes(rng, 16), randomBytes(rng, 32), randomBytes(rng, 16)
	keyGo, keyRatchetGo := randomBytes(rng, 16), randomBytes(rng, 16)
	const passphrase = "Tr0ub4dor&3 ünïcødé"

	tracks := []jsTrack{
		{codec: Opus, frames: [][]byte{testOpus(rng, 100), testOpus(rng, 1), testOpus(rng, 300)}, ssrc: 0x11223344, ts: 960},
		{codec: VP8, frames: [][]byte{testVP8(rng, 1200, true), testVP8(rng, 500, false)}, types: []string{"key", "delta"}, ssrc: 0xdeadbeef, ts: 90000},
		// SSRC 1 and a small timestamp put 00 00 00 runs into the
		// browser's IV, so its frames carry escapes in the trailer.
		{codec: H264, frames: [][]byte{testH264IDR(rng, 1500), testH264Slice(rng, 700)}, types: []string{"key", "delta"}, ssrc: 1, ts: 0x100},
	}
	jsName := map[Codec]string{Opus: "opus", VP8: "vp8", H264: "h264"}

	// Go-encrypted frames for livekit-client to decrypt.
	ringGo := newRing(t, RingConfig{})
	must(t, ringGo.SetKey(9, keyGo))
	goEnc := make([][][]byte, len(tracks))
	for i, tr := range tracks {
		goEnc[i] = goEncrypt(t, ringGo, tr.codec, tr.frames)
	}
	h264 := &tracks[2]
	plain, enc := escapedH264(t, rng, ringGo)
	h264.frames, h264.types, goEnc[2] = append(h264.frames, plain), append(h264.types, "delta"), append(goEnc[2], enc)
	// IV B of §7.2: escapes inside the IV, which our encryptor avoids.
	var sealer Encryptor
	ivB := sealer.seal(nil, ringGo.slots[9].Load().aead, h264.frames[0], layout{clear: 44, escaped: true}, unhex(t, specIVB), 9)
	h264.frames, h264.types, goEnc[2] = append(h264.frames, h264.frames[0]), append(h264.types, "key"), append(goEnc[2], ivB)

	ringRatchetGo := newRing(t, RingConfig{})
	must(t, ringRatchetGo.SetKey(2, keyRatchetGo))
	ratchetPlain := [][]byte{testOpus(rng, 120), testOpus(rng, 130)}
	ratchetEnc := goEncrypt(t, ringRatchetGo, Opus, ratchetPlain[:1])
	_, err := ringRatchetGo.Ratchet(2)
	must(t, err)
	ratchetEnc = append(ratchetEnc, goEncrypt(t, ringRatchetGo, Opus, ratchetPlain[1:])...)
	ratchetTrack := jsTrack{codec: Opus, frames: ratchetPlain, ssrc: 77, ts: 1}

	sif := []byte("sif-trailer-of-the-room")
	blank := append([]byte(sifVP8KeyFrame8x8), sif...)
	foreign := append(testVP8(rng, 40, true), sif...)

	pass := passphrase
	steps := []jsStep{
		{Op: "setKey", Identity: "js-hkdf", Index: 3, KDF: "HKDF", Material: hex.EncodeToString(keyJS)},
	}
	for _, tr := range tracks {
		steps = append(steps, jsStep{Op: "encode", Identity: "js-hkdf", Track: "js-" + jsName[tr.codec], Codec: jsName[tr.codec], Frames: tr.jsFrames(tr.frames)})
	}
	passStep := len(steps) + 1
	steps = append(steps,
		jsStep{Op: "setKey", Identity: "js-pass", Index: 0, Passphrase: &pass},
		jsStep{Op: "encode", Identity: "js-pass", Track: "js-pass", Codec: "opus", Frames: tracks[0].jsFrames(tracks[0].frames[:1])},
		jsStep{Op: "setKey", Identity: "js-pbkdf2", Index: 5, KDF: "PBKDF2", Material: hex.EncodeToString(keyPBKDF2)},
		jsStep{Op: "encode", Identity: "js-pbkdf2", Track: "js-pbkdf2", Codec: "vp8", Frames: tracks[1].jsFrames(tracks[1].frames)},
		jsStep{Op: "setKey", Identity: "js-ratchet", Index: 7, KDF: "HKDF", Material: hex.EncodeToString(keyRatchetJS)},
		jsStep{Op: "encode", Identity: "js-ratchet", Track: "js-r1", Codec: "opus", Frames: ratchetTrack.jsFrames(ratchetPlain[:1])},
		jsStep{Op: "ratchet", Identity: "js-ratchet", Index: 7},
		jsStep{Op: "encode", Identity: "js-ratchet", Track: "js-r2", Codec: "opus", Frames: ratchetTrack.jsFrames(ratchetPlain[1:])},
		jsStep{Op: "ratchetBits", KDF: "HKDF", Material: hex.EncodeToString(keyJS)},
		jsStep{Op: "ratchetBits", KDF: "PBKDF2", Material: hex.EncodeToString(keyPBKDF2)},
		jsStep{Op: "setKey", Identity: "go-hkdf", Index: 9, KDF: "HKDF", Material: hex.EncodeToString(keyGo)},
	)
	goStep := len(steps)
	for i, tr := range tracks {
		steps = append(steps, jsStep{Op: "decode", Identity: "go-hkdf", Track: "go-" + jsName[tr.codec], Codec: jsName[tr.codec], Frames: tr.jsFrames(goEnc[i])})
	}
	steps = append(steps,
		jsStep{Op: "setKey", Identity: "go-ratchet", Index: 2, KDF: "HKDF", Material: hex.EncodeToString(keyRatchetGo)},
		jsStep{Op: "decode", Identity: "go-ratchet", Track: "go-ratchet", Codec: "opus", Frames: ratchetTrack.jsFrames(ratchetEnc)},
		jsStep{Op: "sif", Trailer: hex.EncodeToString(sif)},
		jsStep{Op: "decode", Identity: "sif", Track: "sif", Codec: "vp8", Frames: tracks[1].jsFrames([][]byte{blank, foreign})},
	)
	opts := jsOptions{RatchetSalt: DefaultSalt, RatchetWindowSize: 10, FailureTolerance: 10, KeyringSize: 256, KeySize: 128}
	res := runHarness(t, opts, steps)
	if len(res.Errors) > 0 {
		t.Errorf("livekit-client reported errors: %q", res.Errors)
	}
	frames := func(i int) [][]byte { return decodeFrames(t, res.Results[i]) }
	str := func(i int) string {
		var s string
		must(t, json.Unmarshal(res.Results[i], &s))
		return s
	}

	t.Run("livekit-client encrypts, Go decrypts and re-seals", func(t *testing.T) {
		ring := newRing(t, RingConfig{})
		must(t, ring.SetKey(3, keyJS))
		for i, tr := range tracks {
			checkJSFrames(t, ring, tr.codec, tr.frames, frames(1+i))
		}
		ring = newRing(t, RingConfig{})
		must(t, ring.SetPassphrase(0, passphrase))
		checkJSFrames(t, ring, Opus, tracks[0].frames[:1], frames(passStep))
		ring = newRing(t, RingConfig{KDF: PBKDF2})
		must(t, ring.SetKey(5, keyPBKDF2))
		checkJSFrames(t, ring, VP8, tracks[1].frames, frames(passStep+2))
	})

	t.Run("livekit-client ratchets, Go follows within its window", func(t *testing.T) {
		ring := newRing(t, RingConfig{RatchetWindow: 2})
		must(t, ring.SetKey(7, keyRatchetJS))
		d, err := NewDecryptor(ring, Opus)
		must(t, err)
		for i, f := range [][]byte{frames(passStep + 4)[0], frames(passStep + 6)[0]} {
			got, _, err := d.Decrypt(nil, f)
			if err != nil || !bytes.Equal(got, ratchetPlain[i]) {
				t.Errorf("frame %d: %x, %v", i, got, err)
			}
		}
		if got, want := hex.EncodeToString(ring.slots[7].Load().material), str(passStep+5); got != want {
			t.Errorf("adopted material %s, livekit-client ratcheted to %s", got, want)
		}
	})

	t.Run("ratchet material matches", func(t *testing.T) {
		for i, c := range []struct {
			kdf KDF
			key []byte
		}{{HKDF, keyJS}, {PBKDF2, keyPBKDF2}} {
			got, err := RatchetMaterial(c.kdf, DefaultSalt, c.key)
			must(t, err)
			if want := str(passStep + 7 + i); hex.EncodeToString(got) != want {
				t.Errorf("%v: %x, livekit-client %s", c.kdf, got, want)
			}
		}
	})

	t.Run("Go encrypts, livekit-client decrypts", func(t *testing.T) {
		for i, tr := range tracks {
			for j, got := range frames(goStep + i) {
				if !bytes.Equal(got, tr.frames[j]) {
					t.Errorf("%v frame %d: livekit-client decrypted to %x, want %x", tr.codec, j, got, tr.frames[j])
				}
			}
		}
		for j, got := range frames(goStep + len(tracks) + 1) {
			if !bytes.Equal(got, ratchetPlain[j]) {
				t.Errorf("ratcheted frame %d: livekit-client decrypted to %x", j, got)
			}
		}
	})

	t.Run("server-injected frames agree", func(t *testing.T) {
		js := frames(len(steps) - 1)
		if !bytes.Equal(js[0], []byte(sifVP8KeyFrame8x8)) || js[1] != nil {
			t.Fatalf("livekit-client passed %x and %x", js[0], js[1])
		}
		d, err := NewDecryptor(newRing(t, RingConfig{SIFTrailer: sif}), VP8)
		must(t, err)
		if got, _, err := d.Decrypt(nil, blank); err != nil || !bytes.Equal(got, js[0]) {
			t.Errorf("blank frame: %x, %v", got, err)
		}
		if _, _, err := d.Decrypt(nil, foreign); !errors.Is(err, ErrServerInjected) {
			t.Errorf("foreign payload: %v, want ErrServerInjected", err)
		}
	})
}

// decodeFrames reads a harness frame list (hex or null per frame).
func decodeFrames(t *testing.T, raw json.RawMessage) [][]byte {
	t.Helper()
	var hexes []*string
	must(t, json.Unmarshal(raw, &hexes))
	out := make([][]byte, len(hexes))
	for i, h := range hexes {
		if h != nil {
			out[i] = unhex(t, *h)
		}
	}
	return out
}

// checkJSFrames decrypts livekit-client's frames and re-seals the
// plaintexts with the browser's IVs, which must reproduce its bytes.
func checkJSFrames(t *testing.T, ring *KeyRing, codec Codec, plains, encs [][]byte) {
	t.Helper()
	d, err := NewDecryptor(ring, codec)
	must(t, err)
	var sealer Encryptor
	for i, enc := range encs {
		if enc == nil {
			t.Errorf("%v frame %d: livekit-client dropped it", codec, i)
			continue
		}
		got, kid, err := d.Decrypt(nil, enc)
		if err != nil || !bytes.Equal(got, plains[i]) {
			t.Errorf("%v frame %d: Decrypt = %x, %v; want %x", codec, i, got, err, plains[i])
			continue
		}
		l, _ := frameLayout(codec, plains[i])
		s, ok := d.parse(enc, l)
		if !ok {
			t.Fatalf("%v frame %d: unparsable", codec, i)
		}
		if again := sealer.seal(nil, ring.slots[kid].Load().aead, plains[i], l, s.iv, kid); !bytes.Equal(again, enc) {
			t.Errorf("%v frame %d: re-sealed\n%x\nlivekit-client\n%x", codec, i, again, enc)
		}
	}
}
