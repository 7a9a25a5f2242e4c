package frame

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// Known answers from shared/reference/frame-e2ee.md §7, each cited by its
// subsection there.

// unhex decodes hex with optional spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// specK is the raw Matrix key material of §7.2.
const specK = "000102030405060708090a0b0c0d0e0f"

func TestKDFKnownAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		kdf      KDF
		salt     string
		material string // hex, or a passphrase when passphrase is set
		pass     bool
		ratchet  bool // RatchetMaterial (32 bytes) instead of DeriveKey
		want     string
	}{
		{"7.1(1) native PBKDF2 KAT", PBKDF2, "\x00\x01\x02\x03\x04\x05\x06\x07", specK, false, false, "a658cd52efbacadfecdfe0a0dc574ec3"},
		{"7.1(2) JS PBKDF2 key1", PBKDF2, DefaultSalt, "key1", true, false, "7adabac1db9abf018ef98fdc737f4f2f"},
		{"7.1(3) JS PBKDF2 password", PBKDF2, DefaultSalt, "password", true, false, "421890b1557504a8ea1a90c253b419e4"},
		{"7.1(4) server-sdk-go PBKDF2 12345", PBKDF2, DefaultSalt, "12345", true, false, "0f5ec6425dd3742e3761e879bde9e016"},
		{"7.1(4) server-sdk-go HKDF", HKDF, DefaultSalt, "2215bbca86cca83e056928f458", false, false, "81e05d3e11cb638865239580bd98fb4c"},
		{"7.2 HKDF aesKey(K)", HKDF, DefaultSalt, specK, false, false, "4086b4641064e1ae8b63d4eb83ad3e7e"},
		{"7.2 HKDF m1", HKDF, DefaultSalt, specK, false, true, "4086b4641064e1ae8b63d4eb83ad3e7e878c21ab850a1f6b36c5954be5919e3a"},
		{"7.2 HKDF aesKey(m1)", HKDF, DefaultSalt, "4086b4641064e1ae8b63d4eb83ad3e7e878c21ab850a1f6b36c5954be5919e3a", false, false, "af61b566e2c6adff55bf8c20f94b4765"},
		{"7.2 HKDF m2", HKDF, DefaultSalt, "4086b4641064e1ae8b63d4eb83ad3e7e878c21ab850a1f6b36c5954be5919e3a", false, true, "af61b566e2c6adff55bf8c20f94b4765ea5ddf9be693faa0eb173c176b5eb5bf"},
		{"7.2 PBKDF2 aesKey(K)", PBKDF2, DefaultSalt, specK, false, false, "502f1a14d853d43158bc9340e7e3e8b2"},
		{"7.2 PBKDF2 m1", PBKDF2, DefaultSalt, specK, false, true, "502f1a14d853d43158bc9340e7e3e8b213abc45e66957ecd02108eb620f5f0a5"},
		{"7.2 PBKDF2 aesKey(m1)", PBKDF2, DefaultSalt, "502f1a14d853d43158bc9340e7e3e8b213abc45e66957ecd02108eb620f5f0a5", false, false, "2faf1d1ec5969c4d02bd856383a47996"},
		{"7.2 PBKDF2 m2", PBKDF2, DefaultSalt, "502f1a14d853d43158bc9340e7e3e8b213abc45e66957ecd02108eb620f5f0a5", false, true, "2faf1d1ec5969c4d02bd856383a4799635dc8e7ee1332aaa8c82253fd9ce661a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			material := []byte(tt.material)
			if !tt.pass {
				material = unhex(t, tt.material)
			}
			f := DeriveKey
			if tt.ratchet {
				f = RatchetMaterial
			}
			got, err := f(tt.kdf, tt.salt, material)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("got %x, want %s", got, tt.want)
			}
		})
	}
}

// frameVector is an encrypted frame with its plaintext and how it was made.
type frameVector struct {
	name  string
	codec Codec
	kdf   KDF    // of material; PBKDF2 with pass for passphrases
	key   string // hex material, or passphrase when pass
	pass  bool
	kid   uint8
	l     layout // as the sender saw it
	iv    string
	plain string
	enc   string
}

// specIVA and specIVB are the IVs of §7.2.
const (
	specIVA  = "1122334400000960fffff72c"
	specIVB  = "000000010000010000000100"
	specH264 = "000000016742c01f0fd91f888884000003000400000300c83c60c920000000016887cb83cb20000000016588840af2628000a7be"
)

