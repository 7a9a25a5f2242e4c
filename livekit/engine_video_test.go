package livekit_test

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/switchboard-rtc/switchboard/internal/testenv/peercrypto"
	"github.com/switchboard-rtc/switchboard/media"
)

// vp8Clear is livekit-client's clear prefix of a VP8 frame: 10 bytes of a
// key frame (P bit 0), 3 of a delta frame.
func vp8Clear(f []byte) int {
	if f[0]&1 == 0 {
		return 10
	}
	return 3
}

// videoFrame is the peer's synthetic VP8 frame n: a key frame every tenth
// (VP8 frame tag, start code, 320x240), a delta frame otherwise; then the
// counter and filler, long enough to span several RTP packets.
func videoFrame(n uint32) []byte {
	f := make([]byte, 2500+int(n%7)*300)
	copy(f, []byte{0x11, 0, 0})
	if n%10 == 0 {
		copy(f, []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	}
	binary.BigEndian.PutUint32(f[10:], n)
	for i := 14; i < len(f); i++ {
		f[i] = byte(n) ^ byte(i)
	}
	return f
}

func sealVideo(aead cipher.AEAD, kid byte, plain []byte) []byte {
	n := vp8Clear(plain)
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], uint32(len(plain)))
	iv[0] = kid + 1
	out := append([]byte(nil), plain[:n]...)
	out = aead.Seal(out, iv, plain[n:], plain[:n])
	return append(append(out, iv...), 12, kid)
}

func openVideo(aead cipher.AEAD, f []byte) ([]byte, bool) {
	if len(f) < 10+16+14 || f[len(f)-2] != 12 {
		return nil, false
	}
	n := vp8Clear(f)
	tail := f[n : len(f)-2]
	iv, ct := tail[len(tail)-12:], tail[:len(tail)-12]
	body, err := aead.Open(nil, iv, ct, f[:n])
	if err != nil {
		return nil, false
	}
	return append(append([]byte(nil), f[:n]...), body...), true
}

// TestEngineEchoVP8: an E2EE VP8 camera track, frames several RTP packets
// long, comes back whole through our depacketizer, VP8 frame decryption
// (10 clear bytes for key frames, 3 for delta frames), the echo feature and
// our VP8 encryption; the peer reassembles with pion's sample builder and
// decrypts with its own code. It runs with the test's echo and with the
// real one (media.NewEcho, which passes video from a key frame on and
// relays key frame requests).
func TestEngineEchoVP8(t *testing.T) {
	t.Run("test-echo", func(t *testing.T) { echoVP8(t) })
	t.Run("media-echo", func(t *testing.T) {
		echoVP8(t, media.NewEcho(media.EchoConfig{Delay: 50 * time.Millisecond, Video: true}))
	})
}

func echoVP8(t *testing.T, features ...media.Factory) {
	r := newRig(t, features...)
	r.carry()
	ep := r.peerParticipant("vid")
	material := randomKey(t, 16)
	must(t, r.store.Set(ep, 0, material, time.Now()))
	sendKey, ourKey := peercrypto.Key(t, material), peercrypto.Key(t, r.botKey)

	got := make(chan uint32, 1024)
	var mu sync.Mutex
	bad := 0
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(tr *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			if rp.Identity() != botIdentity || tr.Kind() != webrtc.RTPCodecTypeVideo {
				return
			}
			go func() {
				sb := samplebuilder.New(64, &codecs.VP8Packet{}, 90000)
				for {
					pkt, _, err := tr.ReadRTP()
					if err != nil {
						return
					}
					sb.Push(pkt)
					for s := sb.Pop(); s != nil; s = sb.Pop() {
						plain, ok := openVideo(ourKey, s.Data)
						var n uint32
						if ok && len(plain) > 14 {
							n = binary.BigEndian.Uint32(plain[10:])
						}
						if !ok || !bytes.Equal(plain, videoFrame(n)) {
							mu.Lock()
							bad++
							mu.Unlock()
							continue
						}
						select {
						case got <- n:
						default:
						}
					}
				}
			}()
		},
	}}
	tok, err := r.issuer.Issue(ep.Identity, r.lkRoom)
	must(t, err)
	room, err := lksdk.ConnectToRoomWithToken(r.env.LKURL, tok, cb)
	if err != nil {
		t.Fatalf("peer connect: %v", err)
	}
	t.Cleanup(room.Disconnect)
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	must(t, err)
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "peer-camera", Source: livekit.TrackSource_CAMERA, Encryption: livekit.Encryption_GCM,
		VideoWidth: 320, VideoHeight: 240}); err != nil {
		t.Fatalf("peer publish: %v", err)
	}
	stop := make(chan struct{})
	var sending sync.WaitGroup
	t.Cleanup(func() { close(stop); sending.Wait() })
	sending.Go(func() {
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		for n := uint32(0); ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = track.WriteSample(pionmedia.Sample{Data: sealVideo(sendKey, 0, videoFrame(n)), Duration: 33 * time.Millisecond}, nil)
		}
	})

	prev, count := int64(-1), 0
	timeout := time.After(30 * time.Second)
	for count < 30 {
		select {
		case n := <-got:
			if int64(n) <= prev {
				t.Fatalf("video echo out of order: frame %d after %d", n, prev)
			}
			prev = int64(n)
			count++
		case <-timeout:
			t.Fatalf("got %d of 30 echoed video frames", count)
		}
	}
	mu.Lock()
	if bad != 0 {
		t.Errorf("%d echoed video frames did not decrypt to what the peer sent", bad)
	}
	mu.Unlock()
	snap, _ := r.eng.Snapshot(r.call)
	for _, p := range snap.Participants {
		if p.DecryptFailures != 0 {
			t.Errorf("decrypt failures from %s: %+v", p.Identity, p)
		}
	}
}
