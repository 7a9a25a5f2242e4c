package jwtservice

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/switchboard-rtc/switchboard/jwtservice/openid"
)

// fakeVerifier accepts tokens of the form "ok:<user id>".
type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, tok openid.Token) (string, error) {
	if user, ok := strings.CutPrefix(tok.AccessToken, "ok:"); ok {
		return user, nil
	}
	return "", errors.New("homeserver said no")
}

// fakeRooms records CreateRoom calls and fails when told to.
type fakeRooms struct {
	mu    sync.Mutex
	calls []*livekit.CreateRoomRequest
	err   error
}

func (f *fakeRooms) CreateRoom(_ context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	return &livekit.Room{Name: req.Name}, f.err
}

func (f *fakeRooms) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.calls) }

type denyAll struct{}

func (denyAll) Authorize(context.Context, string, string) error { return ErrNotRoomMember }

func newTestService(t *testing.T, rooms *fakeRooms, auth Authorizer) *Service {
	t.Helper()
	s, err := New(slog.New(slog.DiscardHandler), Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
		FullAccessHomeservers: []string{"example.org"},
	}, Deps{Verifier: fakeVerifier{}, Rooms: rooms, Authorizer: auth})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

const (
	okOpenID     = `"openid_token":{"access_token":"ok:@alice:example.org","matrix_server_name":"example.org","token_type":"Bearer","expires_in":3600}`
	remoteOpenID = `"openid_token":{"access_token":"ok:@bob:remote.org","matrix_server_name":"remote.org"}`
	member       = `"member":{"id":"memberABC","claimed_user_id":"@alice:example.org","claimed_device_id":"DEVICE123"}`
)

