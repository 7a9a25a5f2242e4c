package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/pkg/oggreader"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/peercrypto"
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

// recPeer is a test participant: its Matrix device, its Opus packets and
// what it sent when. Its frame crypto is lksdk's (AES-GCM, the TOC byte in
// the clear) with the HKDF key of frame-e2ee.md, not ours.
type recPeer struct {
	cc       *testenv.CryptoClient
	identity string
	tone     int // Hz
	other    int // the other participant's tone
	key      []byte
	block    cipher.Block
	packets  [][]byte
	index    map[string]int // packet bytes to their index

	// track is the current stint's; subscribed closes when the bot
	// subscribed to it.
	track      *lksdk.LocalSampleTrack
	subscribed chan struct{}
	once       *sync.Once

	mu         sync.Mutex // all below
	sentAt     []time.Time
	capturedAt []time.Time // the packet's slot on its sender's capture clock
	stints     []stint     // one per LiveKit visit
	// What comes back from the bot (the echo feature): its key, and the
	// latest of our packets heard back.
	bot      id.UserID
	botKeys  map[byte]cipher.AEAD
	heardMax int
}

func newRecPeer(t *testing.T, cc *testenv.CryptoClient, tone, other int, packets [][]byte) *recPeer {
	t.Helper()
	p := &recPeer{cc: cc, tone: tone, other: other, packets: packets, index: map[string]int{},
		identity: cc.User.ID.String() + ":" + string(cc.DeviceID()), key: make([]byte, 16)}
	rand.Read(p.key)
	aesKey, err := lksdk.DeriveKeyFromBytes(p.key)
	if err != nil {
		t.Fatal(err)
	}
	if p.block, err = aes.NewCipher(aesKey); err != nil {
		t.Fatal(err)
	}
	for i, pkt := range packets {
		if _, dup := p.index[string(pkt)]; dup {
			t.Fatalf("packet %d of the %d Hz tone repeats an earlier one: the test could not tell them apart", i, tone)
		}
		p.index[string(pkt)] = i
	}
	p.sentAt, p.capturedAt = make([]time.Time, len(packets)), make([]time.Time, len(packets))
	p.heardMax = -1
	return p
}

// joinAndKey writes the device's MatrixRTC membership, waits for the bot's
// key (to learn its device) and sends its own key to it over Olm.
func (p *recPeer) joinAndKey(ctx context.Context, t *testing.T, env *testenv.Env, room id.RoomID, bot id.UserID) {
	t.Helper()
	dev := p.cc.DeviceID()
	rtcJoin(t, env, p.cc.User, room, dev)
	td := p.cc.Receive(t, 30*time.Second, func(td testenv.ToDevice) bool {
		return td.Type.Type == matrixRTCKeysType && td.Sender == bot && td.Content["room_id"] == string(room)
	})
	if !td.Encrypted || td.SenderDevice == "" {
		t.Fatalf("the bot's key came unencrypted or from an unknown device: %+v", td)
	}
	idx, botKey := readKey(t, td.Content, 16)
	p.mu.Lock()
	p.bot, p.botKeys = bot, map[byte]cipher.AEAD{byte(idx): peercrypto.Key(t, botKey)}
	p.mu.Unlock()
	content := map[string]any{"keys": map[string]any{"index": 0, "key": base64.StdEncoding.EncodeToString(p.key)},
		"member": map[string]any{"id": p.identity, "claimed_device_id": dev}, "room_id": room,
		"session": map[string]any{"application": "m.call", "call_id": "", "scope": "m.room"}, "sent_ts": time.Now().UnixMilli()}
	to := map[id.UserID][]id.DeviceID{bot: {td.SenderDevice}}
	if err := p.cc.SendEncrypted(ctx, event.Type{Type: matrixRTCKeysType, Class: event.ToDeviceEventType}, to, content); err != nil {
		t.Fatal(err)
	}
}

