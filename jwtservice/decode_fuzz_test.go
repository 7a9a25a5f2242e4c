package jwtservice

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	`{"room_id":"!r:example.org","slot_id":"m.call#ROOM","member":{"id":"m","claimed_user_id":"@a:example.org","claimed_device_id":"D"},"openid_token":{"access_token":"t","matrix_server_name":"example.org","expires_in":3600}}`,
	`{"room":"!r:example.org","device_id":"D","openid_token":{"access_token":"t","matrix_server_name":"example.org"},"delay_id":"x","delay_timeout":10000}`,
	`{}`, `[]`, `null`, `{"room":1}`, `{"openid_token":[]}`, `{"delay_timeout":1e400}`, "{\"room\":\"\xff\"}", `{"room":"\ud800"}`,
}

// FuzzDecodeTokenRequest: hostile bodies never panic, and whatever is
// accepted satisfies the validation rules.
func FuzzDecodeTokenRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeTokenRequest(strings.NewReader(body))
		if err != nil {
			return
		}
		if req.RoomID == "" || req.SlotID == "" || req.Member.ID == "" || req.Member.ClaimedUserID == "" ||
			req.Member.ClaimedDeviceID == "" || req.OpenID.AccessToken == "" || req.OpenID.MatrixServerName == "" || req.Delay.partial() {
			t.Fatalf("accepted incomplete request %+v", req)
		}
		for _, id := range []string{req.RoomID, req.SlotID, req.Member.ID, req.Member.ClaimedUserID, req.Member.ClaimedDeviceID} {
			if !validIdentifier(id, maxIDBytes) {
				t.Fatalf("accepted bad identifier %q", id)
			}
		}
		if _, err := DecodeDelegateRequest(strings.NewReader(body)); err == nil && !req.Delay.present() {
			t.Fatal("delegate request accepted without delay")
		}
	})
}

// FuzzDecodeLegacyRequest is the same for /sfu/get bodies.
func FuzzDecodeLegacyRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeLegacyRequest(strings.NewReader(body))
		if err != nil {
			return
		}
		if req.Room == "" || req.OpenID.AccessToken == "" || req.OpenID.MatrixServerName == "" || req.Delay.partial() {
			t.Fatalf("accepted incomplete request %+v", req)
		}
		if !validIdentifier(req.Room, maxIDBytes) || !validIdentifier(req.DeviceID, maxIDBytes) {
			t.Fatalf("accepted bad identifier in %+v", req)
		}
	})
}
