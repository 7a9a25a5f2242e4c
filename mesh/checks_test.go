package mesh

import "testing"

// checkWorld is the receiver's state for the Check table: we are
// @bot:hs/BOT with session "ourSession" in the room's group call "";
// alice's device ALICEDEV is a member with session "aliceSession".
type checkWorld struct {
	calls   map[string]KnownCall
	members map[string]Membership // "user device session"
}

func (w checkWorld) view() View {
	return View{
		UserID: "@bot:hs", DeviceID: "BOT", PartyID: "ourSession", SessionID: "ourSession",
		RoomID: "!r:hs", InGroupCall: true, ConfID: "",
		Call: func(id string) (KnownCall, bool) { c, ok := w.calls[id]; return c, ok },
		Member: func(user, device, session string) Membership {
			if m, ok := w.members[user+" "+device+" "+session]; ok {
				return m
			}
			return NotMember
		},
	}
}

func groupSignal(body Body) Signal {
	return Signal{
		Dialect: Group,
		Group:   &Envelope{SenderSessionID: "aliceSession", DestSessionID: "ourSession", RoomID: "!r:hs"},
		Call:    Call{CallID: "call1", PartyID: "aliceSession", Version: 1},
		Body:    body,
	}
}

func TestCheck(t *testing.T) {
	invite := func() *Invite {
		return &Invite{Lifetime: 60000, Invitee: "@bot:hs", InviteeDeviceID: "BOT", DeviceID: "ALICEDEV"}
	}
	alicesCall := KnownCall{RemoteUserID: "@alice:hs", RemoteDeviceID: "ALICEDEV", RemoteSessionID: "aliceSession"}
	answered := alicesCall
	answered.RemotePartyID = "aliceSession"
	member := map[string]Membership{"@alice:hs ALICEDEV aliceSession": Member}
	tests := []struct {
		name    string
		calls   map[string]KnownCall
		members map[string]Membership
		in      Incoming
		edit    func(*Incoming)
		want    Verdict
	}{
		{"invite from a member", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())}, nil, Accept},
		{"invite, membership unreadable", nil, map[string]Membership{"@alice:hs ALICEDEV aliceSession": MembershipUnknown},
			Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())}, nil, Retry},
		{"invite from a non-member", nil, nil, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())}, nil, IgnoreNotMember},
		{"invite from another session of a member", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())},
			func(in *Incoming) { in.Signal.Group.SenderSessionID = "oldSession" }, IgnoreNotMember},
		{"invite, verified device beats content device", nil, member,
			Incoming{Sender: "@alice:hs", SenderDevice: "EVE", Signal: groupSignal(invite())}, nil, IgnoreNotMember},
		{"wrong dest_session_id", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())},
			func(in *Incoming) { in.Signal.Group.DestSessionID = "oldOurs" }, IgnoreWrongSession},
		{"absent dest_session_id", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())},
			func(in *Incoming) { in.Signal.Group.DestSessionID = "" }, IgnoreWrongSession},
		{"other room", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())},
			func(in *Incoming) { in.Signal.Group.RoomID = "!other:hs" }, IgnoreWrongRoom},
		{"own device", nil, member, Incoming{Sender: "@bot:hs", SenderDevice: "BOT", Signal: groupSignal(&Hangup{})}, nil, IgnoreOwnDevice},
		{"own party, device unknown (room)", nil, nil,
			Incoming{Sender: "@bot:hs", Signal: Signal{Dialect: Room, Call: Call{CallID: "call1", PartyID: "ourSession"}, Body: &Hangup{}}},
			nil, IgnoreOwnDevice},
		{"other device of our user", nil, map[string]Membership{"@bot:hs BOT2 aliceSession": Member},
			Incoming{Sender: "@bot:hs", SenderDevice: "BOT2", Signal: groupSignal(&Invite{Lifetime: 1, DeviceID: "BOT2"})}, nil, Accept},
		{"unknown call hangup", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(&Hangup{})}, nil, IgnoreUnknownCall},
		{"unknown call early candidates from a member", nil, member,
			Incoming{Sender: "@alice:hs", SenderDevice: "ALICEDEV", Signal: groupSignal(&Candidates{})}, nil, Hold},
		{"unknown call early candidates, membership unreadable", nil,
			map[string]Membership{"@alice:hs ALICEDEV aliceSession": MembershipUnknown},
			Incoming{Sender: "@alice:hs", SenderDevice: "ALICEDEV", Signal: groupSignal(&Candidates{})}, nil, Retry},
		{"unknown call early candidates from a non-member", nil, nil,
			Incoming{Sender: "@alice:hs", SenderDevice: "ALICEDEV", Signal: groupSignal(&Candidates{})}, nil, IgnoreNotMember},
		{"unknown 1:1 call candidates", nil, nil,
			Incoming{Sender: "@alice:hs", Signal: Signal{Dialect: Room, Call: Call{CallID: "x", PartyID: "p"}, Body: &Candidates{}}},
			nil, IgnoreUnknownCall},
		{"known call candidates", map[string]KnownCall{"call1": alicesCall}, member,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Candidates{})}, nil, Accept},
		{"known call, wrong sender", map[string]KnownCall{"call1": alicesCall}, member,
			Incoming{Sender: "@eve:hs", Signal: groupSignal(&Candidates{})}, nil, IgnoreWrongSender},
		{"known call, wrong party", map[string]KnownCall{"call1": answered}, member,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Candidates{})},
			func(in *Incoming) { in.Signal.Call.PartyID = "evesParty" }, IgnoreWrongParty},
		{"known call whose remote party is ours", map[string]KnownCall{"call1": {RemotePartyID: "ourSession"}}, member,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Candidates{})},
			func(in *Incoming) { in.Signal.Call.PartyID = "ourSession" }, IgnoreOwnParty},
		{"known call, stale session", map[string]KnownCall{"call1": alicesCall},
			map[string]Membership{"@alice:hs ALICEDEV newSession": Member},
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Candidates{})},
			func(in *Incoming) { in.Signal.Group.SenderSessionID = "newSession" }, IgnoreStaleSession},
		{"known call, sender left", map[string]KnownCall{"call1": alicesCall}, nil,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Hangup{})}, nil, IgnoreNotMember},
		{"known call, membership unreadable", map[string]KnownCall{"call1": alicesCall},
			map[string]Membership{"@alice:hs ALICEDEV aliceSession": MembershipUnknown},
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Hangup{})}, nil, Retry},
		{"first answer", map[string]KnownCall{"call1": alicesCall}, member,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Answer{})}, nil, Accept},
		{"second answer", map[string]KnownCall{"call1": answered}, member,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(&Answer{})}, nil, IgnoreAnswered},
		{"invite for a live call", map[string]KnownCall{"call1": alicesCall}, member,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())}, nil, IgnoreDuplicateInvite},
		{"invite for an ended call", map[string]KnownCall{"call1": {Ended: true}}, member,
			Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())}, nil, Accept},
		{"invite for another user", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())},
			func(in *Incoming) { in.Signal.Body.(*Invite).Invitee = "@carol:hs" }, IgnoreNotForUs},
		{"invite for another device", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())},
			func(in *Incoming) { in.Signal.Body.(*Invite).InviteeDeviceID = "OTHER" }, IgnoreNotForUs},
		{"invite for another group call", nil, member, Incoming{Sender: "@alice:hs", Signal: groupSignal(invite())},
			func(in *Incoming) { in.Signal.Group.ConfID = "other" }, RejectCall},
		{"1:1 invite without invitee", nil, nil,
			Incoming{Sender: "@alice:hs", Signal: Signal{Dialect: Room, Call: Call{CallID: "x", PartyID: "p"}, Body: &Invite{Lifetime: 1}}},
			nil, Accept},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if tt.edit != nil {
				tt.edit(&in)
			}
			got := Check(checkWorld{calls: tt.calls, members: tt.members}.view(), in)
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCheckNotInGroupCall(t *testing.T) {
	v := checkWorld{members: map[string]Membership{"@alice:hs ALICEDEV aliceSession": Member}}.view()
	in := Incoming{Sender: "@alice:hs", Signal: groupSignal(&Invite{Lifetime: 1, DeviceID: "ALICEDEV"})}
	if got := Check(v, in); got != Accept {
		t.Fatalf("in the call: %s", got)
	}
	v.InGroupCall = false
	if got := Check(v, in); got != IgnoreNotInGroupCall {
		t.Fatalf("got %s, want %s", got, IgnoreNotInGroupCall)
	}
}

func TestVerdictNames(t *testing.T) {
	seen := map[string]bool{}
	for v := Accept; v <= IgnoreNotMember; v++ {
		name := v.String()
		if name == "invalid" || seen[name] {
			t.Errorf("verdict %d: name %q", v, name)
		}
		seen[name] = true
	}
	if Verdict(0).String() != "invalid" || (IgnoreNotMember+1).String() != "invalid" {
		t.Error("out-of-range verdicts must be invalid")
	}
}

// A view without functions knows no calls and cannot read membership:
// a group invite waits (unknown is not absent), never "not a member".
func TestCheckNilView(t *testing.T) {
	v := View{UserID: "@bot:hs", DeviceID: "BOT", SessionID: "ourSession", RoomID: "!r:hs", InGroupCall: true}
	in := Incoming{Sender: "@alice:hs", Signal: groupSignal(&Invite{Lifetime: 1, DeviceID: "ALICEDEV"})}
	if got := Check(v, in); got != Retry {
		t.Fatalf("got %s, want retry", got)
	}
}
