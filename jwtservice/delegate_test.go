package jwtservice

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
)

type fakeCSAPI struct{ err error }

func (f fakeCSAPI) Resolve(_ context.Context, server string) (string, error) {
	return "https://matrix." + server, f.err
}

type fakeDelayed struct {
	mu   sync.Mutex
	jobs []delegation.Params
	err  error
}

func (f *fakeDelayed) Add(_ context.Context, p delegation.Params) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.jobs = append(f.jobs, p)
	return nil
}

func (f *fakeDelayed) HandleWebhook(delegation.Event) {}

func delegatingService(t *testing.T, rooms *fakeRooms, csapi fakeCSAPI, delayed *fakeDelayed) http.Handler {
	t.Helper()
	s, err := New(nil, Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
		FullAccessHomeservers: []string{"example.org"},
	}, Deps{Verifier: fakeVerifier{}, Rooms: rooms, CSAPI: csapi, DelayedLeaves: delayed})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

const delegateBody = `{"room_id":"!r:example.org","slot_id":"m.call#ROOM",` + member + `,` + okOpenID + `,"delay_id":"syd_abc","delay_timeout":10000,"delay_cs_api_url":"http://evil.example"}`

func TestDelegateDelayedLeave(t *testing.T) {
	tests := []struct {
		name, body    string
		csapi         fakeCSAPI
		addErr        error
		status        int
		errcode, text string
	}{
		{"success", delegateBody, fakeCSAPI{}, nil, 200, "", ""},
		{"missing delay", `{"room_id":"!r:example.org","slot_id":"s",` + member + `,` + okOpenID + `}`, fakeCSAPI{}, nil, 400, "M_BAD_JSON", "The request body is missing `delay_id` or `delay_timeout`"},
		{"zero timeout", strings.Replace(delegateBody, `"delay_timeout":10000`, `"delay_timeout":0`, 1), fakeCSAPI{}, nil, 400, "M_BAD_JSON", "The request body is missing `delay_id` or `delay_timeout`"},
		{"unauthorized", strings.Replace(delegateBody, "ok:@alice", "bad:@alice", 1), fakeCSAPI{}, nil, 401, "M_UNAUTHORIZED", "The request could not be authorised."},
		{"restricted user", `{"room_id":"!r:remote.org","slot_id":"s","member":{"id":"m","claimed_user_id":"@bob:remote.org","claimed_device_id":"D"},` + remoteOpenID + `,"delay_id":"d","delay_timeout":10000}`, fakeCSAPI{}, nil, 403, "M_FORBIDDEN", "Delegation of delayed events is only supported for full access users"},
		{"unresolvable", delegateBody, fakeCSAPI{err: delegation.ErrCSAPIUnresolvable}, nil, 400, "M_BAD_JSON", "Unable to resolve client-server API"},
		{"shutting down", delegateBody, fakeCSAPI{}, delegation.ErrShuttingDown, 503, "M_UNKNOWN", "Service is shutting down"},
		{"bad params", delegateBody, fakeCSAPI{}, delegation.ErrBadParams, 400, "M_BAD_JSON", "Invalid delayed event parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rooms, delayed := &fakeRooms{}, &fakeDelayed{err: tt.addErr}
			rec := do(t, delegatingService(t, rooms, tt.csapi, delayed), http.MethodPost, "/delegate_delayed_leave", tt.body)
			checkEnvelope(t, rec)
			if tt.status == 200 {
				if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "{}" {
					t.Fatalf("%d %s", rec.Code, rec.Body.String())
				}
				want := delegation.Params{Room: LiveKitRoomFor("!r:example.org", "m.call#ROOM"),
					Identity: LiveKitIdentityFor("@alice:example.org", "DEVICE123", "memberABC"), DelayID: "syd_abc",
					UserID: "@alice:example.org", DeviceID: "DEVICE123",
					DelayTimeout: 10 * time.Second, CSAPIURL: "https://matrix.example.org"}
				if len(delayed.jobs) != 1 || delayed.jobs[0] != want {
					t.Fatalf("jobs %+v, want %+v (the client's delay_cs_api_url must be ignored)", delayed.jobs, want)
				}
				if rooms.count() != 0 {
					t.Fatal("delegation made a room exist")
				}
				return
			}
			if !strings.Contains(rec.Body.String(), `"errcode":"`+tt.errcode+`"`) || !strings.Contains(rec.Body.String(), tt.text) || rec.Code != tt.status {
				t.Fatalf("got %d %s, want %d %s %q", rec.Code, rec.Body.String(), tt.status, tt.errcode, tt.text)
			}
			if len(delayed.jobs) != 0 {
				t.Fatal("job added on failure")
			}
		})
	}
}

// TestGetTokenWithDelegation: a full-access /get_token with delay fields
// resolves the client-server API before making the room exist, and hands the
// delayed leave over after issuing the token.
func TestGetTokenWithDelegation(t *testing.T) {
	rooms, delayed := &fakeRooms{}, &fakeDelayed{}
	rec := do(t, delegatingService(t, rooms, fakeCSAPI{err: errors.New("no well-known")}, delayed), http.MethodPost, "/get_token", delegateBody)
	if rec.Code != 400 || rooms.count() != 0 {
		t.Fatalf("unresolvable: %d %s, %d rooms", rec.Code, rec.Body.String(), rooms.count())
	}
	rec = do(t, delegatingService(t, rooms, fakeCSAPI{}, delayed), http.MethodPost, "/get_token", delegateBody)
	if rec.Code != 200 || rooms.count() != 1 || len(delayed.jobs) != 1 {
		t.Fatalf("%d %s, rooms %d, jobs %d", rec.Code, rec.Body.String(), rooms.count(), len(delayed.jobs))
	}
}
