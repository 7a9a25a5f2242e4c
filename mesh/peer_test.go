package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/media"
)

// hang guards a wait that should end quickly; it only catches hangs.
const hang = 30 * time.Second

const (
	ourDevice, ourSession = "OURDEV", "oursession"
	tpDevice, tpSession   = "TPDEV", "tpsession"
)

// testSink records one remote source's frames.
type testSink struct {
	src       RemoteStream
	frames    chan media.Frame
	closed    chan struct{}
	closeOnce sync.Once
}

func (s *testSink) WriteFrame(f media.Frame) {
	f.Data = bytes.Clone(f.Data)
	select {
	case s.frames <- f:
	default: // the test reads only the first frames
	}
}

func (s *testSink) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// harness connects our Peer and a test peer through the wire JSON: our
// signals are encoded, theirs decoded, as the engine will do.
type harness struct {
	t        *testing.T
	peer     *Peer
	tp       *testPeer
	sinks    chan *testSink
	metadata chan StreamMetadata
	ran      chan error
	sent     chan string   // event types the test peer emitted, in order
	feature  media.Feature // when set before start, it gets the remote sources
	failKind Kind          // when set before start, sending this kind fails
	failures int           // sends failed (read once the peer is done)
	audio    *testSink     // the test peer's audio, once audioBothWays saw it
}

