package mesh

// An independent test peer: pion directly, speaking the wire JSON as the
// Famedly SDK writes and reads it (reference §4), with maps, not with
// this package's types or codecs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
)

// wireEvent is one call event as it travels: its type and JSON content.
type wireEvent struct {
	Type    string
	Content []byte
}

const tpPrefix = "com.famedly.call.member."

// tpTrack is what the test peer received on one remote track.
type tpTrack struct {
	StreamID string
	Kind     string
	Payload  []byte
}

// testPeer is one remote device. All of its state is owned by its run
// goroutine; the test drives it through do.
type testPeer struct {
	t                       *testing.T
	user, device, session   string
	peerUser, peerDevice    string
	peerSession, room, conf string
	emit                    func(wireEvent) // to our Peer

	inbox   chan wireEvent
	actions chan func()
	quit    chan struct{}
	wg      sync.WaitGroup

	// Reports for the test.
	Received chan map[string]any // every event the test peer got, parsed
	Tracks   chan tpTrack        // first payload of each remote track
	Gathered chan struct{}       // closed when gathering of the current pc completes

	// Run-goroutine state.
	api         *webrtc.API
	pc          *webrtc.PeerConnection
	callID      string
	outgoing    bool
	remoteParty string
	haveRemote  bool
	held        []webrtc.ICECandidateInit
	seq         int
	signalled   bool
	early       bool // send candidates before the invite (test 3)
	queuedCands []map[string]any
	audio       *webrtc.TrackLocalStaticRTP
	// audioRTP numbers the audio packets of every audio track the test
	// peer plays: a replacing track goes on where the replaced one was,
	// as browsers do (a new numbering could fall behind SRTP's replay
	// window and be dropped).
	audioRTP rtpCounter
	screen   *webrtc.RTPSender
	streamMD map[string]any
	// ignoreInvites: invites ring unanswered (invite timeout test).
	ignoreInvites bool
	// ignoreCandidates: ours are dropped, and the test peer's travel in
	// candidates events only (none in its SDP), so only those can
	// connect the call (early candidates test).
	ignoreCandidates bool
	// room1to1: the test peer speaks 1:1 room events (m.call.*, no
	// group envelope).
	room1to1 bool
}

func newTestPeer(t *testing.T, user, device, session, peerUser, peerDevice, peerSession string,
	emit func(wireEvent)) *testPeer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	tp := &testPeer{
		t: t, user: user, device: device, session: session,
		peerUser: peerUser, peerDevice: peerDevice, peerSession: peerSession,
		room: "!room:example.org", emit: emit,
		inbox: make(chan wireEvent, 256), actions: make(chan func(), 64), quit: make(chan struct{}),
		Received: make(chan map[string]any, 256), Tracks: make(chan tpTrack, 16),
		api: webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)),
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "tp-audio", "tp-stream")
	if err != nil {
		t.Fatal(err)
	}
	tp.audio = audio
	tp.streamMD = map[string]any{"tp-stream": map[string]any{"purpose": "m.usermedia", "audio_muted": false, "video_muted": true}}
	tp.wg.Add(1)
	go tp.run()
	t.Cleanup(tp.stop)
	return tp
}

func (tp *testPeer) key() string     { return tp.user + ":" + tp.device }
func (tp *testPeer) peerKey() string { return tp.peerUser + ":" + tp.peerDevice }

func (tp *testPeer) stop() {
	select {
	case <-tp.quit:
		return
	default:
	}
	close(tp.quit)
	tp.wg.Wait()
}

// do runs f on the test peer's goroutine and waits for it.
func (tp *testPeer) do(f func()) {
	done := make(chan struct{})
	tp.actions <- func() { f(); close(done) }
	<-done
}

func (tp *testPeer) run() {
	defer tp.wg.Done()
	defer func() {
		if tp.pc != nil {
			_ = tp.pc.Close()
		}
	}()
	for {
		select {
		case <-tp.quit:
			return
		case f := <-tp.actions:
			f()
		case ev := <-tp.inbox:
			tp.handle(ev)
		}
	}
}

// post hands f to the run goroutine from a pion callback.
func (tp *testPeer) post(f func()) {
	select {
	case tp.actions <- f:
	case <-tp.quit:
	}
}

