package livekit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/lktoken"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	lkengine "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/media"
	"github.com/switchboard-rtc/switchboard/membership"
)

// echoFactory is a fake feature: each remote source is sent back to its
// sender only, frame by frame.
type echoFactory struct{}

func (echoFactory) Name() string { return "test-echo" }

func (echoFactory) Start(call media.Call, _ *slog.Logger) (media.Feature, error) {
	return &echoFeature{call: call}, nil
}

type echoFeature struct {
	call media.Call
	mu   sync.Mutex
	outs []media.Output
}

func (f *echoFeature) SourceAdded(src media.Source) media.Sink {
	out, err := f.call.Publish(media.OutputSpec{Name: "echo-" + src.ID, Kind: src.Kind, Codec: src.Codec,
		Audience: []string{src.Participant}})
	if err != nil {
		return nil
	}
	f.mu.Lock()
	f.outs = append(f.outs, out)
	f.mu.Unlock()
	return echoSink{out}
}

func (f *echoFeature) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.outs {
		_ = o.Close()
	}
	return nil
}

type echoSink struct{ out media.Output }

func (s echoSink) WriteFrame(fr media.Frame) { _ = s.out.WriteFrame(fr) }
func (s echoSink) Close()                    {}

// waitFor polls ok until it holds; the limit only guards against a hang.
func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomKey(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	botUser   = id.UserID("@bot:localhost")
	botDevice = id.DeviceID("BOTDEV")
	ownURL    = "https://switchboard.invalid"
)

func botSelf() (id.UserID, id.DeviceID) { return botUser, botDevice }