// TestErrorTable pins every row of lk-jwt-service's error table (reference
// §1.2-1.3) for both endpoints: status, errcode and text.
func TestErrorTable(t *testing.T) {
	tests := []struct {
		name, path, body string
		rooms            *fakeRooms
		auth             Authorizer
		status           int
		errcode, text    string
	}{
		{"get_token: not JSON", "/get_token", `{`, nil, nil, 400, "M_NOT_JSON", "Error reading request"},
		{"get_token: wrong type", "/get_token", `{"room_id":1}`, nil, nil, 400, "M_NOT_JSON", "Error reading request"},
		{"get_token: float delay_timeout", "/get_token", `{"delay_timeout":1.5}`, nil, nil, 400, "M_NOT_JSON", "Error reading request"},
		{"get_token: trailing data", "/get_token", `{} {}`, nil, nil, 400, "M_NOT_JSON", "Error reading request"},
		{"get_token: array", "/get_token", `[]`, nil, nil, 400, "M_NOT_JSON", "Error reading request"},
		{"get_token: missing slot", "/get_token", `{"room_id":"!r:example.org",` + member + `,` + okOpenID + `}`, nil, nil, 400, "M_BAD_JSON", "The request body is missing `room_id` or `slot_id`"},
		{"get_token: keys match case-sensitively", "/get_token", `{"ROOM_ID":"!r:example.org","slot_id":"s",` + member + `,` + okOpenID + `}`, nil, nil, 400, "M_BAD_JSON", "The request body is missing `room_id` or `slot_id`"},
		{"get_token: missing member", "/get_token", `{"room_id":"!r:example.org","slot_id":"s",` + okOpenID + `}`, nil, nil, 400, "M_BAD_JSON", "The request body `member` is missing a `id`, `claimed_user_id` or `claimed_device_id`"},
		{"get_token: missing openid", "/get_token", `{"room_id":"!r:example.org","slot_id":"s",` + member + `}`, nil, nil, 400, "M_BAD_JSON", "The request body `openid_token` is missing a `access_token` or `matrix_server_name`"},
		{"get_token: half a delay", "/get_token", `{"room_id":"!r:example.org","slot_id":"s",` + member + `,` + okOpenID + `,"delay_id":"d"}`, nil, nil, 400, "M_BAD_JSON", "The request body is missing `delay_id` or `delay_timeout`"},
		{"get_token: openid refused", "/get_token", `{"room_id":"!r:example.org","slot_id":"s",` + member + `,"openid_token":{"access_token":"bad","matrix_server_name":"example.org"}}`, nil, nil, 401, "M_UNAUTHORIZED", "The request could not be authorised."},
		{"get_token: claimed user differs", "/get_token", `{"room_id":"!r:example.org","slot_id":"s","member":{"id":"m","claimed_user_id":"@mallory:example.org","claimed_device_id":"D"},` + okOpenID + `}`, nil, nil, 401, "M_UNAUTHORIZED", "The request could not be authorised."},
		{"get_token: delegation for a restricted user", "/get_token", `{"room_id":"!r:remote.org","slot_id":"s","member":{"id":"m","claimed_user_id":"@bob:remote.org","claimed_device_id":"D"},` + remoteOpenID + `,"delay_id":"d","delay_timeout":10000}`, nil, nil, 400, "M_BAD_JSON", "Delegation of delayed events is only supported for full access users"},
		{"get_token: room creation fails", "/get_token", `{"room_id":"!r:example.org","slot_id":"s",` + member + `,` + okOpenID + `}`, &fakeRooms{err: twirp.InternalError("boom")}, nil, 500, "M_UNKNOWN", "Unable to create room on SFU"},
		{"get_token: LiveKit unreachable", "/get_token", `{"room_id":"!r:example.org","slot_id":"s",` + member + `,` + okOpenID + `}`, &fakeRooms{err: twirp.NewError(twirp.Unavailable, "connection refused")}, nil, 503, "M_UNKNOWN", "Unable to create room on SFU: LiveKit is unreachable"},
		{"get_token: not a member", "/get_token", `{"room_id":"!r:example.org","slot_id":"s",` + member + `,` + okOpenID + `}`, nil, denyAll{}, 403, "M_FORBIDDEN", "You are not a member of this room, so you cannot join its call"},
		{"get_token: oversized device id", "/get_token", `{"room_id":"!r:example.org","slot_id":"s","member":{"id":"m","claimed_user_id":"@alice:example.org","claimed_device_id":"` + strings.Repeat("D", 300) + `"},` + okOpenID + `}`, nil, nil, 400, "M_BAD_JSON", "The request body has an identifier that is too long or not printable"},
		{"get_token: newline in member id", "/get_token", `{"room_id":"!r:example.org","slot_id":"s","member":{"id":"m\nforged log","claimed_user_id":"@alice:example.org","claimed_device_id":"D"},` + okOpenID + `}`, nil, nil, 400, "M_BAD_JSON", "The request body has an identifier that is too long or not printable"},
		{"sfu/get: not JSON", "/sfu/get", `nope`, nil, nil, 400, "M_NOT_JSON", "Error reading request"},
		{"sfu/get: missing room", "/sfu/get", `{` + okOpenID + `}`, nil, nil, 400, "M_BAD_JSON", "Missing room parameter"},
		{"sfu/get: missing openid", "/sfu/get", `{"room":"!r:example.org"}`, nil, nil, 400, "M_BAD_JSON", "Missing OpenID token parameters"},
		{"sfu/get: half a delay", "/sfu/get", `{"room":"!r:example.org",` + okOpenID + `,"delay_timeout":5}`, nil, nil, 400, "M_BAD_JSON", "The request body is missing `delay_id` or `delay_timeout`"},
		{"sfu/get: openid refused", "/sfu/get", `{"room":"!r:example.org","openid_token":{"access_token":"x","matrix_server_name":"example.org"}}`, nil, nil, 401, "M_UNAUTHORIZED", "The request could not be authorised."},
		{"sfu/get: delegation for a restricted user", "/sfu/get", `{"room":"!r:remote.org",` + remoteOpenID + `,"delay_id":"d","delay_timeout":10000}`, nil, nil, 400, "M_BAD_JSON", "Delegation of delayed events is only supported for full access users"},
		{"sfu/get: room creation fails", "/sfu/get", `{"room":"!r:example.org",` + okOpenID + `}`, &fakeRooms{err: twirp.InternalError("boom")}, nil, 500, "M_UNKNOWN", "Unable to create room on SFU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rooms := tt.rooms
			if rooms == nil {
				rooms = &fakeRooms{}
			}
			rec := do(t, newTestService(t, rooms, tt.auth).Handler(), http.MethodPost, tt.path, tt.body)
			var body struct{ Errcode, Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if rec.Code != tt.status || body.Errcode != tt.errcode || body.Error != tt.text {
				t.Errorf("got %d %s %q, want %d %s %q", rec.Code, body.Errcode, body.Error, tt.status, tt.errcode, tt.text)
			}
			checkEnvelope(t, rec)
		})
	}
}

// checkEnvelope: every answer of a POST endpoint carries CORS and JSON headers.
func checkEnvelope(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Content-Type") != "application/json" || h.Get("Access-Control-Allow-Methods") != "POST" {
		t.Errorf("headers %v", h)
	}
}

func TestMethodsAndCORS(t *testing.T) {
	h := newTestService(t, &fakeRooms{}, nil).Handler()
	for _, path := range []string{"/get_token", "/sfu/get"} {
		rec := do(t, h, http.MethodOptions, path, "")
		if rec.Code != 200 || rec.Body.Len() != 0 {
			t.Errorf("OPTIONS %s = %d %q", path, rec.Code, rec.Body.String())
		}
		checkEnvelope(t, rec)
		rec = do(t, h, http.MethodGet, path, "")
		if rec.Code != 405 || rec.Body.Len() != 0 {
			t.Errorf("GET %s = %d %q", path, rec.Code, rec.Body.String())
		}
		checkEnvelope(t, rec)
	}
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		if rec := do(t, h, m, "/healthz", ""); rec.Code != 200 || rec.Body.Len() != 0 {
			t.Errorf("%s /healthz = %d", m, rec.Code)
		}
	}
	if rec := do(t, h, http.MethodPost, "/healthz", ""); rec.Code != 405 {
		t.Errorf("POST /healthz = %d", rec.Code)
	}
	if rec := do(t, h, http.MethodPost, "/get_token/", "{}"); rec.Code != 404 {
		t.Errorf("trailing slash = %d", rec.Code)
	}
}