// send emits one call event with the group envelope.
func (tp *testPeer) send(kind string, body map[string]any) {
	body["call_id"] = tp.callID
	body["party_id"] = tp.session
	body["version"] = "1"
	body["conf_id"] = tp.conf
	prefix := "m.call."
	if !tp.room1to1 {
		prefix = tpPrefix
		body["seq"] = tp.seq
		body["sender_session_id"] = tp.session
		body["dest_session_id"] = tp.peerSession
		body["room_id"] = tp.room
		tp.seq++
	} else {
		delete(body, "conf_id")
	}
	for _, k := range []string{"offer", "answer", "description"} {
		if d, ok := body[k].(map[string]any); ok && tp.ignoreCandidates {
			d["sdp"] = stripCandidates(fmt.Sprint(d["sdp"]))
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		tp.t.Errorf("test peer: marshal: %v", err)
		return
	}
	tp.emit(wireEvent{Type: prefix + kind, Content: b})
}

var capabilities = map[string]any{"m.call.transferee": false, "m.call.dtmf": false}

// newPC creates the test peer's connection with an audio track of its own
// that plays a recognisable payload.
func (tp *testPeer) newPC() {
	pc, err := tp.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tp.t.Fatalf("test peer: %v", err)
	}
	tp.pc, tp.haveRemote, tp.held, tp.signalled, tp.queuedCands, tp.remoteParty = pc, false, nil, false, nil, ""
	tp.Gathered = make(chan struct{})
	gathered := tp.Gathered
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		tp.post(func() {
			if tp.pc != pc {
				return
			}
			if c == nil {
				select {
				case <-gathered:
				default:
					close(gathered)
				}
				return
			}
			j := c.ToJSON()
			entry := map[string]any{"candidate": j.Candidate, "sdpMid": *j.SDPMid, "sdpMLineIndex": *j.SDPMLineIndex}
			tp.queuedCands = append(tp.queuedCands, entry)
			if tp.signalled || tp.early {
				tp.flushCandidates()
			}
		})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			reported := false
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				if !reported && len(p.Payload) > 0 {
					reported = true
					tp.Tracks <- tpTrack{StreamID: tr.StreamID(), Kind: tr.Kind().String(), Payload: p.Payload}
				}
			}
		}()
	})
	if _, err := pc.AddTrack(tp.audio); err != nil {
		tp.t.Fatalf("test peer: %v", err)
	}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		tp.t.Fatalf("test peer: %v", err)
	}
}

func (tp *testPeer) flushCandidates() {
	if len(tp.queuedCands) == 0 {
		return
	}
	cs := make([]any, len(tp.queuedCands))
	for i, c := range tp.queuedCands {
		cs[i] = c
	}
	tp.queuedCands = nil
	tp.send("candidates", map[string]any{"candidates": cs})
}

// Call places a call to our Peer. With early, candidates are gathered and
// sent before the invite.
func (tp *testPeer) Call(early bool) {
	tp.do(func() {
		tp.newPC()
		tp.callID = fmt.Sprintf("%dtestpeer%07d", time.Now().UnixMilli(), tp.seq)
		tp.outgoing, tp.early = true, early
		offer, ok := tp.local(true)
		if !ok {
			return
		}
		if early {
			gathered := tp.Gathered
			go func() {
				<-gathered
				tp.post(func() { tp.sendInvite(offer.SDP) })
			}()
			return
		}
		tp.sendInvite(offer.SDP)
	})
}

func (tp *testPeer) sendInvite(sdp string) {
	tp.early = false
	tp.send("invite", map[string]any{
		"lifetime": 60000, "offer": map[string]any{"sdp": sdp, "type": "offer"},
		"invitee": tp.peerUser, "invitee_device_id": tp.peerDevice, "device_id": tp.device,
		"capabilities": capabilities, "org.matrix.msc3077.sdp_stream_metadata": tp.streamMD,
	})
	tp.signalled = true
	tp.flushCandidates()
}