var frameVectors = []frameVector{
	{
		name: "7.1(2) JS FrameCryptor frame 1", codec: H264, kdf: PBKDF2, key: "key1", pass: true, kid: 1,
		l: layout{clear: vp8KeyClear}, iv: "ffffffff00000000ffffc733",
		plain: "0102030405060708090a0b0c0d0e0f10",
		enc:   "0102030405060708090a fe605b6fbb841f0ccf8811dde974ae063225d64777c4 ffffffff00000000ffffc733 0c 01",
	},
	{
		name: "7.1(2) JS FrameCryptor frame 2", codec: H264, kdf: PBKDF2, key: "key1", pass: true, kid: 1,
		l: layout{clear: vp8KeyClear}, iv: "ffffffff00000000ffff60f7",
		plain: "6302030405060708090a0b0c0d0e0f10",
		enc:   "6302030405060708090a9a6cd1effd21486f0d7d0a651cd18da200eebdfe429cffffffff00000000ffff60f70c01",
	},
	{
		name: "7.1(4) server-sdk-go Opus", codec: Opus, kdf: PBKDF2, key: "12345", pass: true, kid: 0,
		l: layout{clear: audioClear}, iv: "a583abf38d3523838d34fdbc",
		plain: "780b6d527184bd9cdcad1e6d5736ad631a7ea6257fea6ed3e698b5ebc5138ce6b32383841dc061f76c35b7d64db5adceaf07e4915d9b9b8e0e1b6f4060c4e5bd8e3b95a963e1d855bab6",
		enc:   "7891189f4c41823090f91170864efa81abc210ad49c4059845e11cd2c4f1e28be7ac33268bb3f5b6aa087a7562907b5f49597727cd14bf37793befc055e0e48f0a71c3df762a022016114de36da0f5cabd3fa2a405f118972d2aa583abf38d3523838d34fdbc0c00",
	},
	{
		name: "7.2 Opus IV A", codec: Opus, kdf: HKDF, key: specK, kid: 2,
		l: layout{clear: audioClear}, iv: specIVA,
		plain: "780102030405060708090a0b0c0d0e0f10",
		enc:   "78536855d7bf3eae58e1a7adff7c186e478030c64bf7f47739fd23e1c67674a4441122334400000960fffff72c0c02",
	},
	{
		name: "7.2 VP8 key frame IV A", codec: VP8, kdf: HKDF, key: specK, kid: 0,
		l: layout{clear: vp8KeyClear}, iv: specIVA,
		plain: "1002009d012a080008000047088585888584880202000c0d6000feffab5080",
		enc:   "1002009d012a08000800522d5e563fb02cd460afa4f37d1b0157cba02bcdd81ddc63356e24d79703ae65fd7e68bb321122334400000960fffff72c0c00",
	},
	{
		name: "7.2 VP8 delta frame IV A", codec: VP8, kdf: HKDF, key: specK, kid: 0,
		l: layout{clear: vp8DeltaClear}, iv: specIVA,
		plain: "310200aabbccddeeff00112233",
		enc:   "310200f8d19a0e54c7a941ca9e915a22a0f47a65fa4093bbccc93129fb1122334400000960fffff72c0c00",
	},
	{
		name: "7.2 H.264 SPS+PPS+IDR IV A", codec: H264, kdf: HKDF, key: specK, kid: 1,
		l: layout{clear: 44, escaped: true}, iv: specIVA,
		plain: specH264,
		enc:   "000000016742c01f0fd91f888884000003000400000300c83c60c920000000016887cb83cb20000000016588d660a4b13a380eee982c5c2552db3c4decd5dc8a37392a9f1122334400000960fffff72c0c01",
	},
	{
		name: "7.2 H.264 SPS+PPS+IDR IV B (escapes in the IV)", codec: H264, kdf: HKDF, key: specK, kid: 1,
		l: layout{clear: 44, escaped: true}, iv: specIVB,
		plain: specH264,
		enc:   "000000016742c01f0fd91f888884000003000400000300c83c60c920000000016887cb83cb20000000016588e8923edafff0752fc6e77835f3253ba565f48419ad7daaee0000030001000003010000030001000c01",
	},
}