// TestSuccessIdentities checks both endpoints' identities, room names and
// grants, and that unknown fields are accepted (Element X sends extras).
func TestSuccessIdentities(t *testing.T) {
	rooms := &fakeRooms{}
	h := newTestService(t, rooms, nil).Handler()
	tests := []struct{ path, body, identity, room string }{
		{"/get_token", `{"room_id":"!roomid:example.com","slot_id":"slot1234","unknown":{"x":1},` + member + `,` + okOpenID + `}`,
			LiveKitIdentityFor("@alice:example.org", "DEVICE123", "memberABC"), "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc"},
		{"/sfu/get", `{"room":"!roomid:example.com","device_id":"DEVICE123","extra":true,` + okOpenID + `}`,
			"@alice:example.org:DEVICE123", LiveKitRoomFor("!roomid:example.com", "m.call#ROOM")},
	}
	for _, tt := range tests {
		rec := do(t, h, http.MethodPost, tt.path, tt.body)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", tt.path, rec.Code, rec.Body.String())
		}
		checkEnvelope(t, rec)
		var g grant
		if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil || g.URL != "wss://sfu.example.org" {
			t.Fatalf("%s: body %s", tt.path, rec.Body.String())
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(g.JWT, claims, func(*jwt.Token) (any, error) { return []byte("devsecret"), nil }); err != nil {
			t.Fatal(err)
		}
		video, _ := claims["video"].(map[string]any)
		if claims["sub"] != tt.identity || video["room"] != tt.room {
			t.Errorf("%s: sub=%v room=%v, want %s %s", tt.path, claims["sub"], video["room"], tt.identity, tt.room)
		}
	}
	// Full-access requests made the room exist, with upstream's timeouts.
	if rooms.count() != 2 || rooms.calls[0].EmptyTimeout != 300 || rooms.calls[0].DepartureTimeout != 20 {
		t.Errorf("CreateRoom calls %v", rooms.calls)
	}
}

func TestRestrictedUserCreatesNoRoomAndKnownRoomsAreRemembered(t *testing.T) {
	rooms := &fakeRooms{}
	h := newTestService(t, rooms, nil).Handler()
	if rec := do(t, h, http.MethodPost, "/sfu/get", `{"room":"!r:remote.org","device_id":"D",`+remoteOpenID+`}`); rec.Code != 200 {
		t.Fatalf("restricted: %d %s", rec.Code, rec.Body.String())
	}
	if rooms.count() != 0 {
		t.Fatalf("restricted user made a room exist")
	}
	for range 3 {
		if rec := do(t, h, http.MethodPost, "/sfu/get", `{"room":"!r:example.org","device_id":"D",`+okOpenID+`}`); rec.Code != 200 {
			t.Fatal(rec.Body.String())
		}
	}
	if rooms.count() != 1 {
		t.Fatalf("CreateRoom called %d times for one known room", rooms.count())
	}
}

func TestFullAccessMatching(t *testing.T) {
	tests := []struct {
		list   []string
		server string
		want   bool
	}{
		{[]string{"example.com"}, "example.com", true},
		{[]string{"example.com"}, "aanother.example.com", false},
		{[]string{"example.com"}, "matrix.example.com", false},
		{[]string{"example.com"}, "Example.com", false},
		{[]string{"*"}, "anything.org", true},
		{[]string{"*", "example.com"}, "anything.org", false},
		{nil, "example.com", false},
	}
	for _, tt := range tests {
		s := &Service{cfg: Config{FullAccessHomeservers: tt.list}}
		if got := s.isFullAccess(tt.server); got != tt.want {
			t.Errorf("%v / %s = %v", tt.list, tt.server, got)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	h := newTestService(t, &fakeRooms{}, nil).Handler()
	big := `{"room":"` + strings.Repeat("a", maxBodyBytes) + `"}`
	if rec := do(t, h, http.MethodPost, "/sfu/get", big); rec.Code != 400 {
		t.Fatalf("oversized body = %d", rec.Code)
	}
}

func TestRateLimit(t *testing.T) {
	s, err := New(slog.New(slog.DiscardHandler), Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "k", APISecret: "s", TokenTTL: time.Hour,
		FullAccessHomeservers: []string{"example.org"}, RateLimit: RateLimit{Rate: 1, Burst: 2},
		Now: func() time.Time { return time.Unix(1000, 0) },
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	body := `{"room":"!r:example.org","device_id":"D",` + okOpenID + `}`
	var codes []int
	for range 3 {
		codes = append(codes, do(t, h, http.MethodPost, "/sfu/get", body).Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Fatalf("codes %v, want 200 200 429", codes)
	}
}
