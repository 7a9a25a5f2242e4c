package lktoken

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestIssuedTokenJoinsRealLiveKit connects an lksdk participant to the real
// livekit-server with a token minted by Issuer, and sees it listed.
func TestIssuedTokenJoinsRealLiveKit(t *testing.T) {
	env := testenv.Require(t)
	room := "switchboard-test-" + time.Now().Format("150405.000000")
	rs := env.RoomService()
	if _, err := rs.CreateRoom(t.Context(), &livekit.CreateRoomRequest{Name: room, EmptyTimeout: 30}); err != nil {
		t.Fatalf("create room: %v", err)
	}
	t.Cleanup(func() { _, _ = rs.DeleteRoom(t.Context(), &livekit.DeleteRoomRequest{Room: room}) })

	iss, err := New(env.LKKey, env.LKSecret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	identity := "@alice:" + env.ServerName + ":TESTDEVICE"
	tok, err := iss.Issue(identity, room)
	if err != nil {
		t.Fatal(err)
	}
	r, err := lksdk.ConnectToRoomWithToken(env.LKURL, tok, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("connect with our token: %v", err)
	}
	defer r.Disconnect()
	if got := r.LocalParticipant.Identity(); got != identity {
		t.Errorf("identity = %q", got)
	}
	res, err := rs.ListParticipants(t.Context(), &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Participants) != 1 || res.Participants[0].Identity != identity {
		t.Fatalf("participants = %v", res.Participants)
	}

	// A restricted grant, as an engine mints for itself: LiveKit shows its
	// name and metadata and withholds publishing.
	bot := Grant{Identity: "@bot:" + env.ServerName + ":BOT", Room: room, Name: "Switchboard", Metadata: `{"bot":true}`,
		CanSubscribe: true, TTL: 10 * time.Minute}
	tok, err = iss.Mint(bot)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := lksdk.ConnectToRoomWithToken(env.LKURL, tok, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("connect with a restricted token: %v", err)
	}
	defer rb.Disconnect()
	p, err := rs.GetParticipant(t.Context(), &livekit.RoomParticipantIdentity{Room: room, Identity: bot.Identity})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != bot.Name || p.Metadata != bot.Metadata || p.Permission.GetCanPublish() || !p.Permission.GetCanSubscribe() {
		t.Fatalf("restricted participant = name %q metadata %q permission %+v", p.Name, p.Metadata, p.Permission)
	}
}
