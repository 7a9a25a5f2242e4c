package callwire

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Voice is one pion connection of a test peer and its audio: an Opus track
// that Play feeds 50 packets a second, each marked "mark-NAME-", then the
// current tag, then a six-digit number (1, 2, ...; the RTP sequence number
// and timestamp follow it), and a reader of what comes back: our own
// marked packets (noting the first and which numbers came), other peers'
// marked ones and unmarked ones.
type Voice struct {
	pc     *webrtc.PeerConnection
	name   string
	marker []byte

	mu    sync.Mutex // below
	track *webrtc.TrackLocalStaticRTP
	tag   []byte
	sent  int // packets written, numbered 1..sent
	first time.Time
	got   []bool // got[n]: our packet n came back
	heard Heard
	stop  context.CancelFunc // Play's

	wg sync.WaitGroup
}

// Heard counts the packets a peer received.
type Heard struct {
	Own      int // marked with our name
	Foreign  int // marked with another name
	Unmarked int // not empty and not marked (a sound the bot plays)
}

func (h Heard) add(o Heard) Heard {
	return Heard{Own: h.Own + o.Own, Foreign: h.Foreign + o.Foreign, Unmarked: h.Unmarked + o.Unmarked}
}

// NewVoice makes a connection with our track (stream "stream-NAME") and its
// reader.
func NewVoice(api *webrtc.API, name string) (*Voice, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &Voice{pc: pc, name: name, marker: []byte("mark-" + name + "-")}
	v.track, err = opusTrack("audio-"+name, name)
	if err == nil {
		_, err = pc.AddTrack(v.track)
	}
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			v.received(pkt.Payload)
		}
	})
	return v, nil
}

func opusTrack(id, name string) (*webrtc.TrackLocalStaticRTP, error) {
	return webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		id, "stream-"+name)
}

func (v *Voice) received(payload []byte) {
	at := time.Now()
	own := bytes.Contains(payload, v.marker)
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case own:
		v.heard.Own++
		if n := trailingNumber(payload); n >= 1 && n <= v.sent {
			if v.first.IsZero() {
				v.first = at
			}
			for len(v.got) <= n {
				v.got = append(v.got, false)
			}
			v.got[n] = true
		}
	case bytes.Contains(payload, []byte("mark-")):
		v.heard.Foreign++
	case len(payload) > 0:
		v.heard.Unmarked++
	}
}

// trailingNumber is the decimal number ending b (0 when none).
func trailingNumber(b []byte) int {
	n, scale := 0, 1
	for i := len(b) - 1; i >= 0 && b[i] >= '0' && b[i] <= '9' && scale <= 1e9; i-- {
		n += int(b[i]-'0') * scale
		scale *= 10
	}
	return n
}

// PC is the connection.
func (v *Voice) PC() *webrtc.PeerConnection { return v.pc }

// Play writes a marked packet every 20 ms until Close.
func (v *Voice) Play() {
	ctx, cancel := context.WithCancel(context.Background())
	v.mu.Lock()
	v.stop = cancel
	v.mu.Unlock()
	v.wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			v.mu.Lock()
			v.sent++
			n, track, tag := v.sent, v.track, v.tag
			v.mu.Unlock()
			payload := fmt.Appendf(append(append([]byte{0xfc}, v.marker...), tag...), "%06d", n)
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(n),
				Timestamp: uint32(n) * 960}, Payload: payload})
		}
	})
}

// Close stops playing and closes the connection; what was heard stays.
func (v *Voice) Close() {
	v.mu.Lock()
	stop := v.stop
	v.mu.Unlock()
	if stop != nil {
		stop()
	}
	v.wg.Wait()
	_ = v.pc.Close()
}

// ReplaceTrack puts a new Opus track on our audio sender (a microphone
// switch: no renegotiation); Play goes on with it, its packets tagged with
// tag after the marker, their numbers going on.
func (v *Voice) ReplaceTrack(tag []byte) error {
	track, err := opusTrack("audio-2-"+v.name, v.name)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.pc.GetSenders() {
		if s.Track() == v.track {
			if err := s.ReplaceTrack(track); err != nil {
				return err
			}
		}
	}
	v.track, v.tag = track, tag
	return nil
}

// Heard counts what came back so far.
func (v *Voice) Heard() Heard {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.heard
}

// FirstEcho is when the first of our packets came back (zero before).
func (v *Voice) FirstEcho() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.first
}

// Sent is how many packets have been written so far.
func (v *Voice) Sent() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sent
}

// Echoed counts our packets numbered from+1..to that came back.
func (v *Voice) Echoed(from, to int) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for i := from + 1; i <= to && i < len(v.got); i++ {
		if v.got[i] {
			n++
		}
	}
	return n
}

// Local creates and sets our offer or answer and returns it once its
// candidates are gathered (loopback: at once), so it carries them.
func (v *Voice) Local(offer bool) (string, error) { return v.local(offer, nil) }

// local is Local with the offer's options (an ICE restart).
func (v *Voice) local(offer bool, opts *webrtc.OfferOptions) (string, error) {
	_, gathered, err := v.setLocal(offer, opts)
	if err != nil {
		return "", err
	}
	<-gathered
	return v.pc.LocalDescription().SDP, nil
}

// TrickleOffer creates and sets our offer and returns it without
// candidates; candidates waits for the gathering and returns them as a
// candidates event's list, ended by an end-of-candidates entry.
func (v *Voice) TrickleOffer() (sdp string, candidates func() []any, err error) {
	sdp, gathered, err := v.setLocal(true, nil)
	if err != nil {
		return "", nil, err
	}
	return sdp, func() []any {
		<-gathered
		_, cands := splitCandidates(v.pc.LocalDescription().SDP)
		return append(cands, map[string]any{"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0})
	}, nil
}

// setLocal creates (an offer with opts) and sets our offer or answer; it
// returns its SDP as created (no candidates) and the end of the gathering.
func (v *Voice) setLocal(offer bool, opts *webrtc.OfferOptions) (string, <-chan struct{}, error) {
	var d webrtc.SessionDescription
	var err error
	if offer {
		d, err = v.pc.CreateOffer(opts)
	} else {
		d, err = v.pc.CreateAnswer(nil)
	}
	if err != nil {
		return "", nil, err
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	return d.SDP, gathered, v.pc.SetLocalDescription(d)
}

// Remote sets a description of a call event ({"sdp", "type"}, JSON
// decoded) as typ.
func (v *Voice) Remote(d any, typ webrtc.SDPType) error {
	m, _ := d.(map[string]any)
	sdp, _ := m["sdp"].(string)
	return v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: sdp})
}

// AddCandidates adds a call event's candidates list to the connection.
func (v *Voice) AddCandidates(list any) error { return AddCandidates(v.pc, list) }
