package browser

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/e2ee"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// hangGuard bounds the whole self-test; it is no timing assertion (the
// browser hears the echo within seconds), only a stop for a hang.
const hangGuard = 3 * time.Minute

// TestBrowserHearsGoEcho checks the harness end to end on the real LiveKit:
// the page publishes an E2EE 660 Hz tone; a Go participant decrypts each
// Opus frame with the page's key, encrypts it again with its own key and
// publishes it back; the page, holding the Go key, must hear 660 Hz on an
// encrypted track without one decryption failure. Then the page gets a wrong
// Go key and must report decryption failures. The page's key is 32
// bytes (Famedly), the Go key 16 (MatrixRTC) at a non-zero index.
func TestBrowserHearsGoEcho(t *testing.T) {
	leakcheck.Check(t)
	// RoomService's keep-alive connections (http.DefaultClient) are not ours.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	env := testenv.Require(t)
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()

	const (
		webID  = "@web:localhost:WEBDEV"
		goID   = "@echo:localhost:ECHODEV"
		toneHz = 660
		goIdx  = 3
	)
	room := "!harness-" + randomHex(t, 8) + ":localhost"
	webKey, goKey := randomBytes(t, 32), randomBytes(t, 16)
	// The testenv's LiveKit creates no room on join (auto_create: false).
	if _, err := env.RoomService().CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room}); err != nil {
		t.Fatalf("create LiveKit room: %v", err)
	}
	t.Cleanup(func() {
		_, _ = env.RoomService().DeleteRoom(context.WithoutCancel(ctx), &livekit.DeleteRoomRequest{Room: room})
	})

	b := Start(t)
	page, err := b.Join(ctx, JoinOptions{
		LiveKitURL: env.LKURL, Token: token(t, env, room, webID), Identity: webID, ToneHz: toneHz,
		Keys: map[string]KeyAt{webID: {Key: webKey}, goID: {Key: goKey, Index: goIdx}},
	})
	if err != nil {
		t.Fatal(err)
	}
	echo := startEcho(t, env, room, goID, webKey, goKey, goIdx)

	heard := awaitReport(ctx, t, page, echo, "hear the echo", func(r Report) (bool, error) {
		if r.EncryptionErrors > 0 {
			return false, fmt.Errorf("decryption failures: %v", r.ErrorMessages)
		}
		tr, ok := r.Track(goID, "")
		if !ok || tr.WindowMS < 1000 || tr.LevelDB < -60 || math.Abs(tr.FrequencyHz-toneHz) > 30 {
			return false, nil
		}
		if !tr.Encrypted || !r.E2EEEnabled {
			return false, fmt.Errorf("echo heard but not E2EE: track %+v, e2ee enabled %v", tr, r.E2EEEnabled)
		}
		return true, nil
	})
	tr, _ := heard.Track(goID, "")
	t.Logf("page hears the echo: %+v; Go echoed %d frames, %d undecryptable", tr, echo.ok.Load(), echo.bad.Load())

	// Onsets: switched to 440 Hz, the page sees 440 Hz start on its own
	// tone and on the echo; 660 Hz, dominant at the switch, is no onset.
	sw, err := page.SwitchTone(ctx, 440)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{webID, goID} {
		o, err := page.Onset(ctx, who, 440, 30*time.Second)
		if err != nil {
			t.Fatalf("onset on %s's track: %v", who, err)
		}
		t.Logf("440 Hz onset on %s's track %.1f ms after the switch: %+v (switch %+v)", who, o.LatencyMS, o, sw)
	}
	if o, err := page.Onset(ctx, goID, 660, time.Second); !errors.Is(err, ErrPage) {
		t.Fatalf("an onset of the tone that was already playing: %+v, %v", o, err)
	}

	// The harness sees failures too: a wrong key for the Go track.
	if err := page.SetKey(ctx, goID, goIdx, randomBytes(t, 16)); err != nil {
		t.Fatal(err)
	}
	failed := awaitReport(ctx, t, page, echo, "report decryption failures", func(r Report) (bool, error) {
		return r.EncryptionErrors > 0, nil
	})
	t.Logf("with a wrong key the page reports %d failure event(s): %v", failed.EncryptionErrors, failed.ErrorMessages)

	if err := page.Leave(ctx); err != nil {
		t.Errorf("leave: %v", err)
	}
	echo.stop(t)
	b.Close()
	if left := b.leftovers(); len(left) > 0 {
		t.Errorf("Chromium processes left after Close: %v", left)
	}
}

