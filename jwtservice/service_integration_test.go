package jwtservice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/lktoken"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
	"github.com/switchboard-rtc/switchboard/jwtservice/openid"
)

// realService serves the JWT endpoints against the real Synapse (reached
// through the explicit server-name map, as an admin would configure it) and
// the real LiveKit.
func realService(t *testing.T, env *testenv.Env, fullAccess ...string) *httptest.Server {
	t.Helper()
	return realServiceLogging(t, env, io.Discard, fullAccess...)
}

// realServiceLogging is realService with every log line (debug included)
// written to logs.
func realServiceLogging(t *testing.T, env *testenv.Env, logs io.Writer, fullAccess ...string) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := openid.New(logger, openid.Config{
		HomeserverURLs: map[string]string{env.ServerName: env.HSURL, "impostor.example": env.HSURL},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(logger, Config{
		LiveKitURL: env.LKURL, APIKey: env.LKKey, APISecret: env.LKSecret, TokenTTL: time.Hour,
		FullAccessHomeservers: fullAccess,
	}, Deps{Verifier: v, Rooms: env.RoomService()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() { srv.Close(); _ = v.Close() })
	return srv
}

func post(t *testing.T, srv *httptest.Server, path, body string) (int, map[string]string) {
	t.Helper()
	res, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]string{}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func openIDJSON(token, server string) string {
	return fmt.Sprintf(`"openid_token":{"access_token":%q,"matrix_server_name":%q,"token_type":"Bearer","expires_in":3600}`, token, server)
}

// TestRealTokenJoinsLiveKit: a registered user's real OpenID token yields,
// from both endpoints, a JWT the real LiveKit accepts.
func TestRealTokenJoinsLiveKit(t *testing.T) {
	leakcheck.Check(t)
	env := testenv.Require(t)
	srv := realService(t, env, env.ServerName)
	alice := env.RegisterUser(t, "alice")
	room := env.CreateRoom(t, alice)
	tok := env.OpenIDToken(t, alice)
	device := alice.Client.DeviceID.String()

	bodies := map[string]string{
		"/sfu/get": fmt.Sprintf(`{"room":%q,"device_id":%q,%s}`, room, device, openIDJSON(tok.AccessToken, tok.MatrixServerName)),
		"/get_token": fmt.Sprintf(`{"room_id":%q,"slot_id":"m.call#ROOM","member":{"id":"m1","claimed_user_id":%q,"claimed_device_id":%q},%s}`,
			room, alice.ID, device, openIDJSON(tok.AccessToken, tok.MatrixServerName)),
	}
	wantIdentity := map[string]string{
		"/sfu/get":   alice.ID.String() + ":" + device,
		"/get_token": LiveKitIdentityFor(alice.ID.String(), device, "m1"),
	}
	for path, body := range bodies {
		status, out := post(t, srv, path, body)
		if status != http.StatusOK || out["url"] != env.LKURL {
			t.Fatalf("%s: %d %v", path, status, out)
		}
		r, err := lksdk.ConnectToRoomWithToken(env.LKURL, out["jwt"], &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
		if err != nil {
			t.Fatalf("%s: LiveKit refused our JWT: %v", path, err)
		}
		if got := r.LocalParticipant.Identity(); got != wantIdentity[path] {
			t.Errorf("%s: identity %q, want %q", path, got, wantIdentity[path])
		}
		if got := r.Name(); got != LiveKitRoomFor(room.String(), "m.call#ROOM") {
			t.Errorf("%s: room %q", path, got)
		}
		r.Disconnect()
	}
	srv.Client().CloseIdleConnections()
}

// TestRealTokensRefused: unknown (expired or forged) tokens and tokens
// claimed for another server are refused with lk-jwt-service's 401.
func TestRealTokensRefused(t *testing.T) {
	env := testenv.Require(t)
	var logs bytes.Buffer
	srv := realServiceLogging(t, env, &syncWriter{w: &logs}, env.ServerName)
	alice := env.RegisterUser(t, "alice")
	tok := env.OpenIDToken(t, alice)
	defer func() {
		// No OpenID token may reach a log line (the anchor logs them).
		if strings.Contains(logs.String(), tok.AccessToken[4:]) || strings.Contains(logs.String(), "syt_expired") {
			t.Errorf("a token appears in the logs:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "token request refused") {
			t.Errorf("refusals were not logged:\n%s", logs.String())
		}
	}()
	tests := map[string]string{
		"forged token": openIDJSON("forged-"+tok.AccessToken[:4], env.ServerName),
		// Synapse answers an expired OpenID token exactly as an unknown one.
		"unknown or expired token": openIDJSON("syt_expired_0000000000", env.ServerName),
		// The homeserver vouches for @alice:localhost, not for a user of the
		// server the client claims.
		"wrong server":         openIDJSON(tok.AccessToken, "impostor.example"),
		"unreachable server":   openIDJSON(tok.AccessToken, "localhost:1"),
		"loopback server name": openIDJSON(tok.AccessToken, "127.0.0.1:8448"),
	}
	for name, oid := range tests {
		status, out := post(t, srv, "/sfu/get", `{"room":"!r:localhost","device_id":"D",`+oid+`}`)
		if status != http.StatusUnauthorized || out["errcode"] != "M_UNAUTHORIZED" {
			t.Errorf("%s: %d %v", name, status, out)
		}
	}
	// The claimed user must be the verified one.
	body := fmt.Sprintf(`{"room_id":"!r:localhost","slot_id":"s","member":{"id":"m","claimed_user_id":"@mallory:localhost","claimed_device_id":"D"},%s}`,
		openIDJSON(tok.AccessToken, tok.MatrixServerName))
	if status, out := post(t, srv, "/get_token", body); status != http.StatusUnauthorized {
		t.Errorf("claimed user mismatch: %d %v", status, out)
	}
}

// TestRestrictedUserCannotCreateRoom: with the user's server not full-access
// the service issues a token but makes no room, and LiveKit (auto_create off)
// refuses the join; once a full-access user made the room exist, it works.
func TestRestrictedUserCannotCreateRoom(t *testing.T) {
	env := testenv.Require(t)
	restricted := realService(t, env, "other.example")
	alice := env.RegisterUser(t, "alice")
	room := env.CreateRoom(t, alice)
	body := func() string {
		tok := env.OpenIDToken(t, alice)
		return fmt.Sprintf(`{"room":%q,"device_id":"D",%s}`, room, openIDJSON(tok.AccessToken, tok.MatrixServerName))
	}
	status, out := post(t, restricted, "/sfu/get", body())
	if status != http.StatusOK {
		t.Fatalf("restricted user got no token: %d %v", status, out)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(out["jwt"], claims); err != nil {
		t.Fatal(err)
	}
	if video, _ := claims["video"].(map[string]any); video["roomCreate"] == true {
		t.Fatal("restricted token grants roomCreate")
	}
	if r, err := lksdk.ConnectToRoomWithToken(env.LKURL, out["jwt"], &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false)); err == nil {
		r.Disconnect()
		t.Fatal("restricted user created a LiveKit room by joining")
	}

	full := realService(t, env, env.ServerName)
	if status, out := post(t, full, "/sfu/get", body()); status != http.StatusOK {
		t.Fatalf("full access: %d %v", status, out)
	}
	r, err := lksdk.ConnectToRoomWithToken(env.LKURL, out["jwt"], &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("restricted user cannot join the existing room: %v", err)
	}
	r.Disconnect()
}

// syncWriter serialises writes from concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestRealLiveKitWebhooksVerified: the real livekit-server, configured by
// scripts/testenv to post webhooks to the service port, delivers signed
// participant events that the service accepts.
func TestRealLiveKitWebhooksVerified(t *testing.T) {
	env := testenv.Require(t)
	sink := &recordingSink{}
	v, err := openid.New(nil, openid.Config{HomeserverURLs: map[string]string{env.ServerName: env.HSURL}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	svc, err := New(nil, Config{
		LiveKitURL: env.LKURL, APIKey: env.LKKey, APISecret: env.LKSecret, TokenTTL: time.Hour,
		FullAccessHomeservers: []string{env.ServerName},
	}, Deps{Verifier: v, Rooms: env.RoomService(), Webhooks: []WebhookSink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	serveOnServicePort(t, env, svc)

	room := "webhook-test-" + time.Now().Format("150405.000000")
	if _, err := env.RoomService().CreateRoom(t.Context(), &livekit.CreateRoomRequest{Name: room, EmptyTimeout: 5}); err != nil {
		t.Fatal(err)
	}
	iss, _ := lktoken.New(env.LKKey, env.LKSecret, time.Hour)
	jwtTok, _ := iss.Issue("@hook:localhost:DEV", room)
	r, err := lksdk.ConnectToRoomWithToken(env.LKURL, jwtTok, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatal(err)
	}
	// participant_joined comes once the participant is active; leaving
	// before that is reported as participant_connection_aborted instead.
	waitForEvent(t, sink, room, "participant_joined")
	r.Disconnect()
	waitForEvent(t, sink, room, "participant_left")
}

// waitForEvent waits for a verified webhook event about @hook:localhost:DEV.
func waitForEvent(t *testing.T, sink *recordingSink, room, kind string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing
	for time.Now().Before(deadline) {
		for _, ev := range sink.all() {
			if ev.GetEvent() == kind && ev.GetRoom().GetName() == room && ev.GetParticipant().GetIdentity() == "@hook:localhost:DEV" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, ev := range sink.all() {
		t.Logf("event %s room=%q participant=%q", ev.GetEvent(), ev.GetRoom().GetName(), ev.GetParticipant().GetIdentity())
	}
	t.Fatalf("no verified %s from LiveKit", kind)
}

func decodeJSON(t *testing.T, res *http.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("HTTP %d: %s", res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// serveOnServicePort serves svc on the port scripts/testenv told LiveKit to
// send its webhooks to, until the test ends, and returns the address.
func serveOnServicePort(t *testing.T, env *testenv.Env, svc *Service) string {
	t.Helper()
	env.HoldServicePort(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+env.Var("SWB_SERVICE_PORT"))
	if err != nil {
		t.Fatalf("service port: %v", err)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}
