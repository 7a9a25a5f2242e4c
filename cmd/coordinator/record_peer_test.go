package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/internal/testenv/peercrypto"
)

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
