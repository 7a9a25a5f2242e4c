package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// testAdminToken passes check-config's strength rule.
const testAdminToken = "test-admin-token-0123456789abcdefghij"

// adminAddrs maps a coordinator's public address to its admin listener's:
// tests name a coordinator by its public address (startServe, startProc),
// and adminRoomView finds the admin API through this.
var adminAddrs sync.Map

// listenLog follows a coordinator's JSON log for the addresses it listens on.
type listenLog struct{ public, admin string }

// line reads one log line and reports the public address when this line
// announced it. Once both are known they go into adminAddrs.
func (l *listenLog) line(b []byte) (public string, ok bool) {
	var rec struct{ Msg, Addr string }
	if json.Unmarshal(b, &rec) != nil {
		return "", false
	}
	switch rec.Msg {
	case "http server listening":
		l.public, ok = rec.Addr, true
	case "admin API listening":
		l.admin = rec.Addr
	}
	if l.public != "" && l.admin != "" {
		adminAddrs.Store(l.public, l.admin)
	}
	return rec.Addr, ok
}

// adminAddrOf is the admin listener of the coordinator listening publicly
// on addr (the two announcements come moments apart, in either order).
func adminAddrOf(t *testing.T, addr string) string {
	t.Helper()
	var admin string
	waitFor(t, 10*time.Second, "the admin API listening", func() bool {
		a, ok := adminAddrs.Load(addr)
		admin, _ = a.(string)
		return ok
	})
	return admin
}

// TestAdminAPIOnItsOwnListener: the admin API answers on admin.bind only,
// never on the public listener (where the shipped reverse proxies forward
// everything under /livekit/jwt/), and a client that keeps guessing the
// token is locked out, even once it guesses right.
func TestAdminAPIOnItsOwnListener(t *testing.T) {
	env := testenv.Require(t)
	addr, _ := startBotCoordinator(t, env, nil)

	get := func(host, token string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+host+"/admin/v1/calls", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(addr, testAdminToken); code != http.StatusNotFound {
		t.Fatalf("the public listener answered the admin API with %d, want 404", code)
	}
	admin := adminAddrOf(t, addr)
	if !strings.HasPrefix(admin, "127.0.0.1:") || admin == addr {
		t.Fatalf("admin API at %s (public %s)", admin, addr)
	}
	if code := get(admin, testAdminToken); code != http.StatusOK {
		t.Fatalf("admin API: %d", code)
	}
	codes := map[int]int{}
	for range 20 {
		codes[get(admin, "guess")]++
	}
	if codes[http.StatusUnauthorized] == 0 || codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("20 wrong tokens: %v, want 401s and then 429s", codes)
	}
	if code := get(admin, testAdminToken); code != http.StatusTooManyRequests {
		t.Fatalf("right token from a locked-out client: %d, want 429", code)
	}
}