func (tp *testPeer) handle(ev wireEvent) {
	var c map[string]any
	if err := json.Unmarshal(ev.Content, &c); err != nil {
		tp.t.Errorf("test peer: %s: %v", ev.Type, err)
		return
	}
	kind, ok := strings.CutPrefix(ev.Type, tpPrefix)
	if tp.room1to1 {
		kind, ok = strings.CutPrefix(ev.Type, "m.call.")
	}
	c["type"] = kind
	callID, _ := c["call_id"].(string)
	party, _ := c["party_id"].(string)
	// Checks as the SDK makes them (§4.5).
	envelope := tp.room1to1 || c["dest_session_id"] == tp.session && c["room_id"] == tp.room
	if !ok || !envelope || c["version"] != "1" || (tp.room1to1 && c["seq"] != nil) {
		tp.t.Errorf("test peer: bad %s event: %s", ev.Type, ev.Content)
	}
	tp.t.Logf("test peer got %s %s", kind, ev.Content[:min(len(ev.Content), 120)])
	select {
	case tp.Received <- c:
	default:
		tp.t.Errorf("test peer: report queue full")
	}
	switch kind {
	case "invite":
		if tp.ignoreInvites {
			return
		}
		if tp.pc != nil && tp.outgoing && tp.remoteParty == "" {
			// Glare: the smaller key's invite wins.
			if tp.key() < tp.peerKey() {
				saved := tp.callID
				tp.callID = callID
				tp.send("reject", map[string]any{})
				tp.callID = saved
				return
			}
			tp.send("hangup", map[string]any{"reason": "replaced"})
			_ = tp.pc.Close()
			tp.pc = nil
		}
		tp.answerInvite(c)
		return
	}
	if callID != tp.callID {
		return
	}
	switch kind {
	case "answer":
		tp.remoteParty = party
		if a, _ := c["answer"].(map[string]any); tp.ignoreCandidates && a != nil {
			a["sdp"] = stripCandidates(fmt.Sprint(a["sdp"]))
		}
		tp.setRemote(c["answer"])
		tp.send("select_answer", map[string]any{"selected_party_id": party})
	case "candidates":
		if tp.ignoreCandidates {
			return
		}
		list, _ := c["candidates"].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			s, _ := m["candidate"].(string)
			if s == "" {
				continue
			}
			mid, _ := m["sdpMid"].(string)
			idx := uint16(m["sdpMLineIndex"].(float64))
			init := webrtc.ICECandidateInit{Candidate: s, SDPMid: &mid, SDPMLineIndex: &idx}
			if !tp.haveRemote {
				tp.held = append(tp.held, init)
				continue
			}
			if err := tp.pc.AddICECandidate(init); err != nil {
				tp.t.Errorf("test peer: candidate %q: %v", s, err)
			}
		}
	case "negotiate":
		d, _ := c["description"].(map[string]any)
		if d["type"] == "answer" {
			tp.setRemote(d)
			return
		}
		if tp.pc.SignalingState() != webrtc.SignalingStateStable {
			if tp.outgoing {
				return // impolite
			}
			pending := tp.pc.PendingLocalDescription()
			if err := tp.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback, SDP: pending.SDP}); err != nil {
				tp.t.Errorf("test peer: rollback: %v", err)
			}
		}
		tp.setRemote(d)
		if answer, ok := tp.local(false); ok {
			tp.send("negotiate", map[string]any{"description": map[string]any{"sdp": answer.SDP, "type": "answer"}})
		}
	case "hangup", "reject":
		if tp.pc != nil {
			_ = tp.pc.Close()
			tp.pc = nil
		}
	}
}

func (tp *testPeer) answerInvite(c map[string]any) {
	tp.newPC()
	tp.callID, _ = c["call_id"].(string)
	tp.remoteParty, _ = c["party_id"].(string)
	tp.outgoing = false
	if _, ok := c["lifetime"].(float64); !ok {
		tp.t.Errorf("test peer: invite lifetime is not a number: %v", c["lifetime"])
	}
	if _, ok := c["org.matrix.msc3077.sdp_stream_metadata"].(map[string]any); !ok {
		tp.t.Errorf("test peer: invite without stream metadata")
	}
	tp.setRemote(c["offer"])
	answer, ok := tp.local(false)
	if !ok {
		return
	}
	tp.send("answer", map[string]any{
		"answer": map[string]any{"sdp": answer.SDP, "type": "answer"}, "capabilities": capabilities,
		"org.matrix.msc3077.sdp_stream_metadata": tp.streamMD,
	})
	tp.signalled = true
	tp.flushCandidates()
}

func (tp *testPeer) setRemote(d any) {
	m, _ := d.(map[string]any)
	sdp, _ := m["sdp"].(string)
	typ := webrtc.NewSDPType(fmt.Sprint(m["type"]))
	if err := tp.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: sdp}); err != nil {
		if errors.Is(err, webrtc.ErrConnectionClosed) || tp.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return // our Peer closed the connection meanwhile (DTLS close_notify)
		}
		tp.t.Errorf("test peer: remote %s: %v", typ, err)
		return
	}
	tp.haveRemote = true
	for _, c := range tp.held {
		if err := tp.pc.AddICECandidate(c); err != nil {
			tp.t.Errorf("test peer: held candidate: %v", err)
		}
	}
	tp.held = nil
}

// local creates and sets the test peer's offer or answer.
func (tp *testPeer) local(offer bool) (webrtc.SessionDescription, bool) {
	var d webrtc.SessionDescription
	var err error
	if offer {
		d, err = tp.pc.CreateOffer(nil)
	} else {
		d, err = tp.pc.CreateAnswer(nil)
	}
	if err == nil {
		err = tp.pc.SetLocalDescription(d)
	}
	if err != nil {
		tp.t.Errorf("test peer: local description (offer %v): %v", offer, err)
		return d, false
	}
	return d, true
}

