package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// dmCaller is an independent 1:1 caller for the tests: its own Olm device
// and a pion connection, signalled with Megolm-encrypted m.call.* room
// events written from the reference (famedly-voip.md §4.3). It plays Opus
// packets marked with its name and counts those that come back.
type dmCaller struct {
	t      *testing.T
	cc     *testenv.CryptoClient
	room   id.RoomID
	bot    id.UserID
	callID string
	party  string
	marker []byte
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP

	mu        sync.Mutex
	cands     []webrtc.ICECandidateInit
	gathered  chan struct{}
	applied   map[id.EventID]bool
	heard     atomic.Int64
	connected chan struct{}
	wg        sync.WaitGroup
}

func newDMCaller(t *testing.T, cc *testenv.CryptoClient, room id.RoomID, bot id.UserID) *dmCaller {
	t.Helper()
	pc, err := loopbackPionAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio-dm", "stream-dm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	c := &dmCaller{t: t, cc: cc, room: room, bot: bot, pc: pc, track: track,
		callID: fmt.Sprintf("%ddmcaller%d", time.Now().UnixMilli(), time.Now().UnixNano()%1e6),
		party:  "dm-party-" + string(cc.DeviceID()), marker: []byte("mark-dm-"),
		gathered: make(chan struct{}), applied: map[id.EventID]bool{}, connected: make(chan struct{})}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			close(c.gathered)
			return
		}
		c.mu.Lock()
		c.cands = append(c.cands, cand.ToJSON())
		c.mu.Unlock()
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			close(c.connected)
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if bytes.Contains(pkt.Payload, c.marker) {
				c.heard.Add(1)
			}
		}
	})
	t.Cleanup(func() {
		_ = pc.Close()
		c.wg.Wait()
	})
	return c
}

// send emits one m.call.* event of our call, Megolm-encrypted.
func (c *dmCaller) send(kind string, body map[string]any) {
	c.t.Helper()
	body["call_id"], body["party_id"], body["version"] = c.callID, c.party, "1"
	typ := event.Type{Type: "m.call." + kind, Class: event.MessageEventType}
	if _, err := c.cc.SendRoomEncrypted(c.t.Context(), c.room, typ, body, c.cc.User.ID, c.bot); err != nil {
		c.t.Fatalf("send %s: %v", kind, err)
	}
}

// invite offers the call to the bot, then trickles our candidates.
func (c *dmCaller) invite() {
	c.t.Helper()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	c.send("invite", map[string]any{
		"lifetime": 60000, "offer": map[string]any{"sdp": offer.SDP, "type": "offer"}, "invitee": c.bot.String(),
		"capabilities":                           map[string]any{"m.call.transferee": false, "m.call.dtmf": false},
		"org.matrix.msc3077.sdp_stream_metadata": map[string]any{"stream-dm": map[string]any{"purpose": "m.usermedia", "audio_muted": false, "video_muted": true}},
	})
	<-c.gathered
	c.mu.Lock()
	cands := make([]any, 0, len(c.cands)+1)
	for _, ci := range c.cands {
		cands = append(cands, map[string]any{"candidate": ci.Candidate, "sdpMid": *ci.SDPMid, "sdpMLineIndex": *ci.SDPMLineIndex})
	}
	c.mu.Unlock()
	cands = append(cands, map[string]any{"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}) // end of candidates
	c.send("candidates", map[string]any{"candidates": cands})
}

// content is a bot's call event of our call, read as we read the room:
// it must have come Megolm-encrypted.
func (c *dmCaller) content(re testenv.RoomEvent, kind string) map[string]any {
	if re.Evt.Sender != c.bot || re.Evt.Type.Type != "m.call."+kind {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(re.Evt.Content.VeryRaw, &m); err != nil || m["call_id"] != c.callID {
		return nil
	}
	if !re.Encrypted {
		c.t.Errorf("the bot's %s came in plaintext in an encrypted room", kind)
	}
	return m
}

// connect takes the bot's answer, then its candidates until the
// connection is up.
func (c *dmCaller) connect() {
	c.t.Helper()
	c.cc.FindRoomEvent(c.t, time.Minute, c.room, func(re testenv.RoomEvent) bool {
		m := c.content(re, "answer")
		if m == nil {
			return false
		}
		a, _ := m["answer"].(map[string]any)
		sdp, _ := a["sdp"].(string)
		if a["type"] != "answer" {
			c.t.Fatalf("answer of type %v", a["type"])
		}
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
			c.t.Fatalf("the bot's answer: %v", err)
		}
		return true
	})
	c.cc.FindRoomEvent(c.t, time.Minute, c.room, func(re testenv.RoomEvent) bool {
		if m := c.content(re, "candidates"); m != nil && !c.applied[re.Evt.ID] {
			c.applied[re.Evt.ID] = true
			if err := addWireCandidates(c.pc, m["candidates"]); err != nil {
				c.t.Errorf("the bot's candidates: %v", err)
			}
		}
		select {
		case <-c.connected:
			return true
		default:
			return false
		}
	})
}

// play sends marked Opus packets every 20 ms until stop closes.
func (c *dmCaller) play(stop <-chan struct{}) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			payload := fmt.Appendf(append([]byte{0xfc}, c.marker...), "%06d", seq)
			_ = c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
				Timestamp: uint32(seq) * 960}, Payload: payload})
		}
	}()
}

