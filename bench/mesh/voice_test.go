package meshbench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/internal/testenv/callwire"
)

// The media side of the bench's independent call peers (mesh and 1:1),
// written with pion from the wire format, importing nothing from mesh/.

// voice is one connection's audio: an Opus track playing 50 packets a
// second, each marked with the peer's name and a sequence number, and a
// reader of what comes back, noting the first of our own packets and
// which of them came.
type voice struct {
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	marker []byte

	mu    sync.Mutex
	sent  int // packets written, numbered 1..sent
	first time.Time
	got   []bool // got[n]: packet n came back
	other int    // packets that are not ours
}

// newVoice makes a connection with our track and its reader.
func newVoice(api *webrtc.API, name string) (*voice, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &voice{pc: pc, marker: []byte("mark-" + name + "-")}
	v.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio-"+name, "stream-"+name)
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
			v.heard(pkt.Payload)
		}
	})
	return v, nil
}

func (v *voice) heard(payload []byte) {
	at := time.Now()
	i := bytes.Index(payload, v.marker)
	v.mu.Lock()
	defer v.mu.Unlock()
	if i < 0 {
		v.other++
		return
	}
	n, err := strconv.Atoi(string(payload[i+len(v.marker):]))
	if err != nil || n < 1 || n > v.sent {
		v.other++
		return
	}
	if v.first.IsZero() {
		v.first = at
	}
	for len(v.got) <= n {
		v.got = append(v.got, false)
	}
	v.got[n] = true
}

// play writes a marked packet every 20 ms until ctx ends.
func (v *voice) play(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() {
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
			n := v.sent
			v.mu.Unlock()
			payload := fmt.Appendf(append([]byte{0xfc}, v.marker...), "%d", n)
			_ = v.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(n),
				Timestamp: uint32(n) * 960}, Payload: payload})
		}
	})
}

// firstEcho is when the first of our packets came back (zero before).
func (v *voice) firstEcho() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.first
}

// mark is how many packets have been written so far.
func (v *voice) mark() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sent
}

// echoed counts the packets numbered from+1..to that came back.
func (v *voice) echoed(from, to int) int {
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

// local sets and returns our description (offer or answer) once its
// candidates are gathered (loopback: at once).
func (v *voice) local(offer bool) (string, error) {
	var d webrtc.SessionDescription
	var err error
	if offer {
		d, err = v.pc.CreateOffer(nil)
	} else {
		d, err = v.pc.CreateAnswer(nil)
	}
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(d); err != nil {
		return "", err
	}
	<-gathered
	return v.pc.LocalDescription().SDP, nil
}

// remote sets a description of a call event ({"sdp", "type"}, JSON
// decoded).
func (v *voice) remote(d any, typ webrtc.SDPType) error {
	m, _ := d.(map[string]any)
	sdp, _ := m["sdp"].(string)
	return v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: sdp})
}

// addCandidates adds a call event's candidates list to the connection.
func (v *voice) addCandidates(list any) error { return callwire.AddCandidates(v.pc, list) }
