package jwtservice

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// recordingSink keeps the events it was given.
type recordingSink struct {
	mu     sync.Mutex
	events []*livekit.WebhookEvent
}

func (r *recordingSink) HandleLiveKitEvent(ev *livekit.WebhookEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recordingSink) all() []*livekit.WebhookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*livekit.WebhookEvent(nil), r.events...)
}

// signedWebhook builds a request the way LiveKit signs webhooks.
func signedWebhook(t *testing.T, key, secret, body string) *http.Request {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	tok, err := auth.NewAccessToken(key, secret).SetValidFor(5 * time.Minute).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/sfu_webhook", strings.NewReader(body))
	req.Header.Set("Authorization", tok)
	req.Header.Set("Content-Type", "application/webhook+json")
	return req
}

func TestWebhookSignatureVerified(t *testing.T) {
	sink := &recordingSink{}
	s, err := New(nil, Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
		FullAccessHomeservers: []string{"example.org"},
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}, Webhooks: []WebhookSink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	body := `{"event":"participant_joined","room":{"name":"r1"},"participant":{"identity":"@a:example.org:D"}}`

	forged := []*http.Request{
		httptest.NewRequest(http.MethodPost, "/sfu_webhook", strings.NewReader(body)), // unsigned
		signedWebhook(t, "devkey", "not-the-secret", body),                            // wrong secret
		signedWebhook(t, "otherkey", "devsecret", body),                               // unknown key
	}
	tampered := signedWebhook(t, "devkey", "devsecret", body)
	tampered.Body = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Replace(body, "r1", "r2", 1))).Body
	forged = append(forged, tampered)
	for i, req := range forged {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("forged webhook %d answered %d", i, rec.Code)
		}
	}
	if n := len(sink.all()); n != 0 {
		t.Fatalf("%d forged events delivered", n)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signedWebhook(t, "devkey", "devsecret", body))
	if rec.Code != http.StatusOK {
		t.Fatalf("signed webhook answered %d %s", rec.Code, rec.Body.String())
	}
	evs := sink.all()
	if len(evs) != 1 || evs[0].GetEvent() != "participant_joined" || evs[0].GetParticipant().GetIdentity() != "@a:example.org:D" {
		t.Fatalf("delivered %v", evs)
	}
}

func TestWebhookRoomFinishedForgetsRoom(t *testing.T) {
	rooms := &fakeRooms{}
	s := newTestService(t, rooms, nil)
	h := s.Handler()
	body := `{"room":"!r:example.org","device_id":"D",` + okOpenID + `}`
	do(t, h, http.MethodPost, "/sfu/get", body)
	lkRoom := LiveKitRoomFor("!r:example.org", legacySlot)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signedWebhook(t, "devkey", "devsecret", `{"event":"room_finished","room":{"name":"`+lkRoom+`"}}`))
	if rec.Code != 200 {
		t.Fatal(rec.Code)
	}
	do(t, h, http.MethodPost, "/sfu/get", body)
	if rooms.count() != 2 {
		t.Fatalf("room not re-created after room_finished: %d CreateRoom calls", rooms.count())
	}
}