// connect joins LiveKit with a token from our /sfu/get and publishes an
// encrypted microphone track.
func (p *recPeer) connect(t *testing.T, env *testenv.Env, addr string, room id.RoomID) *lksdk.Room {
	t.Helper()
	code, grant := sfuGet(t, env, addr, p.cc.User, room, string(p.cc.DeviceID()))
	if code != 200 {
		t.Fatalf("/sfu/get for %s: %d %s", p.identity, code, grant.msg())
	}
	p.subscribed, p.once = make(chan struct{}), &sync.Once{}
	sub, once := p.subscribed, p.once
	p.mu.Lock()
	botPrefix := string(p.bot) + ":"
	p.mu.Unlock()
	r, err := lksdk.ConnectToRoomWithToken(grant.URL, grant.JWT, &lksdk.RoomCallback{
		OnLocalTrackSubscribed: func(*lksdk.LocalTrackPublication, *lksdk.LocalParticipant) { once.Do(func() { close(sub) }) },
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(tr *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				if botPrefix != ":" && strings.HasPrefix(rp.Identity(), botPrefix) {
					go p.hear(tr)
				}
			},
		},
	})
	if err != nil {
		t.Fatalf("connect %s: %v", p.identity, err)
	}
	t.Cleanup(r.Disconnect)
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "mic", Source: livekit.TrackSource_MICROPHONE, Encryption: livekit.Encryption_GCM}); err != nil {
		t.Fatalf("publish %s: %v", p.identity, err)
	}
	p.track = track
	return r
}

// send sends the next packets on a 20 ms capture clock (absolute: a late
// wake-up catches up, as a client sends what its microphone buffered),
// until the bot has been subscribed for d. Every skipEvery-th 20 ms slot
// sends nothing, as a client in DTX or a lost packet would: its time is
// in the RTP timestamps (the previous packet's duration covers it) and
// must be in the recording as silence. It records when each packet was
// captured (its slot) and sent.
func (p *recPeer) send(ctx context.Context, d time.Duration) error {
	p.mu.Lock()
	start := 0
	if n := len(p.stints); n > 0 {
		start = p.stints[n-1].end
	}
	p.stints = append(p.stints, stint{start, -1, start})
	cur := len(p.stints) - 1
	p.mu.Unlock()
	t0 := time.Now()
	var until time.Time
	slot := 0
	for i := start; ; i, slot = i+1, slot+1 {
		if slot%skipEvery == skipEvery-1 {
			slot++
		}
		if until.IsZero() {
			select {
			case <-p.subscribed:
				until = time.Now().Add(d)
				p.mu.Lock()
				p.stints[cur].subscribed = i
				p.mu.Unlock()
			default:
			}
		} else if !time.Now().Before(until) {
			return nil
		}
		if i >= len(p.packets) {
			return fmt.Errorf("%s ran out of tone after %d packets", p.identity, i)
		}
		captured := t0.Add(time.Duration(slot) * recordPacket)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: the bot never subscribed or sending hung: %w", p.identity, ctx.Err())
		case <-time.After(time.Until(captured)):
		}
		enc, err := lksdk.EncryptGCMAudioSampleCustomCipher(p.packets[i], 0, p.block)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.sentAt[i], p.capturedAt[i] = time.Now(), captured
		p.stints[cur].end = i + 1
		p.mu.Unlock()
		// The duration places the next packet: one slot on, or two
		// when the next is skipped.
		dur := recordPacket
		if (slot+1)%skipEvery == skipEvery-1 {
			dur *= 2
		}
		if err := p.track.WriteSample(pionmedia.Sample{Data: enc, Duration: dur}, nil); err != nil {
			return fmt.Errorf("%s: packet %d: %w", p.identity, i, err)
		}
	}
}

// hear reads a track of the bot's (our echo) and notes the latest of our
// packets it brings back.
func (p *recPeer) hear(tr *webrtc.TrackRemote) {
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		p.mu.Lock()
		if plain, _, err := peercrypto.Open(p.botKeys, pkt.Payload); err == nil {
			if i, ok := p.index[string(plain)]; ok && i > p.heardMax {
				p.heardMax = i
			}
		}
		p.mu.Unlock()
	}
}

// heard is the latest of our packets heard back (-1: none), and the last
// sent.
func (p *recPeer) heard() (heard, sent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sent = -1
	if n := len(p.stints); n > 0 {
		sent = p.stints[n-1].end - 1
	}
	return p.heardMax, sent
}

// leave lets the last packets arrive, then leaves LiveKit.
func (p *recPeer) leave(r *lksdk.Room) {
	time.Sleep(300 * time.Millisecond)
	r.Disconnect()
}

