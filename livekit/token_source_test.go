package livekit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/lktoken"
	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/membership"
)

var tokCall = membership.CallKey{Room: "!call:example.org", Application: "m.call", Scope: "m.room"}

func fakeJWT(room, sub string) string {
	payload, _ := json.Marshal(map[string]any{"sub": sub, "video": map[string]any{"room": room}})
	return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".sig"
}

func botSelf() (id.UserID, id.DeviceID) { return "@bot:example.org", "BOTDEV" }

func openID(context.Context) (OpenIDToken, error) {
	return OpenIDToken{AccessToken: "oid", TokenType: "Bearer", MatrixServerName: "example.org", ExpiresIn: 3600}, nil
}

// TestFocusTokensMintsForOwnService: a focus that is this coordinator gets
// a token we mint, for the room and identity /sfu/get would give.
func TestFocusTokensMintsForOwnService(t *testing.T) {
	iss, err := lktoken.New("key", secret.Value("a-secret-of-at-least-32-bytes-long!!"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &FocusTokens{Self: botSelf, Own: []string{"https://sb.example.org/"}, Mint: iss,
		LiveKitURL: "ws://127.0.0.1:7880"}
	j, err := f.Token(t.Context(), tokCall, membership.Focus{Type: "livekit", LiveKitServiceURL: "https://sb.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	room, sub, err := tokenNames(j.Token)
	if err != nil || room != lkid.Room("!call:example.org", "m.call#ROOM") || sub != "@bot:example.org:BOTDEV" ||
		j.Room != room || j.Identity != sub || j.URL != "ws://127.0.0.1:7880" {
		t.Fatalf("join %+v (token room %q sub %q, %v)", j, room, sub, err)
	}
}

// TestFocusTokensAsksOtherService: another focus is asked with /sfu/get
// and the bot's OpenID token, exactly as a client asks.
func TestFocusTokensAsksOtherService(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sfu/get" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got)
		_ = json.NewEncoder(w).Encode(map[string]string{"url": "ws://127.0.0.1:1", "jwt": fakeJWT("the-room", "@bot:example.org:BOTDEV")})
	}))
	defer srv.Close()
	f := &FocusTokens{Self: botSelf, OpenID: openID, HTTP: srv.Client()}
	j, err := f.Token(t.Context(), tokCall, membership.Focus{Type: "livekit", LiveKitServiceURL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if j.Room != "the-room" || j.Identity != "@bot:example.org:BOTDEV" || j.URL != "ws://127.0.0.1:1" {
		t.Fatalf("join %+v", j)
	}
	if got["room"] != "!call:example.org" || got["device_id"] != "BOTDEV" || got["openid_token"].(map[string]any)["access_token"] != "oid" {
		t.Fatalf("request %v", got)
	}
}

// TestFocusTokensRefusals: bad foci and hostile answers are clear errors.
func TestFocusTokensRefusals(t *testing.T) {
	answer := ""
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	f := &FocusTokens{Self: botSelf, OpenID: openID, HTTP: srv.Client()}
	lk := func(url string) membership.Focus { return membership.Focus{Type: "livekit", LiveKitServiceURL: url} }
	for _, c := range []struct {
		name   string
		focus  membership.Focus
		answer string
		status int
		want   error
	}{
		{"mesh focus", membership.Focus{Type: "mesh"}, "", 200, ErrFocus},
		{"no url", lk(""), "", 200, ErrFocus},
		{"not http", lk("ftp://127.0.0.1"), "", 200, ErrFocus},
		{"forbidden", lk(srv.URL), `{"errcode":"M_FORBIDDEN"}`, 403, ErrFocusDeny},
		{"not json", lk(srv.URL), `<html>`, 200, ErrFocusDeny},
		{"no jwt", lk(srv.URL), `{"url":"ws://127.0.0.1:1"}`, 200, ErrFocusDeny},
		{"bad jwt", lk(srv.URL), `{"url":"ws://127.0.0.1:1","jwt":"x.y"}`, 200, ErrFocusDeny},
		{"huge", lk(srv.URL), `{"url":"` + strings.Repeat("a", maxTokenResponse) + `"}`, 200, ErrFocusDeny},
	} {
		answer, status = c.answer, c.status
		if _, err := f.Token(t.Context(), tokCall, c.focus); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzTokenNames(f *testing.F) {
	f.Add(fakeJWT("room", "sub"))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, jwt string) {
		_, _, _ = tokenNames(jwt)
	})
}
