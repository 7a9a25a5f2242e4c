package mesh

import (
	"encoding/json"
	"testing"
	"time"
)

const (
	drBot    = "@bot:example.org"
	drCaller = "@alice:example.org"
	drCall   = "1754560000123aB3dE5fG7hJ9kL1m" // the examples' call id
)

var drNow = time.Unix(1_800_000_000, 0)

func roomEvent(t testing.TB, kind, sender string, sent time.Time, edit func(map[string]any)) RoomEvent {
	t.Helper()
	raw := readExample(t, "room_"+kind+".json")
	if edit != nil {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		var err error
		if raw, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	return RoomEvent{RoomID: "!dm:example.org", Sender: sender, EventID: "$" + kind, Type: RoomPrefix + kind,
		Content: raw, Sent: sent}
}

func keptKinds(kept []RoomSignal) []Kind {
	var out []Kind
	for _, k := range kept {
		out = append(out, k.Signal.Kind())
	}
	return out
}

func TestFilterBatch(t *testing.T) {
	fresh := drNow.Add(-time.Second)
	inv := func() RoomEvent { return roomEvent(t, "invite", drCaller, fresh, nil) }
	cands := func() RoomEvent { return roomEvent(t, "candidates", drCaller, fresh, nil) }
	for _, tc := range []struct {
		name string
		b    RoomBatch
		want []Kind
	}{
		{"invite and candidates kept", RoomBatch{Events: []RoomEvent{inv(), cands()}}, []Kind{KindInvite, KindCandidates}},
		{"initial sync backlog dropped whole", RoomBatch{Initial: true, Events: []RoomEvent{inv(), cands()}}, nil},
		{"our own events dropped", RoomBatch{Events: []RoomEvent{roomEvent(t, "invite", drBot, fresh, nil)}}, nil},
		{"a hangup in the batch drops its invite and candidates",
			RoomBatch{Events: []RoomEvent{inv(), cands(), roomEvent(t, "hangup", drCaller, fresh, nil)}}, []Kind{KindHangup}},
		{"a hangup of another call drops nothing", RoomBatch{Events: []RoomEvent{inv(),
			roomEvent(t, "hangup", drCaller, fresh, func(m map[string]any) { m["call_id"] = "other" })}},
			[]Kind{KindInvite, KindHangup}},
		{"an expired invite is dropped, the rest of the batch kept", RoomBatch{Events: []RoomEvent{
			roomEvent(t, "invite", drCaller, drNow.Add(-61*time.Second), nil), cands()}}, []Kind{KindCandidates}},
		{"undecodable content dropped", RoomBatch{Events: []RoomEvent{
			roomEvent(t, "invite", drCaller, fresh, func(m map[string]any) { m["lifetime"] = "soon" }), cands()}},
			[]Kind{KindCandidates}},
		{"a group event type in the room dropped", RoomBatch{Events: []RoomEvent{{Sender: drCaller,
			Type: GroupPrefix + "hangup", Content: readExample(t, "group_hangup.json"), Sent: fresh}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, refused := FilterBatch(tc.b, drBot, drNow)
			got := keptKinds(kept)
			if len(got) != len(tc.want) {
				t.Fatalf("kept %v, want %v (refused %+v)", got, tc.want, refused)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("kept %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestInviteExpired(t *testing.T) {
	inv := &Invite{Lifetime: 60000}
	for _, tc := range []struct {
		name string
		e    RoomEvent
		want bool
	}{
		{"young by timestamp", RoomEvent{Sent: drNow.Add(-59 * time.Second)}, false},
		{"old by timestamp", RoomEvent{Sent: drNow.Add(-60 * time.Second)}, true},
		{"the age wins over a skewed timestamp", RoomEvent{Sent: drNow.Add(-time.Hour), Age: time.Second}, false},
		{"old by age", RoomEvent{Sent: drNow, Age: 61 * time.Second}, true},
	} {
		if got := InviteExpired(tc.e, inv, drNow); got != tc.want {
			t.Errorf("%s: expired %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestInviteForUs(t *testing.T) {
	for _, tc := range []struct {
		invitee, device string
		want            bool
	}{
		{"", "", true}, {drBot, "", true}, {drBot, "BOTDEV", true},
		{"@carol:example.org", "", false}, {drBot, "OTHER", false}, {"", "OTHER", false},
	} {
		if got := InviteForUs(&Invite{Invitee: tc.invitee, InviteeDeviceID: tc.device}, drBot, "BOTDEV"); got != tc.want {
			t.Errorf("invitee %q device %q: %v, want %v", tc.invitee, tc.device, got, tc.want)
		}
	}
}

func TestIsDirectRoom(t *testing.T) {
	for _, tc := range []struct {
		name   string
		joined []string
		caller string
		want   bool
	}{
		{"the bot and the caller", []string{drBot, drCaller}, drCaller, true},
		{"either order", []string{drCaller, drBot}, drCaller, true},
		{"a third member", []string{drBot, drCaller, "@carol:example.org"}, drCaller, false},
		{"the caller not joined", []string{drBot, "@carol:example.org"}, drCaller, false},
		{"the bot alone", []string{drBot}, drCaller, false},
		{"the bot calling itself", []string{drBot, drBot}, drBot, false},
	} {
		if got := IsDirectRoom(tc.joined, drBot, tc.caller); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzFilterBatch: any batch content is decoded and filtered without
// panic, and nothing refused is kept.
func FuzzFilterBatch(f *testing.F) {
	f.Add([]byte(`{}`), uint8(0), int64(0))
	f.Add(readExample(f, "room_invite.json"), uint8(0), int64(1000))
	f.Add(readExample(f, "room_hangup.json"), uint8(5), int64(-1))
	f.Fuzz(func(t *testing.T, content []byte, kind uint8, ageMS int64) {
		k := Kind(kind%uint8(len(kindNames)-1)) + KindInvite
		e := RoomEvent{Sender: drCaller, Type: RoomPrefix + k.String(), Content: content,
			Sent: drNow, Age: time.Duration(ageMS) * time.Millisecond}
		kept, refused := FilterBatch(RoomBatch{Events: []RoomEvent{e, e}}, drBot, drNow)
		if len(kept)+len(refused) > 2 {
			t.Fatalf("%d kept and %d refused of 2", len(kept), len(refused))
		}
		for _, k := range kept {
			if k.Signal.Dialect != Room {
				t.Fatalf("kept a %v signal", k.Signal.Dialect)
			}
		}
	})
}
