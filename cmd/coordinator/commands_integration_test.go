package main

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// supervisorView is GET /admin/v1/supervisor as the tests read it.
type supervisorView struct {
	Decisions []calls.Decision `json:"decisions"`
	Overrides []calls.Override `json:"overrides"`
}

// engineFeaturesView is GET /admin/v1/media's features per call.
type engineFeaturesView struct {
	Calls []struct {
		Room         string                    `json:"room"`
		Features     []string                  `json:"features"`
		FeatureStats map[string]map[string]any `json:"feature_stats"`
	} `json:"calls"`
}

// playing reports whether the engine plays feature name in room's call:
// running, and frames sent.
func (v engineFeaturesView) playing(room id.RoomID, name string) bool {
	for _, c := range v.Calls {
		if c.Room == room.String() && slices.Contains(c.Features, name) {
			sent, _ := c.FeatureStats[name]["frames_sent"].(float64)
			return sent > 0
		}
	}
	return false
}

// roomDecision is the joined decision for room's call, if any.
func (v supervisorView) roomDecision(room id.RoomID) (calls.Decision, bool) {
	for _, d := range v.Decisions {
		if d.Room == room.String() && d.State == calls.StateJoined {
			return d, true
		}
	}
	return calls.Decision{}, false
}

// commandUser sends commands into a room as one user and reads the bot's
// answers with that user's device (decrypting them in an encrypted room).
type commandUser struct {
	dev       *testenv.CryptoClient
	encrypted bool
	shareWith []id.UserID // an encrypted command's session goes to them
}

// ask sends body as an m.text and returns the bot's reply to it: an
// m.notice whose reply relation names the command.
func (u commandUser) ask(t *testing.T, room id.RoomID, bot id.UserID, body string) string {
	t.Helper()
	return u.askWith(t, room, bot, body, map[string]any{"msgtype": "m.text", "body": body})
}

// reply sends body as an m.text in reply to to, and returns the bot's
// reply to it.
func (u commandUser) reply(t *testing.T, room id.RoomID, bot id.UserID, body string, to id.EventID) string {
	t.Helper()
	return u.askWith(t, room, bot, body, map[string]any{"msgtype": "m.text", "body": body,
		"m.relates_to": map[string]any{"m.in_reply_to": map[string]any{"event_id": to}}})
}

// send sends an m.room.message (encrypted in an encrypted room).
func (u commandUser) send(t *testing.T, room id.RoomID, content map[string]any) id.EventID {
	t.Helper()
	if u.encrypted {
		evID, err := u.dev.SendRoomEncrypted(t.Context(), room, event.EventMessage, content, u.shareWith...)
		if err != nil {
			t.Fatal(err)
		}
		return evID
	}
	resp, err := u.dev.Client.SendMessageEvent(t.Context(), room, event.EventMessage, content)
	if err != nil {
		t.Fatal(err)
	}
	return resp.EventID
}

// sendAudio uploads an Ogg Opus file (plainly, also in an encrypted room:
// the bot reads either) and sends it as an m.audio message.
func (u commandUser) sendAudio(t *testing.T, room id.RoomID, data []byte) id.EventID {
	t.Helper()
	up, err := u.dev.Client.UploadBytes(t.Context(), data, "audio/ogg")
	if err != nil {
		t.Fatal(err)
	}
	return u.send(t, room, map[string]any{"msgtype": "m.audio", "body": "sound.ogg", "url": up.ContentURI.CUString(),
		"info": map[string]any{"mimetype": "audio/ogg", "size": len(data)}})
}

func (u commandUser) askWith(t *testing.T, room id.RoomID, bot id.UserID, body string, content map[string]any) string {
	t.Helper()
	cmd := u.send(t, room, content)
	re := u.dev.FindRoomEvent(t, time.Minute, room, func(re testenv.RoomEvent) bool {
		m := re.Evt.Content.AsMessage()
		return re.Evt.Sender == bot && m.MsgType == event.MsgNotice && m.RelatesTo.GetReplyTo() == cmd
	})
	if re.Encrypted != u.encrypted {
		t.Errorf("reply to %q: encrypted %v in a room encrypted %v", body, re.Encrypted, u.encrypted)
	}
	return re.Evt.Content.AsMessage().Body
}

