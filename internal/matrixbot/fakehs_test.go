package matrixbot

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHS is a loopback homeserver for unit tests of the sync loop: it
// logs the bot in, takes its keys, answers /versions and /sync (each sync
// a new empty batch; a sync with a long-poll timeout waits for the client
// to go away). While down, every request gets a 502, as from a reverse
// proxy in front of a restarting Synapse.
type fakeHS struct {
	srv      *httptest.Server
	down     atomic.Bool
	syncs    atomic.Int64 // sync requests answered with a batch
	failed   atomic.Int64 // requests refused while down
	probes   atomic.Int64 // /versions requests
	longPoll atomic.Bool  // syncs with a timeout wait until the client leaves
	syncErr  atomic.Bool  // /sync answers 500 M_UNKNOWN, the rest as usual
	sync502  atomic.Int64 // this many /sync requests get a gateway's 502
	syncHits atomic.Int64 // /sync requests, whatever the answer

	mu      sync.Mutex
	waiting chan struct{} // closed when a long poll starts
}

func newFakeHS(t testing.TB) *fakeHS {
	t.Helper()
	f := &fakeHS{waiting: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHS) config(t testing.TB) Config {
	return Config{
		HomeserverURL: f.srv.URL,
		UserID:        "@bot:localhost",
		Password:      "pw",
		DataDir:       t.TempDir(),
		SyncTimeout:   20 * time.Second,
	}
}

// longPolling is closed once a sync request is waiting in a long poll.
func (f *fakeHS) longPolling() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting
}

func (f *fakeHS) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_matrix/client/versions":
		f.probes.Add(1)
	case "/_matrix/client/v3/sync":
		f.syncHits.Add(1)
		if f.sync502.Add(-1) >= 0 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		if f.syncErr.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"internal"}`))
			return
		}
	}
	if f.down.Load() {
		f.failed.Add(1)
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/_matrix/client/v3/login":
		w.Write([]byte(`{"user_id":"@bot:localhost","access_token":"tok","device_id":"BOTDEV"}`))
	case "/_matrix/client/v3/keys/upload":
		w.Write([]byte(`{"one_time_key_counts":{"signed_curve25519":50}}`))
	case "/_matrix/client/versions":
		w.Write([]byte(`{"versions":["v1.11"],"unstable_features":{}}`))
	case "/_matrix/client/v3/sync":
		if timeout, _ := strconv.Atoi(r.URL.Query().Get("timeout")); timeout > 0 && f.longPoll.Load() {
			f.mu.Lock()
			select {
			case <-f.waiting:
			default:
				close(f.waiting)
			}
			f.mu.Unlock()
			<-r.Context().Done()
			return
		}
		n := f.syncs.Add(1)
		w.Write([]byte(`{"next_batch":"b` + strconv.FormatInt(n, 10) + `"}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"unrecognized"}`))
	}
}

// records is a slog handler that keeps every record, for tests of what is
// logged at which level.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *records) WithGroup(string) slog.Handler            { return h }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}

// atLeast lists the messages logged at level or above.
func (h *records) atLeast(level slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level >= level {
			out = append(out, r.Level.String()+" "+r.Message)
		}
	}
	return out
}

// levelOf is the level msg was last logged at (false if never).
func (h *records) levelOf(msg string) (slog.Level, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.recs) - 1; i >= 0; i-- {
		if h.recs[i].Message == msg {
			return h.recs[i].Level, true
		}
	}
	return 0, false
}
