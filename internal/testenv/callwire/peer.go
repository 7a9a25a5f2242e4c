package callwire

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// MeshPrefix is the Famedly group call event prefix (famedly-voip.md §4).
const MeshPrefix = "com.famedly.call.member."

// PeerConfig is a Peer's: its name (marks its packets and names its
// streams), its room and how long its sync long-polls (its sends wait for
// the poll; default 300 ms).
type PeerConfig struct {
	Name string
	Room id.RoomID
	Poll time.Duration
}

// Peer is an independent Famedly mesh device in one room: a test Olm
// device (a CryptoClient, which may serve several rooms one after
// another), a com.famedly.call.member membership on a mesh focus, and one
// pion connection (a Voice, playing from its start) to the bot's device,
// signalled with Olm-encrypted group to-device events (each description
// carries its candidates; the bot's trickled ones are added). It calls the
// bot when its key is the smaller (Start), else answers the bot's invite;
// it answers renegotiations (ICE restarts too: Restarts), and a hangup of
// the bot's ends its call. It does not call the other devices: the
// coordinator's side of the mesh is what is tested.
type Peer struct {
	t    testing.TB
	cc   *testenv.CryptoClient
	api  *webrtc.API
	name string
	room id.RoomID
	poll time.Duration

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	hangups  chan string
	restarts chan string

	ccMu sync.Mutex // the Olm machine: syncs and sends never overlap

	mu         sync.Mutex // below
	session    string
	bot        id.UserID
	botDevice  id.DeviceID
	botSession string
	early      bool
	v          *Voice
	past       Heard // what the connections before v heard
	callID     string
	seq        int
	muted      bool
	screen     *webrtc.RTPSender // a screen share's (ShareScreen)
}

// NewPeer makes cc's device a mesh peer of cfg.Room; it stops (Close) when
// the test ends.
func NewPeer(t testing.TB, cc *testenv.CryptoClient, api *webrtc.API, cfg PeerConfig) *Peer {
	p := &Peer{t: t, cc: cc, api: api, name: cfg.Name, room: cfg.Room, poll: cfg.Poll, hangups: make(chan string, 16),
		restarts: make(chan string, 16)}
	if p.poll <= 0 {
		p.poll = 300 * time.Millisecond
	}
	p.ctx, p.cancel = context.WithCancel(t.Context())
	t.Cleanup(p.Close)
	return p
}

// Name is the peer's name.
func (p *Peer) Name() string { return p.name }

// User is the peer's user.
func (p *Peer) User() *testenv.User { return p.cc.User }

// Key is the peer's "userId:deviceId", the mesh's sort key.
func (p *Peer) Key() string { return p.cc.User.ID.String() + ":" + string(p.cc.DeviceID()) }

// SetEarly makes the peer send its candidates in a candidates event ahead
// of its invite, none in the offer, and ignore the bot's (in events and in
// its answer), so only the early candidates can connect its calls. Call it
// before Start.
func (p *Peer) SetEarly(early bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.early = early
}

// Join sends the device's membership on a mesh focus with membershipID
// session (a new session makes the bot replace its call).
func (p *Peer) Join(session string) {
	p.t.Helper()
	p.mu.Lock()
	p.session = session
	p.mu.Unlock()
	p.membership([]any{map[string]any{
		"call_id": "", "application": "m.call", "scope": "m.room",
		"foci_active": []any{map[string]any{"type": "mesh"}},
		"feeds":       []any{map[string]any{"purpose": "m.usermedia"}},
		"device_id":   string(p.cc.DeviceID()), "expires_ts": time.Now().Add(time.Hour).UnixMilli(),
		"membershipID": session,
	}})
}

// Leave sends an empty membership.
func (p *Peer) Leave() {
	p.t.Helper()
	p.membership([]any{})
}

func (p *Peer) membership(list []any) {
	p.t.Helper()
	if _, err := p.cc.Client.SendStateEvent(p.t.Context(), p.room, testenv.FamedlyCallMember, p.cc.User.ID.String(),
		map[string]any{"memberships": list}); err != nil {
		p.t.Fatal(err)
	}
}

// Start learns the bot's membership, runs the peer and, when its key is
// the smaller, calls the bot.
func (p *Peer) Start(bot id.UserID) {
	p.t.Helper()
	p.LearnBot(bot)
	p.Run()
	if p.Calling() {
		p.Call()
	}
}

// LearnBot reads the bot's mesh membership (its device and session) from
// the room state, polling it every 10 ms for up to a minute.
func (p *Peer) LearnBot(bot id.UserID) {
	p.t.Helper()
	for deadline := time.Now().Add(time.Minute); !p.readBot(bot); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no mesh membership of %s within a minute", p.name, bot)
		}
	}
}