// awaitReport polls the page until done says so (or fails), within ctx.
func awaitReport(ctx context.Context, t *testing.T, page *Page, e *echo, what string, done func(Report) (bool, error)) Report {
	t.Helper()
	for {
		r, err := page.Report(ctx)
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		ok, err := done(r)
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		if ok {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("page did not %s within the hang guard; last report %+v; Go echoed %d frames, %d undecryptable",
				what, r, e.ok.Load(), e.bad.Load())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// echo is the Go participant: whatever it decrypts from the page it sends back.
type echo struct {
	room    *lksdk.Room
	wg      sync.WaitGroup
	ok, bad atomic.Int64
}

func startEcho(t *testing.T, env *testenv.Env, room, identity string, peerKey, ownKey []byte, ownIdx uint32) *echo {
	t.Helper()
	enc, err := lksdk.NewFrameEncryptor(keyRing(t, ownKey, ownIdx), lksdk.CodecOpus)
	if err != nil {
		t.Fatal(err)
	}
	out, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		lksdk.WithFrameEncryptor(enc))
	if err != nil {
		t.Fatal(err)
	}
	e := &echo{}
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			if track.Kind() != webrtc.RTPCodecTypeAudio {
				return
			}
			dec, err := lksdk.NewFrameDecryptor(keyRing(t, peerKey, 0), lksdk.CodecOpus, e.room.SifTrailer())
			if err != nil {
				t.Error(err)
				return
			}
			e.wg.Add(1)
			go e.relay(e2ee.NewTrackDecryptor(track, dec), out)
		},
	}}
	e.room, err = lksdk.ConnectToRoom(env.LKURL, lksdk.ConnectInfo{APIKey: env.LKKey, APISecret: env.LKSecret.Reveal(),
		RoomName: room, ParticipantIdentity: identity}, cb)
	if err != nil {
		t.Fatalf("Go participant: %v", err)
	}
	if _, err := e.room.LocalParticipant.PublishTrack(out, &lksdk.TrackPublicationOptions{
		Name: "echo", Source: livekit.TrackSource_MICROPHONE, Encryption: livekit.Encryption_GCM}); err != nil {
		t.Fatalf("Go participant publish: %v", err)
	}
	t.Cleanup(func() { e.stop(t) })
	return e
}

// relay copies decrypted Opus frames to out (which encrypts them) until the
// track ends; decryption failures are counted, not fatal.
func (e *echo) relay(td *e2ee.TrackDecryptor, out *lksdk.LocalTrack) {
	defer e.wg.Done()
	for {
		s, err := td.ReadSample()
		switch {
		case errors.Is(err, io.EOF):
			return
		case err != nil:
			if e.bad.Add(1) > 10_000 { // the track is broken, not one frame
				return
			}
			continue
		case s == nil:
			continue
		}
		e.ok.Add(1)
		if s.Duration <= 0 {
			s.Duration = 20 * time.Millisecond
		}
		_ = out.WriteSample(media.Sample{Data: s.Data, Duration: s.Duration}, nil)
	}
}

var errRelayHang = errors.New("echo relay did not end after Disconnect")

func (e *echo) stop(t *testing.T) {
	e.room.Disconnect()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error(errRelayHang)
	}
}

func keyRing(t *testing.T, raw []byte, idx uint32) *e2ee.ExternalKeyProvider {
	t.Helper()
	k, err := lksdk.DeriveKeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	kp := e2ee.NewExternalKeyProvider()
	if err := kp.SetRawKey(k, idx); err != nil {
		t.Fatal(err)
	}
	return kp
}

func token(t *testing.T, env *testenv.Env, room, identity string) string {
	t.Helper()
	tok, err := auth.NewAccessToken(env.LKKey, env.LKSecret.Reveal()).SetIdentity(identity).SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(fmt.Errorf("random: %w", err))
	}
	return b
}

func randomHex(t *testing.T, n int) string { return hex.EncodeToString(randomBytes(t, n)) }
