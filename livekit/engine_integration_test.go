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
// sender only, frame by frame, until the source ends.
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
func (s echoSink) Close()                    { _ = s.out.Close() }

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

var botIdentity = lkid.Legacy(string(botUser), string(botDevice))

// rig is a real LiveKit room our engine carries with the echo feature, and
// a real key store holding our key.
type rig struct {
	t      *testing.T
	env    *testenv.Env
	eng    *lkengine.Engine
	store  *e2ee.KeyStore
	issuer *lktoken.Issuer
	call   membership.CallKey
	self   e2ee.Participant
	lkRoom string
	botKey []byte
	// features are set when the call is carried.
	initial []media.Factory
}

// newRig starts the engine (not yet carrying the call) with the features
// (default: the test's echo); everything ends and is leak-checked when the
// test does.
func newRig(t *testing.T, features ...media.Factory) *rig {
	if len(features) == 0 {
		features = []media.Factory{echoFactory{}}
	}
	return startRig(t, features, nil)
}

// startRig is newRig with exactly features, set when the call is carried,
// and the engine's tokens passed through wrap when it is not nil.
func startRig(t *testing.T, features []media.Factory, wrap func(lkengine.Tokens) lkengine.Tokens) *rig {
	env := testenv.Require(t)
	room := id.RoomID(fmt.Sprintf("!echo%x:localhost", randomKey(t, 6)))
	r := &rig{t: t, env: env, call: membership.CallKey{Room: room, Application: "m.call", Scope: "m.room"},
		lkRoom: lkid.Room(string(room), "m.call#ROOM"), botKey: randomKey(t, 16)}
	rs := env.RoomService()
	if _, err := rs.CreateRoom(t.Context(), &livekit.CreateRoomRequest{Name: r.lkRoom}); err != nil {
		t.Fatalf("create room: %v", err)
	}
	t.Cleanup(func() { _, _ = rs.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: r.lkRoom}) })
	// After the room service's first request: its kept-alive connection is
	// the test's, not the engine's.
	leakcheck.Check(t)

	var err error
	r.issuer, err = lktoken.New(env.LKKey, env.LKSecret, time.Hour)
	must(t, err)
	tokens := &lkengine.FocusTokens{Self: botSelf, Own: []string{ownURL}, Mint: r.issuer,
		LiveKitURL: env.LKURL, HTTP: env.HTTPClient(),
		OpenID: func(context.Context) (lkengine.OpenIDToken, error) {
			return lkengine.OpenIDToken{AccessToken: "unused", TokenType: "Bearer", MatrixServerName: "localhost"}, nil
		}}
	r.store = e2ee.NewKeyStore(e2ee.KeyStoreOptions{})
	r.self = e2ee.Participant{Call: r.call, Identity: lkid.Legacy(string(botUser), string(botDevice)), UserID: botUser, DeviceID: botDevice}
	must(t, r.store.Set(r.self, 0, r.botKey, time.Now()))

	var engTokens lkengine.Tokens = tokens
	if wrap != nil {
		engTokens = wrap(tokens)
	}
	logs := &logbuf.Buffer{}
	r.eng = lkengine.New(lkengine.EngineConfig{Self: botSelf}, slog.New(slog.NewTextHandler(logs, nil)),
		engTokens, r.store, nil)
	r.initial = features
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- r.eng.Run(ctx) }()
	t.Cleanup(func() {
		_ = r.eng.Close()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
		cancel()
		if t.Failed() {
			t.Logf("engine log:\n%s", logs.String())
		}
	})
	return r
}

// peerParticipant names a test peer's device in the call.
func (r *rig) peerParticipant(name string) e2ee.Participant {
	return e2ee.Participant{Call: r.call, Identity: "@" + name + ":localhost:DEV", UserID: id.UserID("@" + name + ":localhost"), DeviceID: "DEV"}
}

// carry makes the engine carry the rig's call on our own focus.
func (r *rig) carry() {
	r.eng.Carry(r.call, membership.Focus{Type: "livekit", LiveKitServiceURL: ownURL})
	r.eng.SetFeatures(r.call, r.initial)
}

// join connects a test peer (identity "@name:localhost:DEV") whose key at
// index 0 is in the store and who publishes its frames; it leaves at the
// end of the test.
func (r *rig) join(name string, tag byte) (*peer, e2ee.Participant) {
	t := r.t
	ep := r.peerParticipant(name)
	material := randomKey(t, 16)
	must(t, r.store.Set(ep, 0, material, time.Now()))
	p := newPeer(t, tag)
	p.setSendKey(0, material, true)
	p.addOurKey(0, r.botKey)
	tok, err := r.issuer.Issue(ep.Identity, r.lkRoom)
	must(t, err)
	p.room, err = lksdk.ConnectToRoomWithToken(r.env.LKURL, tok, p.callbacks())
	if err != nil {
		t.Fatalf("peer connect: %v", err)
	}
	stop := make(chan struct{})
	var sending sync.WaitGroup
	t.Cleanup(func() {
		close(stop)
		sending.Wait()
		p.room.Disconnect()
	})
	p.publish(stop, &sending)
	return p, ep
}

