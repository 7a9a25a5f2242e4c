package testenv

import (
	"encoding/json"
	"testing"
	"time"
)

// TestFamedlyCallMemberRoundTrip registers two users on the real Synapse,
// sends a com.famedly.call.member state event as one and reads it back as
// the other, in the legacy (user id) state-key form.
func TestFamedlyCallMemberRoundTrip(t *testing.T) {
	env := Require(t)
	alice := env.RegisterUser(t, "alice")
	bob := env.RegisterUser(t, "bob")
	room := env.CreateRoom(t, alice, bob)

	expires := time.Now().Add(6 * time.Minute).UnixMilli()
	content := map[string]any{"memberships": []any{map[string]any{
		"call_id":     "",
		"application": "m.call",
		"scope":       "m.room",
		"foci_active": []any{map[string]any{
			"type": "livekit", "livekit_service_url": env.ServiceURL, "livekit_alias": room.String(),
		}},
		"device_id":    alice.Client.DeviceID.String(),
		"expires_ts":   expires,
		"membershipID": "gor1Gt5BCIlyrxjyHnaEJQ==",
	}}}
	if _, err := alice.Client.SendStateEvent(t.Context(), room, FamedlyCallMember, alice.ID.String(), content); err != nil {
		t.Fatalf("send call member: %v", err)
	}

	var got struct {
		Memberships []struct {
			CallID     string `json:"call_id"`
			DeviceID   string `json:"device_id"`
			ExpiresTS  int64  `json:"expires_ts"`
			FociActive []struct {
				Type  string `json:"type"`
				Alias string `json:"livekit_alias"`
			} `json:"foci_active"`
			MembershipID string `json:"membershipID"`
		} `json:"memberships"`
	}
	if err := bob.Client.StateEvent(t.Context(), room, FamedlyCallMember, alice.ID.String(), &got); err != nil {
		t.Fatalf("bob reads call member: %v", err)
	}
	if len(got.Memberships) != 1 {
		b, _ := json.Marshal(got)
		t.Fatalf("memberships = %s", b)
	}
	m := got.Memberships[0]
	if m.DeviceID != alice.Client.DeviceID.String() || m.ExpiresTS != expires || m.MembershipID != "gor1Gt5BCIlyrxjyHnaEJQ==" ||
		len(m.FociActive) != 1 || m.FociActive[0].Type != "livekit" || m.FociActive[0].Alias != room.String() {
		t.Fatalf("read back %+v", m)
	}
}

// TestOpenIDTokenVerifiesOnSynapse checks the environment serves what the JWT
// service depends on: an OpenID token that federation userinfo accepts.
func TestOpenIDTokenVerifiesOnSynapse(t *testing.T) {
	env := Require(t)
	alice := env.RegisterUser(t, "carol")
	tok := env.OpenIDToken(t, alice)
	if tok.AccessToken == "" || tok.MatrixServerName != env.ServerName || tok.ExpiresIn <= 0 {
		t.Fatalf("openid token %+v", tok)
	}
	res, err := env.HTTPClient().Get(env.HSURL + "/_matrix/federation/v1/openid/userinfo?access_token=" + tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var info struct{ Sub string }
	if err := json.NewDecoder(res.Body).Decode(&info); err != nil || info.Sub != alice.ID.String() {
		t.Fatalf("userinfo: HTTP %d sub=%q err=%v", res.StatusCode, info.Sub, err)
	}
}
