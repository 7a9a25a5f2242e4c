package jwtservice

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// TestLiveKitUnreachable: a LiveKit that refuses connections, or accepts and
// never answers, gives a prompt 503 naming LiveKit, not a hang.
func TestLiveKitUnreachable(t *testing.T) {
	leakcheck.Check(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	for name, addr := range map[string]string{"refused": closedAddr, "silent": silent.Addr().String()} {
		rs := lksdk.NewRoomServiceClient("http://"+addr, "devkey", "devsecret")
		s, err := New(nil, Config{
			LiveKitURL: "ws://" + addr, APIKey: "devkey", APISecret: "devsecret", TokenTTL: time.Hour,
			FullAccessHomeservers: []string{"example.org"}, LiveKitTimeout: 300 * time.Millisecond,
		}, Deps{Verifier: fakeVerifier{}, Rooms: rs})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		rec := do(t, s.Handler(), http.MethodPost, "/sfu/get", `{"room":"!r:example.org","device_id":"D",`+okOpenID+`}`)
		// 30 s only catches a hang (no LiveKitTimeout): a loaded machine is no clock.
		if rec.Code != http.StatusServiceUnavailable || time.Since(start) > 30*time.Second {
			t.Errorf("%s LiveKit: %d %s after %s", name, rec.Code, rec.Body.String(), time.Since(start))
		}
	}
	silent.Close()
}

// TestErrorTableRows: every sentinel maps to its row, wrapped or not, and
// anything else is an internal error (row 10: "Internal Server Error").
func TestErrorTableRows(t *testing.T) {
	for _, row := range errorTable {
		if got := lookupError(errors.Join(errors.New("context"), row.err)); got != row.matrixError {
			t.Errorf("%v -> %+v, want %+v", row.err, got, row.matrixError)
		}
	}
	if got := lookupError(errors.New("surprise")); got.status != 500 || got.errcode != "M_UNKNOWN" || got.text != "Internal Server Error" {
		t.Errorf("unknown error -> %+v", got)
	}
}