// TestEngineEchoE2EE: our engine joins a real LiveKit room as an E2EE
// participant; a test participant written with server-sdk-go and its own
// frame crypto publishes encrypted Opus; the echo feature sends every frame
// back on a GCM track only it may subscribe to, encrypted with our key.
// Both sides rotate keys mid-stream (the peer to a 32-byte Famedly-size
// key) and frames keep flowing; a second call whose focus cannot be
// reached reports an error and disturbs nothing; Release leaves LiveKit and
// no goroutine stays.
func TestEngineEchoE2EE(t *testing.T) {
	r := newRig(t)
	// The call that cannot work: its focus's service does not answer.
	badCall := membership.CallKey{Room: "!unreachable:localhost", Application: "m.call", Scope: "m.room"}
	r.eng.Carry(badCall, membership.Focus{Type: "livekit", LiveKitServiceURL: "http://127.0.0.1:1"})
	r.carry()
	p, alice := r.join("alice", 'a')

	// The echo: frames come back decrypted with our key, in order.
	last := expectEcho(t, p, 50, -1, 0)
	waitFor(t, 20*time.Second, "the unreachable call's error state", func() bool {
		return strings.HasPrefix(r.eng.CallState(badCall), lkengine.StateError+":")
	})
	if s := r.eng.CallState(r.call); s != lkengine.StateConnected {
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
	must(t, r.store.Set(alice, 1, aliceKey1, time.Now()))
	p.setSendKey(1, aliceKey1, true)
	p.mu.Lock()
	from := p.switched
	p.mu.Unlock()
	last = expectEcho(t, p, 25, int64(max(last, from)), 0)
	p.addOurKey(1, botKey1)
	must(t, r.store.Set(r.self, 1, botKey1, time.Now()))
	expectEcho(t, p, 25, int64(last), 1)

	snap, ok := r.eng.Snapshot(r.call)
	if !ok {
		t.Fatal("no snapshot of the carried call")
	}
	checkSnapshot(t, snap, alice.Identity, 1)
	p.checkClean()

	// Release: our participant leaves the room.
	r.eng.Release(r.call)
	p.waitLeft(r.self.Identity)
	if s := r.eng.CallState(r.call); s != "not carried" {
		t.Errorf("released call state %q", s)
	}
}

// TestEngineMediaEcho: the real echo feature (media.NewEcho) on our engine
// sends the peer its own frames back after its delay, and its counters
// show in the call's snapshot.
func TestEngineMediaEcho(t *testing.T) {
	r := newRig(t, media.NewEcho(media.EchoConfig{Delay: 100 * time.Millisecond, Video: true}))
	r.carry()
	p, _ := r.join("alice", 'a')
	expectEcho(t, p, 25, -1, 0)
	p.checkClean()
	snap, _ := r.eng.Snapshot(r.call)
	if _, ok := snap.FeatureStats["echo"]; !ok || len(snap.Features) != 1 {
		t.Errorf("features %v stats %v, want the echo's", snap.Features, snap.FeatureStats)
	}
}

// TestEngineReconnects: LiveKit throws our participant out (as a server
// restart does); it comes back by itself, republishes its echo tracks and
// resubscribes, and each of two peers gets only its own frames back.
func TestEngineReconnects(t *testing.T) {
	r := newRig(t)
	r.carry()
	alice, _ := r.join("alice", 'a')
	bob, _ := r.join("bob", 'b')
	lastA := expectEcho(t, alice, 25, -1, 0)
	lastB := expectEcho(t, bob, 25, -1, 0)

	if _, err := r.env.RoomService().RemoveParticipant(t.Context(), &livekit.RoomParticipantIdentity{
		Room: r.lkRoom, Identity: r.self.Identity}); err != nil {
		t.Fatalf("remove our participant: %v", err)
	}
	alice.waitLeft(r.self.Identity)
	// Frames sent from now on come back only through the new connection.
	expectEcho(t, alice, 25, int64(max(lastA, alice.sentSoFar())), 0)
	expectEcho(t, bob, 25, int64(max(lastB, bob.sentSoFar())), 0)
	if s := r.eng.CallState(r.call); s != lkengine.StateConnected {
		t.Errorf("state after reconnecting %q", s)
	}
	alice.checkClean()
	bob.checkClean()
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

func checkSnapshot(t *testing.T, s lkengine.CallSnapshot, peerID string, keyIndex int) {
	t.Helper()
	if s.State != lkengine.StateConnected || s.KeyIndex == nil || *s.KeyIndex != keyIndex {
		t.Errorf("snapshot state %q key index %v, want connected and %d", s.State, s.KeyIndex, keyIndex)
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

// checkClean fails the test if the peer got a frame of ours it could not
// decrypt or that was not its own.
func (p *peer) checkClean() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bad != 0 {
		p.t.Errorf("peer %c: %d frames from us failed to decrypt or were not its own", p.tag, p.bad)
	}
}

// waitLeft waits until the peer sees identity leave the room.
func (p *peer) waitLeft(identity string) {
	p.t.Helper()
	p.await(p.left, identity+" leave", func(who string) bool { return who == identity })
}

// await waits for a name on ch that ok accepts.
func (p *peer) await(ch <-chan string, what string, ok func(string) bool) {
	p.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case name := <-ch:
			if ok(name) {
				return
			}
		case <-timeout:
			p.t.Fatalf("peer %c did not see %s", p.tag, what)
		}
	}
}

func (p *peer) sentSoFar() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}