// ringFor returns a ring holding v's key at v.kid.
func ringFor(t testing.TB, v frameVector, cfg RingConfig) *KeyRing {
	t.Helper()
	cfg.KDF = v.kdf
	r, err := NewKeyRing(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v.pass {
		err = r.SetPassphrase(v.kid, v.key)
	} else {
		err = r.SetKey(v.kid, unhex(t, v.key))
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFrameKnownAnswers(t *testing.T) {
	t.Parallel()
	for _, v := range frameVectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			ring := ringFor(t, v, RingConfig{})
			plain, enc := unhex(t, v.plain), unhex(t, v.enc)

			d, err := NewDecryptor(ring, v.codec)
			if err != nil {
				t.Fatal(err)
			}
			got, kid, err := d.Decrypt([]byte("prefix"), enc)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if kid != v.kid || !bytes.Equal(got, append([]byte("prefix"), plain...)) {
				t.Errorf("Decrypt = %x, kid %d; want prefix‖%x, kid %d", got, kid, plain, v.kid)
			}

			// Sealing the plaintext with the sender's IV must give the
			// sender's bytes exactly (layout, AAD, trailer, escaping).
			e, err := NewEncryptor(ring, v.codec)
			if err != nil {
				t.Fatal(err)
			}
			if l, ok := frameLayout(v.codec, plain); ok && l != v.l {
				t.Errorf("layout %+v, sender used %+v", l, v.l)
			}
			resealed := e.seal(nil, ring.slots[v.kid].Load().aead, plain, v.l, unhex(t, v.iv), v.kid)
			if !bytes.Equal(resealed, enc) {
				t.Errorf("seal = %x\nwant   %x", resealed, enc)
			}
		})
	}
}

// TestRatchetKnownAnswer replays livekit-client's "ratchets keys
// predictably" snapshot (§7.1(3)): encrypt 00..10 with a zero IV and no AAD,
// then ratchet, ten times, starting from PBKDF2("password").
func TestRatchetKnownAnswer(t *testing.T) {
	t.Parallel()
	want := []string{
		"2ae25e3198124f0137befa508f1386dac837576675d982300b423f667390755ce8",
		"04a4784cace1110eb0ba6f050ab01d2a13d748e3cb8bdb93554e3ebfba7bf83c93",
		"3aad55a2d3c8c857d641da5c4a358fb73af21327e2b4cc7f6ddb9c98679ebaf0a1",
		"2e896b08eff8d9d66aea67226cb312ba05211f150930c2cdce8806b340967eaf84",
		"f97b56b31209952a6e701dc1d03f30760fba1b65171f6f98c1eb5919a1f6e7c67e",
		"3886c4c3f20abb7a6fb393ce4a992df4587719720b029579e3db270b0dafb6a860",
		"240c779d922a2b6b3d2bf2a60bb49427b1f8c2a6c935c0393e4625fcf39c8cb92a",
		"de7f20e463c61f9ec0655281af99702b39cff6367fa563fe04b22835425c0d4500",
		"f9b5b5a81b30ddddaebb1099909ca4e8b9ca843a4b9ce8eebf21091f972be088be",
		"3a63109794838a5ee65f265189a24e3df3cfff6d30f8d98785f8384a2971996cca",
	}
	ring, err := NewKeyRing(RingConfig{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.SetPassphrase(0, "password"); err != nil {
		t.Fatal(err)
	}
	plain := unhex(t, "000102030405060708090a0b0c0d0e0f10")
	for i, w := range want {
		ct := ring.slots[0].Load().aead.Seal(nil, make([]byte, ivSize), plain, nil)
		if hex.EncodeToString(ct) != w {
			t.Errorf("round %d: %x, want %s", i, ct, w)
		}
		if _, err := ring.Ratchet(0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSIFPayloadHashes checks the blank frames against the SHA-256 values
// livekit-client compares with (§7.1(5), sifPayload.ts CryptoHashes).
func TestSIFPayloadHashes(t *testing.T) {
	t.Parallel()
	for payload, want := range map[string]string{
		sifVP8KeyFrame8x8: "ef0161653d8b2b23aad46624b420af1d03ce48950e9fc85718028f91b50f9219",
		sifOpusSilence:    "aad8d31fc56b2802ca500e58c2fb9d0b29ad71bb7cb52cd6530251eade188988",
		sifH264SPS:        "f0a0e09647d891d6d50aa898bce7108090375d0d55e50a2bb21147afee558e44",
		sifH264PPS:        "61d9665eed71b6d424ae9539330a3bdd5cb386d4d781c808219a6e36750493a7",
		sifH264IDR:        "faffc26b68a2fc09096fa20f3351e706398b6f838a7500c8063472c2e476e90d",
	} {
		if got := sha256.Sum256([]byte(payload)); hex.EncodeToString(got[:]) != want {
			t.Errorf("sha256(%x) = %x, want %s", payload, got, want)
		}
	}
}
