package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// recordingsWire is GET /admin/v1/recordings as the test reads it: the
// wire format, not our types.
type recordingsWire struct {
	Recordings []struct {
		Dir        string     `json:"dir"`
		State      string     `json:"state"`
		Active     bool       `json:"active"`
		StopReason string     `json:"stop_reason"`
		Ended      *time.Time `json:"ended"`
		Error      string     `json:"error"`
		Manifest   *struct {
			Room       string     `json:"room"`
			Started    time.Time  `json:"started"`
			Ended      *time.Time `json:"ended"`
			StopReason string     `json:"stop_reason"`
			Segments   []struct {
				Participant string `json:"participant"`
				User        string `json:"user"`
				Kind        string `json:"kind"`
				File        string `json:"file"`
				OffsetMS    int64  `json:"offset_ms"`
				DurationMS  int64  `json:"duration_ms"`
				SilenceMS   int64  `json:"silence_ms"`
			} `json:"segments"`
		} `json:"manifest"`
	} `json:"recordings"`
}

// recordPacket is 20 ms, the pacing and the Opus frame size of the tones.
const recordPacket = 20 * time.Millisecond

// The recorded call: alice sends for recordFor, bob for two stints of
// bobStint with 2 s away between; the tones are long enough for both and
// what is sent before the bot subscribes.
const (
	recordFor   = 30 * time.Second
	bobStint    = 13 * time.Second
	toneSeconds = 50
	// skipEvery: every 50th slot (once a second) sends nothing.
	skipEvery = 50
)

// TestRecordTwoParticipants (#13): the coordinator records a MatrixRTC call
// (calls.features: record) in an encrypted room on the real Synapse and
// LiveKit. Two test participants, each with its own Matrix device whose
// membership and Olm-sent key reach the bot, publish real Opus tones (440 and
// 1000 Hz) encrypted with their own keys, at 20 ms pacing with a slot
// skipped every second (DTX, a lost packet); the call is recorded for 30 s
// and bob leaves LiveKit midway and comes back. The admin view lists the
// recording as active during the call; after the call ends, it is finished
// there with 3 segments (bob's return is a new one); each file decodes
// (opusdec) to its sender's tone, lasts what its sender's presence lasted on
// its capture clock (from the first packet the recording holds to the last
// sent, skipped slots included, within 100 ms), with the skipped slots kept
// as silence, and the manifest's offsets place the segments as the test's
// clock did (within 40 ms). The room saw the start and stop notices,
// Megolm-encrypted, which alice's device decrypts.
func TestRecordTwoParticipants(t *testing.T) {
	c := startRecordedCall(t, "record")
	ctx, env, addr, room, bot, a, b, ac := c.ctx, c.env, c.addr, c.room, c.bot, c.a, c.b, c.a.cc
	recordDir, alice, bob := c.recordDir, c.a.cc.User, c.b.cc.User

	// A 30 s recording: alice is there all along; bob for 13 s, away 2 s,
	// back for 13 s.
	ra := a.connect(t, env, addr, room)
	aDone := make(chan error, 1)
	go func() { aDone <- a.send(ctx, recordFor) }()
	rb := b.connect(t, env, addr, room)
	if err := b.send(ctx, bobStint); err != nil {
		t.Fatal(err)
	}
	b.leave(rb)
	// While the call goes on, the admin view lists the recording as active.
	if v := adminGet[recordingsWire](t, addr, "/admin/v1/recordings"); len(v.Recordings) != 1 || !v.Recordings[0].Active || v.Recordings[0].State != "active" ||
		v.Recordings[0].Manifest == nil || v.Recordings[0].Manifest.Ended != nil {
		t.Fatalf("recordings during the call: %+v", v)
	}
	time.Sleep(2 * time.Second)
	rb = b.connect(t, env, addr, room)
	if err := b.send(ctx, bobStint); err != nil {
		t.Fatal(err)
	}
	b.leave(rb)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	a.leave(ra)

	// The call ends: both memberships go, the coordinator leaves and
	// finishes the recording.
	for _, u := range []*testenv.User{alice, bob} {
		endMembership(ctx, t, u, room)
	}
	var view recordingsWire
	waitFor(t, time.Minute, "the recording finished in the admin view", func() bool {
		view = adminGet[recordingsWire](t, addr, "/admin/v1/recordings")
		return len(view.Recordings) == 1 && !view.Recordings[0].Active
	})
	rec := view.Recordings[0]
	if rec.Error != "" || rec.State != "finished" || rec.Manifest == nil || rec.Manifest.Ended == nil || rec.Manifest.Room != room.String() {
		t.Fatalf("recording %+v", rec)
	}
	// The room was told, encrypted: alice's device reads both notices.
	started := ac.FindRoomEvent(t, time.Minute, room, testenv.IsNotice(bot, startedText))
	stopped := ac.FindRoomEvent(t, time.Minute, room, testenv.IsNotice(bot, stoppedText))
	for _, re := range []testenv.RoomEvent{started, stopped} {
		if !re.Encrypted || re.Evt.Content.Raw["m.mentions"] == nil {
			t.Errorf("notice %q: encrypted %v, content %v", re.Evt.Content.AsMessage().Body, re.Encrypted, re.Evt.Content.Raw)
		}
	}
	if started.Evt.Timestamp > stopped.Evt.Timestamp {
		t.Errorf("the stop notice (%d) came before the start notice (%d)", stopped.Evt.Timestamp, started.Evt.Timestamp)
	}
	m := rec.Manifest
	if len(m.Segments) != 3 {
		t.Fatalf("%d segments, want 3 (alice, bob, bob again): %+v", len(m.Segments), m.Segments)
	}

	// Each segment against its sender's own record of what it sent.
	type placed struct {
		name     string
		offset   time.Duration // manifest
		firstAt  time.Time     // the test's clock
		duration time.Duration
	}
	var got []placed
	stints := map[string]int{}
	for _, seg := range m.Segments {
		p := a
		if seg.Participant == b.identity {
			p = b
		} else if seg.Participant != a.identity {
			t.Fatalf("segment of %q, neither %s nor %s", seg.Participant, a.identity, b.identity)
		}
		path := filepath.Join(recordDir, rec.Dir, seg.File)
		first, last := p.match(t, path)
		stint := p.stintOf(first)
		stints[p.identity+fmt.Sprint(stint)]++
		if p.stintOf(last) != stint {
			t.Fatalf("%s: packets %d..%d span two stints", seg.File, first, last)
		}
		end := p.stints[stint].end
		presence := p.capturedAt[end-1].Add(recordPacket).Sub(p.capturedAt[first])
		pcm := decodeOpus(t, path)
		duration := time.Duration(len(pcm)) * time.Second / 48000
		own, other := tonePower(pcm, p.tone), tonePower(pcm, p.other)
		t.Logf("%s (%s, stint %d): file %v (manifest %d ms), presence %v (packets %d..%d of %d..%d sent, subscribed at %d), offset %d ms; %d Hz power %.3g, other tone %.3g",
			seg.File, p.identity, stint, duration, seg.DurationMS, presence, first, last, p.stints[stint].start, end-1,
			p.stints[stint].subscribed, seg.OffsetMS, p.tone, own, other)
		if last != end-1 {
			t.Errorf("%s: the last packet recorded is %d, the last sent %d", seg.File, last, end-1)
		}
		if d := duration - presence; d.Abs() > 100*time.Millisecond {
			t.Errorf("%s: lasts %v, its sender was there %v (%v off)", seg.File, duration, presence, d)
		}
		// The skipped slots inside the file, 20 ms each, are silence.
		skipped := presence/recordPacket - time.Duration(last-first+1)
		if silence := time.Duration(seg.SilenceMS) * time.Millisecond; skipped < 10 || silence < skipped*recordPacket {
			t.Errorf("%s: %v of silence, want at least the %d skipped slots", seg.File, silence, skipped)
		}
		// The tones are at half scale: about 1.6e7 at a block's bin
		// after Opus, over 1e7; a file mostly silent falls far below.
		if own < 10*other || own < 2e6 {
			t.Errorf("%s: not %d Hz: power %.3g there, %.3g at the other tone", seg.File, p.tone, own, other)
		}
		got = append(got, placed{seg.File, time.Duration(seg.OffsetMS) * time.Millisecond, p.sentAt[first], duration})
	}
	if len(stints) != 3 {
		t.Errorf("segments per stint %v, want one each of alice's, bob's first and bob's second", stints)
	}
	// The timeline: each segment's offset from the first one against the
	// test's own clock (network delay is common to all and drops out).
	ref := got[0]
	for _, g := range got[1:] {
		want, have := g.firstAt.Sub(ref.firstAt), g.offset-ref.offset
		t.Logf("%s starts %v after %s in the manifest, %v by the test's clock", g.name, have, ref.name, want)
		if d := have - want; d.Abs() > 40*time.Millisecond {
			t.Errorf("%s: placed %v after %s, the test saw %v (%v off)", g.name, have, ref.name, want, d)
		}
	}
}