// TestDirectEchoCall: a user calls the bot in an encrypted DM with a
// Megolm-encrypted m.call.invite; the bot answers (encrypted), trickles its
// candidates, the call connects over loopback and the caller hears its own
// marked audio back (the echo test); the caller's hangup ends the bot's
// side. Operators see the call while it is up (admin API, status page,
// /metrics) and not after; the invites are counted by outcome. A plain
// invite in a room of three is not answered. The homeserver's TURN
// servers are asked for (mesh.turn_from_homeserver).
func TestDirectEchoCall(t *testing.T) {
	env := testenv.Require(t)
	cfg, bot := botCoordinatorEnv(t, env, map[string]string{
		"SWITCHBOARD_MESH_LOOPBACK_ONLY": "true", "SWITCHBOARD_CALLS_ECHO_DELAY": "20ms",
		"SWITCHBOARD_MESH_TURN_FROM_HOMESERVER": "true",
		"SWITCHBOARD_METRICS_ENABLED":           "true", "SWITCHBOARD_METRICS_TOKEN": testMetricsToken,
	})
	var logs logbuf.Buffer
	addr, _ := startServeWith(t, cfg, func(stderr io.Writer) error {
		return run(t.Context(), []string{"coordinator", "serve"}, envOf(cfg), io.Discard, io.MultiWriter(stderr, &logs))
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coordinator log:\n%s", logs.String())
		}
	})
	alice := env.RegisterUser(t, "alice")
	ac := env.NewCryptoClient(t, alice)
	room := env.CreateEncryptedRoom(t, ac)
	inviteBot(t, alice, room, bot)

	// The homeserver's voip/turnServer is asked as the bot (the test
	// Synapse has no TURN: it answers none).
	waitForLog(t, &logs, "the homeserver's TURN servers fetched", func(l directLog) bool {
		return l.Msg == "mesh: TURN servers from the homeserver"
	})

	s0 := scrapeMetrics(t, addr, testMetricsToken)
	caller := newDMCaller(t, ac, room, bot)
	caller.invite()
	caller.connect()
	stop := make(chan struct{})
	defer close(stop)
	caller.play(stop)
	waitFor(t, 30*time.Second, "the caller hears its own audio echoed", func() bool { return caller.heard.Load() >= 25 })
	seeDirectCall(t, addr, caller)

	caller.send("hangup", map[string]any{"reason": "user_hangup"})
	waitForLog(t, &logs, "the bot's side of the call ends on the caller's hangup", func(l directLog) bool {
		return l.Msg == "direct call: ended" && l.Call == caller.callID && l.Reason == "user_hangup" && l.Remote
	})
	waitFor(t, 30*time.Second, "the ended call gone from the admin API", func() bool {
		return len(adminGet[meshAdminView](t, addr, "/admin/v1/mesh").Direct.Calls) == 0
	})
	s1 := scrapeMetrics(t, addr, testMetricsToken)
	moved(t, "the 1:1 call", s0, s1, []counterMove{
		move(1, "switchboard_direct_invites_total", "outcome", "answered"),
		move(1, "switchboard_direct_invites_total"),
	})
	if n := s1.value(t, "switchboard_direct_calls"); n != 0 {
		t.Errorf("switchboard_direct_calls %v after the hangup", n)
	}
	// The echoed frames are counted both ways.
	for _, name := range []string{"switchboard_mesh_frames_in_total", "switchboard_mesh_frames_out_total"} {
		if d := s1.value(t, name) - s0.value(t, name); d < 25 {
			t.Errorf("%s moved by %v during the echo", name, d)
		}
	}

	// A plain invite in a room of three is never answered.
	bob := env.RegisterUser(t, "bob")
	big := env.CreateRoom(t, alice, bob)
	inviteBot(t, alice, big, bot)
	callID := fmt.Sprintf("%dbigroom", time.Now().UnixMilli())
	if _, err := alice.Client.SendMessageEvent(t.Context(), big, event.Type{Type: "m.call.invite", Class: event.MessageEventType},
		map[string]any{"call_id": callID, "party_id": "p", "version": "1", "lifetime": 60000,
			"offer": map[string]any{"sdp": caller.pc.LocalDescription().SDP, "type": "offer"}}); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, &logs, "the invite in a room of three refused", func(l directLog) bool {
		return strings.HasPrefix(l.Msg, "direct call: not answered, the room is not a direct room") && l.Call == callID
	})
	// The refusal ends the call's goroutine: no answer can follow it.
	if logHas(&logs, func(l directLog) bool { return l.Msg == "direct call: answering" && l.Call == callID }) {
		t.Error("the call in a room of three was answered")
	}
	moved(t, "the invite in a room of three", s1, scrapeMetrics(t, addr, testMetricsToken), []counterMove{
		move(1, "switchboard_direct_invites_total", "outcome", "not_direct_room"),
		move(1, "switchboard_direct_invites_total"),
	})
}

