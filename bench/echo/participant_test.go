package echo

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/switchboard-rtc/switchboard/internal/testenv/peercrypto"
)

// frameSize is an Opus-shaped frame: TOC 0xf8 (CELT FB 20 ms), a 0xec
// marker, the counter, filler; about what a voice frame weighs.
const frameSize = 80

func marked(n uint32) []byte {
	f := make([]byte, frameSize)
	f[0], f[1] = 0xf8, 0xec
	binary.BigEndian.PutUint32(f[2:], n)
	return f
}

// arrival is a frame from the bot and when it came.
type arrival struct {
	at      time.Time
	payload []byte
}

// participant joins LiveKit with server-sdk-go, publishes a marked frame
// every 20 ms encrypted with its key (index 0) and reads the bot's echo.
// Frames that come before the bot's key are kept (bounded) and decrypted
// once it is set, so their arrival time still counts.
type participant struct {
	room     *lksdk.Room
	botUser  string // "@bot:server": the bot's identities start with it
	material []byte // our key (index 0), for the bot
	own      cipher.AEAD
	stop     chan struct{}
	sending  sync.WaitGroup

	mu      sync.Mutex
	botKeys map[byte]cipher.AEAD
	pending []arrival
	sentAt  []time.Time // by counter
	first   time.Time   // the first of our frames back, decrypted
	from    uint32      // round trips count for frames sent after first
	rtt     []time.Duration
	echoed  uint64
	failed  uint64 // bot frames that did not decrypt to one of ours
}

const maxPending = 512

// connect joins the LiveKit room and starts sending; listen subscribes to
// the bot's tracks (the echo), which a recorded call does not need.
func connect(b testing.TB, url, token, botUser string, material []byte, listen bool) *participant {
	p := &participant{botUser: botUser, material: material, own: peercrypto.Key(b, material), stop: make(chan struct{}), botKeys: map[byte]cipher.AEAD{}}
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(tr *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
			if strings.HasPrefix(rp.Identity(), p.botUser+":") {
				go p.read(tr)
			}
		},
	}}
	room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithAutoSubscribe(listen))
	if err != nil {
		b.Fatalf("participant connect: %v", err)
	}
	p.room = room
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "mic", Source: livekit.TrackSource_MICROPHONE, Encryption: livekit.Encryption_GCM}); err != nil {
		b.Fatalf("participant publish: %v", err)
	}
	p.sending.Go(func() { p.send(track) })
	return p
}

func (p *participant) send(track *lksdk.LocalSampleTrack) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		f := peercrypto.Seal(p.own, 0, marked(uint32(len(p.sentAt))))
		p.sentAt = append(p.sentAt, time.Now())
		p.mu.Unlock()
		_ = track.WriteSample(pionmedia.Sample{Data: f, Duration: 20 * time.Millisecond}, nil)
	}
}

func (p *participant) read(tr *webrtc.TrackRemote) {
	sif := p.room.SifTrailer()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if len(sif) > 0 && bytes.HasSuffix(pkt.Payload, sif) {
			continue // the server's blank frame
		}
		p.mu.Lock()
		p.take(arrival{time.Now(), pkt.Payload})
		p.mu.Unlock()
	}
}

// take handles one frame from the bot; p.mu held.
func (p *participant) take(a arrival) {
	if len(p.botKeys) == 0 {
		if len(p.pending) < maxPending {
			p.pending = append(p.pending, a)
		}
		return
	}
	plain, _, _ := peercrypto.Open(p.botKeys, a.payload)
	if len(plain) != frameSize || plain[1] != 0xec {
		p.failed++
		return
	}
	n := binary.BigEndian.Uint32(plain[2:])
	if int(n) >= len(p.sentAt) {
		p.failed++
		return
	}
	p.echoed++
	if p.first.IsZero() {
		p.first, p.from = a.at, uint32(len(p.sentAt))
	} else if n >= p.from {
		p.rtt = append(p.rtt, a.at.Sub(p.sentAt[n]))
	}
}

// setBotKey adds the bot's key and decrypts what came before it.
func (p *participant) setBotKey(b testing.TB, index int, material []byte) {
	aead := peercrypto.Key(b, material)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.botKeys[byte(index)] = aead
	for _, a := range p.pending {
		p.take(a)
	}
	p.pending = nil
}

// firstEcho is when the first of our frames came back (zero: not yet).
func (p *participant) firstEcho() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// counts: frames sent, echoed back, and bot frames that were not ours.
func (p *participant) counts() (sent, echoed, failed uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(len(p.sentAt)), p.echoed, p.failed
}

func (p *participant) roundTrips() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.rtt...)
}

func (p *participant) close() {
	close(p.stop)
	p.sending.Wait()
	p.room.Disconnect()
}