// recordedCall is a call set up for the record tests: a coordinator with
// the given features recording to recordDir, an encrypted room, and alice
// (440 Hz) and bob (1000 Hz) whose memberships and keys reached the bot,
// not yet in LiveKit. ctx is the test's hang guard.
type recordedCall struct {
	ctx       context.Context
	env       *testenv.Env
	addr      string
	bot       id.UserID
	room      id.RoomID
	recordDir string
	a, b      *recPeer
}

func startRecordedCall(t *testing.T, features string) *recordedCall {
	t.Helper()
	env := testenv.Require(t)
	for _, tool := range []string{"sox", "opusenc", "opusdec"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (Debian's sox and opus-tools; scripts/browser-deps installs them): %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	t.Cleanup(cancel)
	c := &recordedCall{ctx: ctx, env: env, recordDir: filepath.Join(t.TempDir(), "recordings")}
	c.addr, c.bot = startBotCoordinator(t, env, map[string]string{
		"SWITCHBOARD_CALLS_JOIN": "all", "SWITCHBOARD_CALLS_FEATURES": features, "SWITCHBOARD_CALLS_ECHO_DELAY": "100ms",
		"SWITCHBOARD_CALLS_RECORD_DIR": c.recordDir, "SWITCHBOARD_LIVEKIT_SERVICE_URL": env.ServiceURL,
	})
	alice, bob := env.RegisterUser(t, "alice"), env.RegisterUser(t, "bob")
	ac, bc := env.NewCryptoClient(t, alice), env.NewCryptoClient(t, bob)
	c.room = env.CreateEncryptedRoom(t, ac, bob)
	inviteBot(t, alice, c.room, c.bot)
	work := t.TempDir()
	c.a = newRecPeer(t, ac, 440, 1000, makeTone(t, work, "a", 440))
	c.b = newRecPeer(t, bc, 1000, 440, makeTone(t, work, "b", 1000))
	for _, p := range []*recPeer{c.a, c.b} {
		p.joinAndKey(ctx, t, env, c.room, c.bot)
	}
	return c
}