func newHarness(t *testing.T, ourUser, tpUser string, role Role, lifetime time.Duration, dialect ...Dialect) *harness {
	t.Helper()
	leakcheck.Check(t)
	h := &harness{t: t, sinks: make(chan *testSink, 16), metadata: make(chan StreamMetadata, 16),
		ran: make(chan error, 1), sent: make(chan string, 256)}
	h.tp = newTestPeer(t, tpUser, tpDevice, tpSession, ourUser, ourDevice, ourSession, func(ev wireEvent) {
		h.sent <- ev.Type
		s, err := Decode(ev.Type, ev.Content)
		if err != nil {
			t.Errorf("decode %s: %v", ev.Type, err)
			return
		}
		if err := h.peer.Deliver(s); err != nil {
			t.Logf("deliver %s: %v", ev.Type, err)
		}
	})
	peer, err := New(PeerConfig{
		Local:  Device{UserID: ourUser, DeviceID: ourDevice, SessionID: ourSession},
		Remote: Device{UserID: tpUser, DeviceID: tpDevice, SessionID: tpSession},
		RoomID: "!room:example.org", Role: role, InviteLifetime: lifetime, Dialect: append(dialect, Group)[0],
		ICE: ICEConfig{LoopbackOnly: true},
		Send: func(ctx context.Context, s Signal) error {
			if s.Kind() == h.failKind {
				h.failures++
				return fmt.Errorf("send %s: refused by the test", s.Kind())
			}
			typ, content, err := Encode(s)
			if err != nil {
				t.Errorf("encode %s: %v", s.Kind(), err)
				return err
			}
			select {
			case h.tp.inbox <- wireEvent{Type: typ, Content: content}:
				return nil
			case <-h.tp.quit:
				return fmt.Errorf("test peer gone")
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		OnSource: func(rs RemoteStream) media.Sink {
			if h.feature != nil {
				return h.feature.SourceAdded(rs.Source)
			}
			s := &testSink{src: rs, frames: make(chan media.Frame, 64), closed: make(chan struct{})}
			h.sinks <- s
			return s
		},
		OnMetadata: func(md StreamMetadata) { h.metadata <- md },
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.peer = peer
	h.tp.room1to1 = peer.cfg.Dialect == Room // before the test peer hears anything
	t.Cleanup(func() {
		peer.Close()
		select {
		case <-h.ran:
		case <-time.After(hang):
			t.Errorf("Run did not return after Close")
		}
	})
	return h
}

func (h *harness) start() {
	go func() { h.ran <- h.peer.Run(context.Background()) }()
}

// wait returns the first value of ch that ok accepts.
func wait[T any](t *testing.T, ch <-chan T, what string, ok func(T) bool) T {
	t.Helper()
	timeout := time.After(hang)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return v
			}
		case <-timeout:
			t.Fatalf("no %s", what)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func any1[T any](T) bool { return true }

// received waits for an event of kind from our Peer at the test peer.
func (h *harness) received(kind string) map[string]any {
	h.t.Helper()
	return wait(h.t, h.tp.Received, kind, func(c map[string]any) bool { return c["type"] == kind })
}

var (
	tpAudio  = []byte{0xfc, 0x01, 0x02, 0x03} // CELT 20 ms TOC, then a marker
	ourAudio = []byte{0xfc, 0x0a, 0x0b, 0x0c}
)

// audioBothWays checks that the test peer's audio reaches a sink of ours
// and an output of ours reaches the test peer.
func (h *harness) audioBothWays() {
	h.t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	h.t.Cleanup(func() { close(stop); wg.Wait() })
	h.tp.Play(tpAudio, stop)
	sink := wait(h.t, h.sinks, "audio source", func(s *testSink) bool { return s.src.Kind == media.Audio })
	h.audio = sink
	if sink.src.Codec != media.Opus || sink.src.ClockRate != 48000 || sink.src.Participant != h.peer.cfg.Remote.Key() ||
		sink.src.StreamID != "tp-stream" || sink.src.Purpose != PurposeUserMedia {
		h.t.Errorf("audio source %+v", sink.src)
	}
	f := wait(h.t, sink.frames, "test peer's audio frame", any1)
	if !bytes.Equal(f.Data, tpAudio) || f.Duration != 20*time.Millisecond {
		h.t.Errorf("frame %x, %v; want %x, 20ms", f.Data, f.Duration, tpAudio)
	}
	out, err := h.peer.AddOutput(media.OutputSpec{Name: "echo", Kind: media.Audio, Codec: media.Opus})
	if err != nil {
		h.t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for ts := uint32(0); ; ts += 960 {
			select {
			case <-stop:
				return
			case <-tick.C:
				if out.WriteFrame(media.Frame{Data: ourAudio, RTPTime: ts, Duration: 20 * time.Millisecond}) != nil {
					return
				}
			}
		}
	}()
	wait(h.t, h.tp.Tracks, "our audio at the test peer", func(tr tpTrack) bool {
		return tr.Kind == "audio" && bytes.Equal(tr.Payload, ourAudio)
	})
	select {
	case <-out.(media.Readier).Ready():
	case <-time.After(hang):
		h.t.Error("output never ready")
	}
}

func TestPeerCalls(t *testing.T) {
	h := newHarness(t, "@a:example.org", "@b:example.org", RoleAuto, 0)
	h.start()
	inv := h.received("invite")
	md, _ := inv["org.matrix.msc3077.sdp_stream_metadata"].(map[string]any)
	if inv["lifetime"] != float64(InviteLifetime) || inv["party_id"] != ourSession || len(md) != 1 ||
		inv["invitee"] != "@b:example.org" || inv["invitee_device_id"] != tpDevice || inv["device_id"] != ourDevice {
		t.Errorf("invite %v", inv)
	}
	sel := h.received("select_answer")
	if sel["selected_party_id"] != tpSession {
		t.Errorf("select_answer %v", sel)
	}
	h.audioBothWays()
	// The output unmuted our audio: the test peer is told.
	ch := h.received("sdp_stream_metadata_changed")
	for _, v := range ch["org.matrix.msc3077.sdp_stream_metadata"].(map[string]any) {
		if v.(map[string]any)["audio_muted"] != false {
			t.Errorf("metadata after AddOutput: %v", v)
		}
	}
}

func TestPeerAnswers(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAuto, 0)
	h.start()
	h.tp.Call(false)
	h.received("answer")
	h.audioBothWays()
}

// Candidates that reach us before the invite are held and applied: they
// are the only ones that can connect the call (the test peer drops ours).
func TestPeerEarlyCandidates(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAnswer, 0)
	h.tp.do(func() { h.tp.ignoreCandidates = true })
	h.start()
	h.tp.Call(true)
	if first := <-h.sent; first != tpPrefix+"candidates" {
		t.Fatalf("the test peer sent %s first", first)
	}
	h.received("answer")
	h.audioBothWays()
}

// A screen share added by renegotiation is a new video source with
// purpose m.screenshare; removing it ends the source.
func TestPeerScreenShare(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAuto, 0)
	h.start()
	h.tp.Call(false)
	h.audioBothWays()
	stop := make(chan struct{})
	defer close(stop)
	h.tp.StartScreen(stop)
	sink := wait(t, h.sinks, "screen share source", func(s *testSink) bool { return s.src.Kind == media.Video })
	if sink.src.Purpose != PurposeScreenshare || sink.src.Codec != media.VP8 || sink.src.StreamID != "tp-screen" {
		t.Errorf("screen share source %+v", sink.src)
	}
	f := wait(t, sink.frames, "screen share frame", any1)
	if !f.KeyFrame || f.Data[0] != 0x10 {
		t.Errorf("screen share frame %x key %v", f.Data, f.KeyFrame)
	}
	h.peer.RequestKeyFrame(sink.src.Source) // must not block or fail
	h.tp.StopScreen()
	select {
	case <-sink.closed:
	case <-time.After(hang):
		t.Fatal("screen share source not ended after its removal")
	}
}

func TestPeerMute(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAuto, 0)
	h.start()
	h.tp.Call(false)
	h.received("answer")
	wait(t, h.metadata, "invite metadata", func(md StreamMetadata) bool { return !md["tp-stream"].AudioMuted })
	h.tp.Mute()
	wait(t, h.metadata, "mute", func(md StreamMetadata) bool {
		return md["tp-stream"].AudioMuted && md["tp-stream"].Purpose == PurposeUserMedia
	})
}

