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
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/switchboard-rtc/switchboard/internal/testenv/peercrypto"
)

// peerFrame is a test peer's synthetic Opus-shaped frame n: TOC 0xf8 (CELT
// FB 20 ms, one frame), the peer's tag, the counter, and filler.
func peerFrame(tag byte, n uint32) []byte {
	f := make([]byte, 2+4+40)
	f[0], f[1] = 0xf8, tag
	binary.BigEndian.PutUint32(f[2:], n)
	for i := 6; i < len(f); i++ {
		f[i] = byte(n) + byte(i)
	}
	return f
}

// echoed is a frame the peer got back from us.
type echoed struct {
	n   uint32
	kid byte // our key index
}

// peer is the test participant: it publishes encrypted Opus frames and
// decrypts what it receives from us with our keys.
type peer struct {
	t    *testing.T
	tag  byte
	room *lksdk.Room

	mu       sync.Mutex
	sendKID  byte
	sendKeys map[byte]cipher.AEAD
	ourKeys  map[byte]cipher.AEAD
	sent     uint32 // frames sent so far
	switched uint32 // first frame sent with the current sendKID
	bad      int
	tracks   []string // encryption of each of our tracks it got
	left     chan string
	gone     chan string // names of our tracks it lost

	got       chan echoed
	announced chan echoed // frames of our announceTrack
}

func newPeer(t *testing.T, tag byte) *peer {
	return &peer{t: t, tag: tag, sendKeys: map[byte]cipher.AEAD{}, ourKeys: map[byte]cipher.AEAD{},
		got: make(chan echoed, 4096), left: make(chan string, 8), gone: make(chan string, 64),
		announced: make(chan echoed, 4096)}
}

func (p *peer) callbacks() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{
		OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) { p.left <- rp.Identity() },
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(tr *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				if rp.Identity() != botIdentity {
					return // another peer's own track
				}
				if pub.Name() == announceTrack {
					go p.read(tr, announceTag, p.announced)
					return
				}
				p.mu.Lock()
				p.tracks = append(p.tracks, pub.TrackInfo().GetEncryption().String())
				p.mu.Unlock()
				go p.read(tr, p.tag, p.got)
			},
			OnTrackUnsubscribed: func(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				if rp.Identity() == botIdentity {
					select {
					case p.gone <- pub.Name():
					default:
					}
				}
			},
		},
	}
}

// read takes our frames on tr, which must be the peer's frames of tag,
// into out.
func (p *peer) read(tr *webrtc.TrackRemote, tag byte, out chan<- echoed) {
	sif := p.room.SifTrailer()
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if len(sif) > 0 && bytes.HasSuffix(pkt.Payload, sif) {
			continue // the server's blank frame, as any receiver skips it
		}
		p.mu.Lock()
		plain, kid, err := peercrypto.Open(p.ourKeys, pkt.Payload)
		if err != nil {
			p.bad++
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		if len(plain) < 6 {
			continue
		}
		n := binary.BigEndian.Uint32(plain[2:])
		if string(plain) != string(peerFrame(tag, n)) {
			p.mu.Lock()
			p.bad++
			p.mu.Unlock()
			continue
		}
		select {
		case out <- echoed{n: n, kid: kid}:
		default:
		}
	}
}

// setSendKey makes material the key at kid and, if use, the one frames are
// encrypted with from now on.
func (p *peer) setSendKey(kid byte, material []byte, use bool) {
	aead := peercrypto.Key(p.t, material)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sendKeys[kid] = aead
	if use {
		p.sendKID, p.switched = kid, p.sent
	}
}

func (p *peer) addOurKey(kid byte, material []byte) {
	aead := peercrypto.Key(p.t, material)
	p.mu.Lock()
	p.ourKeys[kid] = aead
	p.mu.Unlock()
}

// publish sends a frame every 20 ms until stop closes.
func (p *peer) publish(stop <-chan struct{}, done *sync.WaitGroup) {
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "peer-mic", Source: livekit.TrackSource_MICROPHONE, Encryption: livekit.Encryption_GCM}); err != nil {
		p.t.Fatalf("peer publish: %v", err)
	}
	done.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			p.mu.Lock()
			f := peercrypto.Seal(p.sendKeys[p.sendKID], p.sendKID, peerFrame(p.tag, p.sent))
			p.sent++
			p.mu.Unlock()
			_ = track.WriteSample(pionmedia.Sample{Data: f, Duration: 20 * time.Millisecond}, nil)
		}
	})
}