// stint is one LiveKit visit's packets: start..end-1 sent, the first
// from subscribed on after the bot subscribed (-1: it never did).
type stint struct{ start, subscribed, end int }

// stintOf is the stint packet i was sent in (-1: none).
func (p *recPeer) stintOf(i int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for s, st := range p.stints {
		if i >= st.start && i < st.end {
			return s
		}
	}
	return -1
}

// match reads a recorded Ogg file packet by packet and finds, by their
// bytes (the recording does not transcode), the first and last packets of
// ours it holds; the silence the recorder adds matches none.
func (p *recPeer) match(t *testing.T, path string) (first, last int) {
	t.Helper()
	first, last, n := -1, -1, 0
	for _, pkt := range oggPackets(t, path) {
		if i, ok := p.index[string(pkt)]; ok {
			if first < 0 {
				first = i
			}
			if i <= last {
				t.Fatalf("%s: packet %d after %d", path, i, last)
			}
			last, n = i, n+1
		}
	}
	if first < 0 {
		t.Fatalf("%s holds none of %s's packets", path, p.identity)
	}
	if want := last - first + 1; n != want {
		t.Logf("%s: %d of the %d packets %d..%d recorded (the rest lost on the way, kept as silence)", path, n, want, first, last)
	}
	return first, last
}

// makeTone writes an Ogg/Opus file of a hz tone (toneSeconds, 48 kHz mono, 20 ms
// frames) with faint noise mixed in, so that no two packets are alike, and
// returns its packets.
func makeTone(t *testing.T, dir, name string, hz int) [][]byte {
	t.Helper()
	tone, noise, mix := filepath.Join(dir, name+"-tone.wav"), filepath.Join(dir, name+"-noise.wav"), filepath.Join(dir, name+".wav")
	out := filepath.Join(dir, name+".opus")
	runTool(t, "sox", "-n", "-r", "48000", "-c", "1", "-b", "16", tone, "synth", fmt.Sprint(toneSeconds), "sine", fmt.Sprint(hz), "vol", "0.5")
	runTool(t, "sox", "-n", "-r", "48000", "-c", "1", "-b", "16", noise, "synth", fmt.Sprint(toneSeconds), "whitenoise", "vol", "0.01")
	runTool(t, "sox", "-m", tone, noise, mix)
	runTool(t, "opusenc", "--quiet", "--bitrate", "48", "--framesize", "20", mix, out)
	packets := oggPackets(t, out)
	if len(packets) < 500 {
		t.Fatalf("%s: only %d packets", out, len(packets))
	}
	return packets
}

// oggPackets reads an Ogg/Opus file's audio packets, one at a time.
func oggPackets(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewOggReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var packets [][]byte
	for {
		pkt, err := r.ReadPacket()
		if err != nil {
			return packets
		}
		packets = append(packets, pkt)
	}
}

// decodeOpus decodes an Ogg/Opus file with opusdec to 48 kHz mono samples
// (sox mixes the channels down).
func decodeOpus(t *testing.T, path string) []int16 {
	t.Helper()
	wav, raw := path+".wav", path+".raw"
	runTool(t, "opusdec", "--quiet", "--rate", "48000", path, wav)
	runTool(t, "sox", wav, "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "48000", raw)
	data, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return pcm
}

// tonePower is the power of pcm (48 kHz) at hz, averaged over 100 ms
// blocks: a tone's phase jumps where silence was put in, and over the whole
// file those jumps would cancel the tone out.
func tonePower(pcm []int16, hz int) float64 {
	const block = 4800
	var sum float64
	n := 0
	for ; (n+1)*block <= len(pcm); n++ {
		sum += goertzel(pcm[n*block:(n+1)*block], hz)
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// goertzel is the power of pcm (48 kHz) at hz, per sample.
func goertzel(pcm []int16, hz int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	c := 2 * math.Cos(2*math.Pi*float64(hz)/48000)
	var s1, s2 float64
	for _, x := range pcm {
		s1, s2 = float64(x)+c*s1-s2, s1
	}
	return (s1*s1 + s2*s2 - c*s1*s2) / float64(len(pcm)) / float64(len(pcm))
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