func TestPeerRemoteHangup(t *testing.T) {
	h := newHarness(t, "@a:example.org", "@b:example.org", RoleAuto, 0)
	h.start()
	h.audioBothWays()
	h.tp.Hangup()
	select {
	case <-h.peer.Done():
	case <-time.After(hang):
		t.Fatal("peer did not end on hangup")
	}
	if r := h.peer.Result(); r != (End{Reason: ReasonUserHangup, Remote: true}) {
		t.Errorf("result %+v", r)
	}
	if err := h.peer.Deliver(Signal{}); err == nil {
		t.Error("Deliver after the end succeeded")
	}
}

func TestPeerLocalHangup(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAuto, 0)
	h.start()
	h.tp.Call(false)
	h.audioBothWays()
	h.peer.Close()
	h.peer.Close()
	if hu := h.received("hangup"); hu["reason"] != "user_hangup" {
		t.Errorf("hangup %v", hu)
	}
	<-h.peer.Done()
	if r := h.peer.Result(); r != (End{Reason: ReasonUserHangup}) {
		t.Errorf("result %+v", r)
	}
	if _, err := h.peer.AddOutput(media.OutputSpec{Kind: media.Audio, Codec: media.Opus}); err == nil {
		t.Error("AddOutput after the end succeeded")
	}
}

// Both sides invite at once: exactly one call survives, whichever side
// is smaller, and media flows on it.
func TestPeerGlare(t *testing.T) {
	for _, tc := range []struct{ name, ours string }{{"ours wins", "@a:example.org"}, {"theirs wins", "@z:example.org"}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.ours, "@b:example.org", RoleCall, 0)
			h.tp.Call(false) // reaches our inbox before our own invite is made
			h.start()
			h.audioBothWays()
			var ours, theirs string
			h.peer.post(func() {})
			done := make(chan struct{})
			h.peer.post(func() { ours = h.peer.call.id; close(done) })
			<-done
			h.tp.do(func() { theirs = h.tp.callID })
			if ours != theirs {
				t.Errorf("our call %q, the test peer's %q", ours, theirs)
			}
			// The losing call was ended by its placer or rejected.
			wantKind := "reject"
			if tc.ours == "@z:example.org" {
				wantKind = "hangup"
			}
			if c := h.received(wantKind); c["call_id"] == ours {
				t.Errorf("%s for the surviving call", wantKind)
			}
		})
	}
}

func TestPeerInviteTimeout(t *testing.T) {
	h := newHarness(t, "@a:example.org", "@b:example.org", RoleAuto, 200*time.Millisecond)
	h.tp.do(func() { h.tp.ignoreInvites = true })
	h.start()
	if hu := h.received("hangup"); hu["reason"] != "invite_timeout" {
		t.Errorf("hangup %v", hu)
	}
	<-h.peer.Done()
	if r := h.peer.Result(); r.Reason != ReasonInviteTimeout || r.Remote {
		t.Errorf("result %+v", r)
	}
}