// TestEngineEchoE2EE: our engine joins a real LiveKit room as an E2EE
// participant; a test participant written with server-sdk-go and its own
// frame crypto publishes encrypted Opus; the echo feature sends every frame
// back on a GCM track only it may subscribe to, encrypted with our key.
// Both sides rotate keys mid-stream (the peer to a 32-byte Famedly-size
// key) and frames keep flowing; a second call whose focus cannot be
// reached reports an error and disturbs nothing; Release leaves LiveKit and
// no goroutine stays.
func TestEngineEchoE2EE(t *testing.T) {
	env := testenv.Require(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	room := id.RoomID(fmt.Sprintf("!echo%x:localhost", randomKey(t, 6)))
	call := membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"}
	lkRoom := lkid.Room(string(room), "m.call#ROOM")
	rs := env.RoomService()
	if _, err := rs.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: lkRoom}); err != nil {
		t.Fatalf("create room: %v", err)
	}
	t.Cleanup(func() { _, _ = rs.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: lkRoom}) })
	// After the room service's first request: its kept-alive connection is
	// the test's, not the engine's.
	leakcheck.Check(t)

	issuer, err := lktoken.New(env.LKKey, env.LKSecret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokens := &lkengine.FocusTokens{Self: botSelf, Own: []string{ownURL}, Mint: issuer,
		LiveKitURL: env.LKURL, HTTP: env.HTTPClient(),
		OpenID: func(context.Context) (lkengine.OpenIDToken, error) {
			return lkengine.OpenIDToken{AccessToken: "unused", TokenType: "Bearer", MatrixServerName: "localhost"}, nil
		}}

	const peerID = "@alice:localhost:ALICEDEV"
	store := e2ee.NewKeyStore(e2ee.KeyStoreOptions{})
	self := e2ee.Participant{Call: call, Identity: lkid.Legacy(string(botUser), string(botDevice)), UserID: botUser, DeviceID: botDevice}
	alice := e2ee.Participant{Call: call, Identity: peerID, UserID: "@alice:localhost", DeviceID: "ALICEDEV"}
	botKey0, aliceKey0 := randomKey(t, 16), randomKey(t, 16)
	must(t, store.Set(self, 0, botKey0, time.Now()))
	must(t, store.Set(alice, 0, aliceKey0, time.Now()))

	logs := &logbuf.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", logs.String())
		}
	})
	eng := lkengine.New(lkengine.EngineConfig{Self: botSelf}, slog.New(slog.NewTextHandler(logs, nil)),
		tokens, store, func(membership.CallKey) []media.Factory { return []media.Factory{echoFactory{}} }, nil)
	runDone := make(chan error, 1)
	go func() { runDone <- eng.Run(ctx) }()
	defer func() {
		_ = eng.Close()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// The call that cannot work: its focus's service does not answer.
	badCall := membership.CallKey{Room: "!unreachable:localhost", Application: "m.call", Scope: "m.room"}
	eng.Carry(badCall, membership.Focus{Type: "livekit", LiveKitServiceURL: "http://127.0.0.1:1"})
	eng.Carry(call, membership.Focus{Type: "livekit", LiveKitServiceURL: ownURL})

	// The test participant.
	p := newPeer(t)
	p.setSendKey(0, aliceKey0, true)
	p.addOurKey(0, botKey0)
	tok, err := issuer.Issue(peerID, lkRoom)
	must(t, err)
	p.room, err = lksdk.ConnectToRoomWithToken(env.LKURL, tok, p.callbacks())
	if err != nil {
		t.Fatalf("peer connect: %v", err)
	}
	defer p.room.Disconnect()
	stopSend := make(chan struct{})
	var sending sync.WaitGroup
	defer sending.Wait()
	defer close(stopSend)
	p.publish(stopSend, &sending)

	// The echo: frames come back decrypted with our key, in order.
	last := expectEcho(t, p, 50, -1, 0)
	waitFor(t, 20*time.Second, "the unreachable call's error state", func() bool {
		return strings.HasPrefix(eng.CallState(badCall), lkengine.StateError+":")
	})
	if s := eng.CallState(call); s != lkengine.StateConnected {
		t.Errorf("good call state %q with the bad one failing", s)
	}
	p.mu.Lock()
	if len(p.tracks) != 1 || p.tracks[0] != livekit.Encryption_GCM.String() {
		t.Errorf("peer got our tracks with encryption %v, want one GCM", p.tracks)
	}
	p.mu.Unlock()

	// Rotation: the peer moves to a 32-byte key at index 1 (the store has it
	// first, as the exchange delivers keys before their use delay ends);
	// we move to index 1 when the store says it is in use.
	aliceKey1, botKey1 := randomKey(t, 32), randomKey(t, 16)
	must(t, store.Set(alice, 1, aliceKey1, time.Now()))
	p.setSendKey(1, aliceKey1, true)
	p.mu.Lock()
	from := p.switched
	p.mu.Unlock()
	last = expectEcho(t, p, 25, int64(max(last, from)), 0)
	p.addOurKey(1, botKey1)
	must(t, store.Set(self, 1, botKey1, time.Now()))
	expectEcho(t, p, 25, int64(last), 1)

	snap, ok := eng.Snapshot(call)
	if !ok {
		t.Fatal("no snapshot of the carried call")
	}
	checkSnapshot(t, snap, peerID)
	p.mu.Lock()
	if p.bad != 0 {
		t.Errorf("the peer failed to decrypt %d of our frames", p.bad)
	}
	p.mu.Unlock()

	// Release: our participant leaves the room.
	eng.Release(call)
	select {
	case who := <-p.left:
		if who != self.Identity {
			t.Errorf("participant %q left, want us (%q)", who, self.Identity)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("our participant did not leave LiveKit after Release")
	}
	if s := eng.CallState(call); s != "not carried" {
		t.Errorf("released call state %q", s)
	}
}

// expectEcho waits for n echoed frames after frame number after, all
// encrypted with our key index kid, in increasing order; it returns the
// last number.
func expectEcho(t *testing.T, p *peer, n int, after int64, kid byte) uint32 {
	t.Helper()
	count := 0
	prev := after
	deadline := time.After(30 * time.Second)
	for count < n {
		select {
		case e := <-p.got:
			if int64(e.n) <= prev && prev > after {
				t.Fatalf("echo out of order: frame %d after %d", e.n, prev)
			}
			if int64(e.n) <= after {
				continue // from before the step under test
			}
			prev = int64(e.n)
			if e.kid != kid {
				continue // sent before our switch reached the peer
			}
			count++
		case <-deadline:
			t.Fatalf("got %d of %d echoed frames after frame %d with our key %d", count, n, after, kid)
		}
	}
	return uint32(prev)
}

func checkSnapshot(t *testing.T, s lkengine.CallSnapshot, peerID string) {
	t.Helper()
	if s.State != lkengine.StateConnected || s.KeyIndex == nil || *s.KeyIndex != 1 {
		t.Errorf("snapshot state %q key index %v, want connected and 1", s.State, s.KeyIndex)
	}
	if len(s.Participants) != 1 || s.Participants[0].Identity != peerID {
		t.Fatalf("snapshot participants %+v, want %s", s.Participants, peerID)
	}
	ps := s.Participants[0]
	if ps.FramesIn == 0 || ps.DecryptFailures != 0 || len(ps.Tracks) != 1 || !ps.Tracks[0].Encrypted {
		t.Errorf("peer stats %+v: want frames in, no decrypt failure, one encrypted track", ps)
	}
	if len(s.Outputs) != 1 || s.Outputs[0].FramesOut == 0 || !bytes.Equal([]byte(strings.Join(s.Outputs[0].Audience, ",")), []byte(peerID)) {
		t.Errorf("snapshot outputs %+v, want one echo to %s", s.Outputs, peerID)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