// meshAdminView is the 1:1 part of GET /admin/v1/mesh.
type meshAdminView struct {
	Direct struct {
		Mode    string
		Running bool
		Active  int
		Max     int
		Calls   []struct {
			RoomID       string `json:"room_id"`
			CallID       string `json:"call_id"`
			Caller       string
			CallerDevice string `json:"caller_device"`
			State        string
			LeftSeconds  int `json:"left_seconds"`
		}
	}
}

// seeDirectCall checks that operators see caller's call, up: in the admin
// API (caller, room, connected), on the status page and in /metrics.
func seeDirectCall(t *testing.T, addr string, caller *dmCaller) {
	t.Helper()
	var v meshAdminView
	waitFor(t, 30*time.Second, "the call connected in the admin API", func() bool {
		v = adminGet[meshAdminView](t, addr, "/admin/v1/mesh")
		return len(v.Direct.Calls) == 1 && v.Direct.Calls[0].State == "connected"
	})
	c, d := v.Direct.Calls[0], v.Direct
	if c.Caller != caller.cc.User.ID.String() || c.RoomID != caller.room.String() || c.CallID != caller.callID ||
		c.LeftSeconds <= 0 || d.Mode != "echo" || !d.Running || d.Active != 1 || d.Max != 50 {
		t.Errorf("admin API: %+v", v.Direct)
	}
	page := adminPageHTML(t, "http://"+adminAddrOf(t, addr))
	if i := strings.Index(page, `<section id="direct">`); i < 0 || !strings.Contains(page[i:], caller.cc.User.ID.String()) {
		t.Errorf("the status page does not list the caller's 1:1 call:\n%s", page)
	}
	s := scrapeMetrics(t, addr, testMetricsToken)
	if s.value(t, "switchboard_direct_calls", "state", "connected") != 1 || s.value(t, "switchboard_direct_calls") != 1 {
		t.Errorf("switchboard_direct_calls: %v", s["switchboard_direct_calls"])
	}
}

// directLog is a line of the coordinator's JSON log about a 1:1 call.
type directLog struct {
	Msg, Call, Reason string
	Remote            bool
}

// waitForLog waits for a line of the coordinator's log that match accepts.
func waitForLog(t *testing.T, logs *logbuf.Buffer, what string, match func(directLog) bool) {
	t.Helper()
	waitFor(t, 30*time.Second, what, func() bool { return logHas(logs, match) })
}

// logHas says whether a line of the coordinator's log matches.
func logHas(logs *logbuf.Buffer, match func(directLog) bool) bool {
	for _, line := range strings.Split(logs.String(), "\n") {
		var l directLog
		if json.Unmarshal([]byte(line), &l) == nil && match(l) {
			return true
		}
	}
	return false
}