// TestRoomCommands: in an unencrypted and an encrypted room (Megolm
// commands, Megolm replies), a user below calls.command_level is refused
// politely and may still ask status; a moderator's join takes the bot into
// the call although calls.join is never, and echo on is what the engine is
// told from then on (the supervisor's admin view); record starts; play
// NAME plays a sound of calls.sounds_dir into the call (the engine runs
// it and sends its frames), an unknown NAME is answered so, and "!call
// play" in reply to the moderator's audio upload plays that, while one
// in reply to a level-0 member's upload is refused; each answer is an
// m.notice reply to its command.
func TestRoomCommands(t *testing.T) {
	env := testenv.Require(t)
	sounds := t.TempDir()
	upload, err := os.ReadFile(makeOpusTone(t, sounds, "hello", 440, 8))
	if err != nil {
		t.Fatal(err)
	}
	cfg, bot := botCoordinatorEnv(t, env, map[string]string{
		"SWITCHBOARD_CALLS_JOIN": "never", "SWITCHBOARD_LIVEKIT_SERVICE_URL": env.ServiceURL,
		"SWITCHBOARD_CALLS_SOUNDS_DIR": sounds,
	})
	// The coordinator's log, shown when the test fails.
	var logs logbuf.Buffer
	addr, _ := startServeWith(t, cfg, func(stderr io.Writer) error {
		return run(t.Context(), []string{"coordinator", "serve"}, envOf(cfg), io.Discard, io.MultiWriter(stderr, &logs))
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coordinator log:\n%s", logs.String())
		}
	})
	for _, encrypted := range []bool{false, true} {
		name := map[bool]string{false: "unencrypted", true: "encrypted"}[encrypted]
		t.Run(name, func(t *testing.T) {
			alice, bob := env.RegisterUser(t, "alice"), env.RegisterUser(t, "bob")
			ac, bc := env.NewCryptoClient(t, alice), env.NewCryptoClient(t, bob)
			var room id.RoomID
			if encrypted {
				room = env.CreateEncryptedRoom(t, ac, bob)
			} else {
				room = env.CreateRoom(t, alice, bob)
			}
			inviteBot(t, alice, room, bot)
			everyone := []id.UserID{alice.ID, bob.ID, bot}
			mod := commandUser{dev: ac, encrypted: encrypted, shareWith: everyone}    // level 100
			member := commandUser{dev: bc, encrypted: encrypted, shareWith: everyone} // level 0

			if got := member.ask(t, room, bot, "!call echo on"); got != "Sorry, !call echo on needs power level 50 or more in this room, and yours is 0." {
				t.Errorf("member's echo on: %q", got)
			}
			if got := member.ask(t, room, bot, "!call status"); got != "I am not in a call in this room." {
				t.Errorf("member's status: %q", got)
			}
			if v := adminGet[supervisorView](t, addr, "/admin/v1/supervisor"); len(v.Overrides) != 0 && slices.ContainsFunc(v.Overrides,
				func(o calls.Override) bool { return o.Room == room.String() }) {
				t.Errorf("a refused command changed something: %+v", v.Overrides)
			}

			// A call in the room; the policy keeps us out until a moderator asks.
			famedlyJoinCalls(t, env, alice, room, "ALICEDEV", "")
			if got := mod.ask(t, room, bot, "!call join"); got != "OK: I am joining this room's call." {
				t.Errorf("join: %q", got)
			}
			waitFor(t, 30*time.Second, "the supervisor joined the call", func() bool {
				_, ok := adminGet[supervisorView](t, addr, "/admin/v1/supervisor").roomDecision(room)
				return ok
			})
			if d, _ := adminGet[supervisorView](t, addr, "/admin/v1/supervisor").roomDecision(room); len(d.Features) != 0 {
				t.Errorf("features before echo on: %v", d.Features)
			}
			if got := mod.ask(t, room, bot, "!call echo on"); !strings.HasPrefix(got, "Echo is on") {
				t.Errorf("echo on: %q", got)
			}
			v := adminGet[supervisorView](t, addr, "/admin/v1/supervisor")
			if d, _ := v.roomDecision(room); !slices.Equal(d.Features, []string{"echo"}) {
				t.Errorf("features after echo on: %v", d.Features)
			}
			// The engine was told: its call runs echo.
			waitFor(t, 30*time.Second, "the engine runs echo in the call", func() bool {
				for _, c := range adminGet[engineFeaturesView](t, addr, "/admin/v1/media").Calls {
					if c.Room == room.String() && slices.Equal(c.Features, []string{"echo"}) {
						return true
					}
				}
				return false
			})
			if !slices.Contains(v.Overrides, calls.Override{Room: room.String(), Command: "!call echo on"}) ||
				!slices.Contains(v.Overrides, calls.Override{Room: room.String(), Command: "!call join"}) {
				t.Errorf("overrides %+v", v.Overrides)
			}
			if got := member.ask(t, room, bot, "!call status"); !strings.HasPrefix(got, "I am in 1 call(s) here:\n- the room's call (livekit") ||
				!strings.HasSuffix(got, "echo on, recording off") {
				t.Errorf("status in the call: %q", got)
			}

			// Record this call; play a sound, and uploads; leave.
			if got := mod.ask(t, room, bot, "!call record start"); got != "Recording started." {
				t.Errorf("record start: %q", got)
			}
			waitFor(t, 30*time.Second, "the engine records the call", func() bool {
				for _, c := range adminGet[engineFeaturesView](t, addr, "/admin/v1/media").Calls {
					if c.Room == room.String() && slices.Equal(c.Features, []string{"echo", "record"}) {
						return true
					}
				}
				return false
			})
			if got := mod.ask(t, room, bot, "!call play hello"); got != "Playing hello." {
				t.Errorf("play: %q", got)
			}
			waitFor(t, 30*time.Second, "the engine plays hello in the call", func() bool {
				return adminGet[engineFeaturesView](t, addr, "/admin/v1/media").playing(room, "announce hello")
			})
			if got := mod.ask(t, room, bot, "!call play nosuch"); got != `Could not do !call play nosuch: there is no sound named "nosuch".` {
				t.Errorf("play nosuch: %q", got)
			}
			modSound := mod.sendAudio(t, room, upload)
			if got := mod.reply(t, room, bot, "!call play", modSound); got != "Playing the audio message." {
				t.Errorf("play the moderator's upload: %q", got)
			}
			waitFor(t, 30*time.Second, "the engine plays the upload in the call", func() bool {
				return adminGet[engineFeaturesView](t, addr, "/admin/v1/media").playing(room, uploadTrackName)
			})
			memberSound := member.sendAudio(t, room, upload)
			if got := mod.reply(t, room, bot, "!call play", memberSound); got != "Sorry, I only play audio messages sent by users "+
				"with power level 50 or more in this room, and "+bob.ID.String()+"'s is 0." {
				t.Errorf("play a member's upload: %q", got)
			}
			if got := mod.ask(t, room, bot, "!call leave"); got != "OK: I am leaving this room's call." {
				t.Errorf("leave: %q", got)
			}
			if _, joined := adminGet[supervisorView](t, addr, "/admin/v1/supervisor").roomDecision(room); joined {
				t.Error("still in the call after leave")
			}
		})
	}
}

