package jwtservice

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
)

// TestDelegateChecksRoomMembership: /delegate_delayed_leave applies the
// same room check as a token request, so a full-access user cannot park
// jobs for calls it may not join.
func TestDelegateChecksRoomMembership(t *testing.T) {
	delayed := &fakeDelayed{}
	s, err := New(nil, Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
		FullAccessHomeservers: []string{"example.org"},
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}, Authorizer: denyAll{}, CSAPI: fakeCSAPI{}, DelayedLeaves: delayed})
	if err != nil {
		t.Fatal(err)
	}
	rec := do(t, s.Handler(), http.MethodPost, "/delegate_delayed_leave", delegateBody)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"errcode":"M_FORBIDDEN"`) ||
		!strings.Contains(rec.Body.String(), "not a member") {
		t.Errorf("non-member: %d %s, want 403 M_FORBIDDEN not a member", rec.Code, rec.Body.String())
	}
	if len(delayed.jobs) != 0 {
		t.Errorf("job held for a non-member: %+v", delayed.jobs)
	}
}

// TestDelegatePerUserLimit runs the real job manager with its defaults:
// one user holds at most 8 delegated leaves, the ninth is refused with
// 429 M_LIMIT_EXCEEDED, replacing a held one is fine, and other users are
// not affected.
func TestDelegatePerUserLimit(t *testing.T) {
	mgr, err := delegation.New(nil, delegation.Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, mgr)
	s, err := New(nil, Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
		FullAccessHomeservers: []string{"example.org"},
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}, CSAPI: fakeCSAPI{}, DelayedLeaves: mgr})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	body := func(user, memberID string) string {
		return fmt.Sprintf(`{"room_id":"!r:example.org","slot_id":"m.call#ROOM","member":{"id":%q,"claimed_user_id":%q,"claimed_device_id":"D"},`+
			`"openid_token":{"access_token":"ok:%s","matrix_server_name":"example.org"},"delay_id":"d-%s","delay_timeout":3600000}`,
			memberID, user, user, memberID)
	}
	for i := range 8 {
		if rec := do(t, h, http.MethodPost, "/delegate_delayed_leave", body("@alice:example.org", fmt.Sprint("m", i))); rec.Code != 200 {
			t.Fatalf("delegation %d: %d %s", i, rec.Code, rec.Body.String())
		}
	}
	rec := do(t, h, http.MethodPost, "/delegate_delayed_leave", body("@alice:example.org", "m8"))
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), `"errcode":"M_LIMIT_EXCEEDED"`) {
		t.Fatalf("ninth delegation of one user: %d %s, want 429 M_LIMIT_EXCEEDED", rec.Code, rec.Body.String())
	}
	if rec := do(t, h, http.MethodPost, "/delegate_delayed_leave", body("@alice:example.org", "m3")); rec.Code != 200 {
		t.Errorf("replacing a held job: %d %s", rec.Code, rec.Body.String())
	}
	if rec := do(t, h, http.MethodPost, "/delegate_delayed_leave", body("@bob:example.org", "m0")); rec.Code != 200 {
		t.Errorf("another user: %d %s", rec.Code, rec.Body.String())
	}
}

// runManager runs m until the test ends.
func runManager(t *testing.T, m *delegation.Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}