// An offer that parses but pion refuses ends the call with a reason.
func TestPeerRefusedOffer(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAnswer, 0)
	h.start()
	content, _ := json.Marshal(map[string]any{
		"call_id": "1badcall", "party_id": tpSession, "version": "1", "conf_id": "", "seq": 0,
		"sender_session_id": tpSession, "dest_session_id": ourSession, "room_id": "!room:example.org",
		"lifetime": 60000, "invitee": "@z:example.org", "invitee_device_id": ourDevice, "device_id": tpDevice,
		"offer": map[string]any{"type": "offer", "sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
			"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"},
	})
	s, err := Decode(tpPrefix+"invite", content)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.peer.Deliver(s); err != nil {
		t.Fatal(err)
	}
	if hu := h.received("hangup"); hu["reason"] != "set_remote_description" {
		t.Errorf("hangup %v", hu)
	}
	<-h.peer.Done()
}

// A feature runs over a peer through the media seam: the echo plays the
// test peer's audio and screen share back to it.
func TestPeerEcho(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAuto, 0)
	f, err := media.NewEcho(media.EchoConfig{Delay: 20 * time.Millisecond, Video: true}).Start(h.peer, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	h.feature = f
	t.Cleanup(func() { f.Close() })
	h.start()
	h.tp.Call(false)
	stop := make(chan struct{})
	defer close(stop)
	h.tp.Play(tpAudio, stop)
	wait(t, h.tp.Tracks, "the echo of the test peer's audio", func(tr tpTrack) bool {
		return tr.Kind == "audio" && bytes.Equal(tr.Payload, tpAudio)
	})
	h.tp.StartScreen(stop)
	wait(t, h.tp.Tracks, "the echo of the test peer's screen share", func(tr tpTrack) bool {
		return tr.Kind == "video" && bytes.Contains(tr.Payload, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a})
	})
	if _, err := h.peer.Publish(media.OutputSpec{Kind: media.Audio, Codec: media.Opus, Audience: []string{"@c:x:D"}}); !errors.Is(err, ErrNotAudience) {
		t.Errorf("Publish for another audience: %v", err)
	}
}

// Sending candidates keeps failing: retried with backoff, then the call
// ends with ice_timeout after more than 5 failures.
func TestPeerSendFailures(t *testing.T) {
	h := newHarness(t, "@a:example.org", "@b:example.org", RoleAuto, 0)
	h.tp.do(func() { h.tp.ignoreInvites = true })
	h.failKind = KindCandidates
	h.peer.backoff = time.Millisecond
	h.start()
	if hu := h.received("hangup"); hu["reason"] != "ice_timeout" {
		t.Errorf("hangup %v", hu)
	}
	<-h.peer.Done()
	if r := h.peer.Result(); r != (End{Reason: ReasonICETimeout}) {
		t.Errorf("result %+v", r)
	}
	if h.failures != maxSendFailures+1 {
		t.Errorf("%d failed sends, want %d", h.failures, maxSendFailures+1)
	}
}

// A replaced track (a camera or microphone switch) goes on as the same
// source: nothing is renegotiated, no source added.
func TestPeerTrackReplaced(t *testing.T) {
	h := newHarness(t, "@z:example.org", "@b:example.org", RoleAuto, 0)
	h.start()
	h.tp.Call(false)
	h.audioBothWays()
	sink := h.audio
	stop := make(chan struct{})
	defer close(stop)
	other := []byte{0xfc, 0x0d, 0x0e, 0x0f}
	h.tp.ReplaceAudio(other, stop)
	wait(t, sink.frames, "frames of the replacing track", func(f media.Frame) bool { return bytes.Equal(f.Data, other) })
	select {
	case s := <-h.sinks:
		t.Errorf("a new source after a replaced track: %+v", s.src)
	default:
	}
}

// A 1:1 call travels as room events (m.call.*, no group envelope); crossing
// invites are resolved by call id, and media flows.
func TestPeerRoomCall(t *testing.T) {
	h := newHarness(t, "@a:example.org", "@b:example.org", RoleCall, 0, Room)
	h.start()
	inv := h.received("invite")
	if _, ok := inv["conf_id"]; ok {
		t.Errorf("room invite with conf_id: %v", inv)
	}
	h.audioBothWays()
}