func (tp *testPeer) renegotiate() {
	offer, ok := tp.local(true)
	if !ok {
		return
	}
	tp.send("negotiate", map[string]any{
		"lifetime": 10000, "description": map[string]any{"sdp": offer.SDP, "type": "offer"},
		"capabilities": capabilities, "org.matrix.msc3077.sdp_stream_metadata": tp.streamMD,
	})
}

// Play writes the test peer's audio payload every 20 ms until stop closes.
func (tp *testPeer) Play(payload []byte, stop <-chan struct{}) {
	tp.playRTP(tp.audio, payload, stop)
}

// rtpCounter hands out RTP sequence numbers and 20 ms timestamps.
type rtpCounter struct {
	mu  sync.Mutex
	seq uint16
	ts  uint32
}

func (c *rtpCounter) next() (uint16, uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.ts += 960
	return c.seq, c.ts
}

// playRTP writes payload as an Opus packet on track every 20 ms until
// stop or quit closes.
func (tp *testPeer) playRTP(track *webrtc.TrackLocalStaticRTP, payload []byte, stop <-chan struct{}) {
	tp.every(20*time.Millisecond, stop, func() {
		seq, ts := tp.audioRTP.next()
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
			Timestamp: ts}, Payload: payload})
	})
}

// every runs f every period until stop or quit closes.
func (tp *testPeer) every(period time.Duration, stop <-chan struct{}, f func()) {
	tp.wg.Add(1)
	go func() {
		defer tp.wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tp.quit:
				return
			case <-tick.C:
				f()
			}
		}
	}()
}

// play writes data on track every period until stop or quit closes.
func (tp *testPeer) play(track *webrtc.TrackLocalStaticSample, data []byte, period time.Duration, stop <-chan struct{}) {
	tp.every(period, stop, func() { _ = track.WriteSample(pionmedia.Sample{Data: data, Duration: period}) })
}

// StartScreen adds a screen share (a VP8 track on its own stream with
// purpose m.screenshare) and plays key frames on it until stop closes.
func (tp *testPeer) StartScreen(stop <-chan struct{}) {
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "tp-screen-video", "tp-screen")
	if err != nil {
		tp.t.Fatal(err)
	}
	tp.do(func() {
		tp.streamMD["tp-screen"] = map[string]any{"purpose": "m.screenshare", "audio_muted": true, "video_muted": false}
		if tp.screen, err = tp.pc.AddTrack(track); err != nil {
			tp.t.Errorf("test peer: %v", err)
		}
		tp.renegotiate()
	})
	keyFrame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0xaa, 0xbb} // P bit 0: a key frame
	tp.play(track, keyFrame, 33*time.Millisecond, stop)
}

// StopScreen removes the screen share by renegotiation.
func (tp *testPeer) StopScreen() {
	tp.do(func() {
		delete(tp.streamMD, "tp-screen")
		if err := tp.pc.RemoveTrack(tp.screen); err != nil {
			tp.t.Errorf("test peer: %v", err)
		}
		tp.renegotiate()
	})
}

// Mute mutes the test peer's audio and says so.
func (tp *testPeer) Mute() {
	tp.do(func() {
		tp.streamMD["tp-stream"] = map[string]any{"purpose": "m.usermedia", "audio_muted": true, "video_muted": true}
		tp.send("sdp_stream_metadata_changed", map[string]any{"org.matrix.msc3077.sdp_stream_metadata": tp.streamMD})
	})
}

// Hangup ends the call from the test peer's side.
func (tp *testPeer) Hangup() {
	tp.do(func() {
		tp.send("hangup", map[string]any{"reason": "user_hangup"})
		if tp.pc != nil {
			_ = tp.pc.Close()
			tp.pc = nil
		}
	})
}

// stripCandidates drops the candidate lines of an SDP.
func stripCandidates(sdp string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(sdp, "\r\n") {
		if line != "" && !strings.HasPrefix(line, "a=candidate:") && line != "a=end-of-candidates" {
			b.WriteString(line + "\r\n")
		}
	}
	return b.String()
}

// ReplaceAudio replaces the test peer's audio track on its sender (as a
// microphone or camera switch does) and plays payload on the new one.
func (tp *testPeer) ReplaceAudio(payload []byte, stop <-chan struct{}) {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "tp-audio-2", "tp-stream")
	if err != nil {
		tp.t.Fatal(err)
	}
	tp.do(func() {
		for _, s := range tp.pc.GetSenders() {
			if s.Track() == tp.audio {
				if err := s.ReplaceTrack(track); err != nil {
					tp.t.Errorf("test peer: replace track: %v", err)
				}
			}
		}
	})
	tp.playRTP(track, payload, stop)
}