func (p *Peer) readBot(bot id.UserID) bool {
	var content struct {
		Memberships []struct {
			DeviceID     string `json:"device_id"`
			MembershipID string `json:"membershipID"`
			Foci         []struct {
				Type string `json:"type"`
			} `json:"foci_active"`
			Feeds []struct {
				Purpose string `json:"purpose"`
			} `json:"feeds"`
		} `json:"memberships"`
	}
	if err := p.cc.Client.StateEvent(p.t.Context(), p.room, testenv.FamedlyCallMember, bot.String(), &content); err != nil {
		return false
	}
	for _, m := range content.Memberships {
		if len(m.Foci) > 0 && m.Foci[0].Type == "mesh" && len(m.Feeds) > 0 && m.Feeds[0].Purpose == "m.usermedia" {
			p.mu.Lock()
			p.bot, p.botDevice, p.botSession = bot, id.DeviceID(m.DeviceID), m.MembershipID
			p.mu.Unlock()
			return true
		}
	}
	return false
}

// Calling says whether the peer places the call (its key is the smaller).
func (p *Peer) Calling() bool {
	p.mu.Lock()
	bot := p.bot.String() + ":" + string(p.botDevice)
	p.mu.Unlock()
	return p.Key() < bot
}

// Run syncs and handles the bot's call events of this room until Close.
func (p *Peer) Run() {
	p.wg.Go(func() {
		for p.ctx.Err() == nil {
			p.ccMu.Lock()
			evs, err := p.cc.Poll(p.ctx, p.poll)
			p.ccMu.Unlock()
			if err != nil {
				continue
			}
			p.mu.Lock()
			bot := p.bot
			p.mu.Unlock()
			for _, ev := range evs {
				if strings.HasPrefix(ev.Type.Type, MeshPrefix) && ev.Sender == bot && ev.Content["room_id"] == p.room.String() {
					p.handle(strings.TrimPrefix(ev.Type.Type, MeshPrefix), ev.Content)
				}
			}
		}
	})
}

// Close ends the peer's goroutines and connection (not its membership:
// Leave). It may be called more than once.
func (p *Peer) Close() {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.v != nil {
		p.v.Close()
	}
}

// Call places a call to the bot (replacing the current one).
func (p *Peer) Call() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.newVoice() {
		return
	}
	p.callID = fmt.Sprintf("%dpeer%s", time.Now().UnixNano(), p.name)
	sdp, err := p.v.Local(true)
	if err != nil {
		p.t.Errorf("%s: offer: %v", p.name, err)
		return
	}
	if p.early {
		var cands []any
		sdp, cands = splitCandidates(sdp)
		p.send("candidates", map[string]any{"candidates": cands})
	}
	p.send("invite", p.extras(map[string]any{"lifetime": 60000, "offer": map[string]any{"sdp": sdp, "type": "offer"},
		"invitee": p.bot.String(), "invitee_device_id": string(p.botDevice), "device_id": string(p.cc.DeviceID())}))
}

// newVoice replaces the connection with a new one, playing. Called with mu
// held.
func (p *Peer) newVoice() bool {
	if p.v != nil {
		p.v.Close()
		p.past = p.past.add(p.v.Heard())
	}
	v, err := NewVoice(p.api, p.name)
	if err != nil {
		p.t.Errorf("%s: %v", p.name, err)
		return false
	}
	v.Play()
	p.v, p.screen = v, nil
	return true
}

// Hangups has the call ids the bot hung up (the first 16 not taken).
func (p *Peer) Hangups() <-chan string { return p.hangups }

// Restarts has the new remote ice-ufrag of each ICE restart negotiated:
// the bot's restart offer answered, or the bot's answer to ours applied
// (RestartICE; the first 16 not taken).
func (p *Peer) Restarts() <-chan string { return p.restarts }

// CallID is the current call's id ("" before the first call and after a
// hangup).
func (p *Peer) CallID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.callID
}

// Voice is the current connection (nil before the first call).
func (p *Peer) Voice() *Voice {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.v
}

// Heard counts what all the peer's connections received.
func (p *Peer) Heard() Heard {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.v == nil {
		return p.past
	}
	return p.past.add(p.v.Heard())
}

// State describes the peer's call, for a failed wait.
func (p *Peer) State() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.v == nil {
		return p.name + ": no call"
	}
	return fmt.Sprintf("%s: call %s %v, remote description %v, %d packets sent", p.name, p.callID, p.v.pc.ConnectionState(),
		p.v.pc.RemoteDescription() != nil, p.v.Sent())
}