// TestFetchRoomAuth: what the reader asks the homeserver when it has not
// seen a room's power levels: the real Synapse's create event (with its
// sender) and power levels, read as Permitted needs them; in room version
// 12 the creator outranks everyone, and a room the asker cannot read is an
// error, not a default.
func TestFetchRoomAuth(t *testing.T) {
	env := testenv.Require(t)
	alice, bob := env.RegisterUser(t, "alice"), env.RegisterUser(t, "bob")
	room := env.CreateRoom(t, alice, bob)
	a, err := fetchRoomAuth(t.Context(), bob.Client, room)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := a.levels()
	if err != nil {
		t.Fatal(err)
	}
	if pl.Level(alice.ID) != 100 || pl.Level(bob.ID) != 0 || len(pl.Creators) != 0 {
		t.Errorf("levels %+v: alice %d, bob %d", pl, pl.Level(alice.ID), pl.Level(bob.ID))
	}

	v12, err := alice.Client.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Preset: "private_chat", RoomVersion: id.RoomV12})
	if err != nil {
		t.Fatal(err)
	}
	a, err = fetchRoomAuth(t.Context(), alice.Client, v12.RoomID)
	if err != nil {
		t.Fatal(err)
	}
	if pl, err = a.levels(); err != nil || !slices.Equal(pl.Creators, []id.UserID{alice.ID}) {
		t.Errorf("room version 12: %+v, %v", pl, err)
	}
	if ok, _ := calls.Permitted(calls.Command{Verb: calls.VerbJoin}, alice.ID, pl, calls.RequiredLevels(100)); !ok {
		t.Error("the creator of a version 12 room is refused")
	}

	if _, err := fetchRoomAuth(t.Context(), bob.Client, v12.RoomID); !errors.Is(err, errRoomStateUnknown) {
		t.Errorf("a room bob is not in: %v", err)
	}
}
