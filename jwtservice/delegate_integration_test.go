package jwtservice

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
	"github.com/switchboard-rtc/switchboard/jwtservice/openid"
)

// TestRealDelegatedDelayedLeave runs the whole delegation on the real
// servers: a client schedules a delayed leave (MSC4140) on Synapse and hands
// it over through /get_token; while its participant is in LiveKit the leave
// is held off past its delay, and when the participant leaves the service
// sends it at once.
func TestRealDelegatedDelayedLeave(t *testing.T) {
	env := testenv.Require(t)
	alice := env.RegisterUser(t, "alice")
	room := env.CreateRoom(t, alice)
	const delay = 6 * time.Second
	stateKey := fmt.Sprintf("_%s_%s_m.call", alice.ID, alice.Client.DeviceID)
	member := map[string]any{"application": "m.call", "call_id": "", "scope": "m.room", "device_id": alice.Client.DeviceID}
	if _, err := alice.Client.SendStateEvent(t.Context(), room, testenv.MatrixRTCCallMember, stateKey, member); err != nil {
		t.Fatal(err)
	}
	leave, err := alice.Client.SendStateEvent(t.Context(), room, testenv.MatrixRTCCallMember, stateKey, map[string]any{},
		mautrix.ReqSendEvent{UnstableDelay: delay})
	if err != nil || leave.UnstableDelayID == "" {
		t.Fatalf("schedule delayed leave: %v %+v", err, leave)
	}
	present := func() bool {
		var got map[string]any
		err := alice.Client.StateEvent(t.Context(), room, testenv.MatrixRTCCallMember, stateKey, &got)
		return err == nil && len(got) > 0
	}

	// The service, with delegation, where LiveKit sends its webhooks.
	ocfg := openid.Config{HomeserverURLs: map[string]string{env.ServerName: env.HSURL}}
	v, err := openid.New(nil, ocfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	hc := openid.GuardedClient(ocfg)
	mgr, err := delegation.New(nil, delegation.Config{}, hc, env.RoomService())
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, mgr)
	svc, err := New(nil, Config{
		LiveKitURL: env.LKURL, APIKey: env.LKKey, APISecret: env.LKSecret, TokenTTL: time.Hour,
		FullAccessHomeservers: []string{env.ServerName},
	}, Deps{Verifier: v, Rooms: env.RoomService(), DelayedLeaves: mgr,
		CSAPI: delegation.NewResolver(delegation.ResolverConfig{Overrides: ocfg.HomeserverURLs}, hc)})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOnServicePort(t, env, svc)

	tok := env.OpenIDToken(t, alice)
	body := fmt.Sprintf(`{"room_id":%q,"slot_id":"m.call#ROOM","member":{"id":"m1","claimed_user_id":%q,"claimed_device_id":%q},%s,"delay_id":%q,"delay_timeout":%d}`,
		room, alice.ID, alice.Client.DeviceID, openIDJSON(tok.AccessToken, tok.MatrixServerName), leave.UnstableDelayID, delay.Milliseconds())
	res, err := http.Post("http://"+addr+"/get_token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var g grant
	decodeJSON(t, res, &g)
	r, err := lksdk.ConnectToRoomWithToken(env.LKURL, g.JWT, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatal(err)
	}

	// Held off well past its delay while the participant stays.
	time.Sleep(delay + 3*time.Second)
	if !present() {
		r.Disconnect()
		t.Fatal("membership left while the participant was still in LiveKit: the delayed leave was not restarted")
	}
	r.Disconnect()
	// From now on the test restarts the delayed leave itself, so its delay
	// never runs out: only the service's send can end the membership.
	restart := &mautrix.ReqUpdateDelayedEvent{DelayID: leave.UnstableDelayID, Action: event.DelayActionRestart}
	for deadline := time.Now().Add(30 * time.Second); present(); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("membership still there 30 s after the participant left: the service did not send the leave")
		}
		if _, err := alice.Client.UpdateDelayedEvent(t.Context(), restart); err != nil && !errors.Is(err, mautrix.MNotFound) {
			t.Fatalf("restart the delayed leave: %v", err)
		}
	}
}
