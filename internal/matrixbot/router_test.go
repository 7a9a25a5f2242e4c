package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// ev is an event of kind k in room, named by its Batch.
func ev(k Kind, room id.RoomID, name string) Event { return Event{Kind: k, RoomID: room, Batch: name} }

// names reads q until it closes.
func names(q <-chan Event) string {
	var s string
	for e := range q {
		s += e.Batch
	}
	return s
}

func mustAdd(t *testing.T, r *Router, route Route) <-chan Event {
	t.Helper()
	q, err := r.Add(route)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// runRouter runs r on in and returns Run's result channel.
func runRouter(ctx context.Context, r *Router, in <-chan Event) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, in) }()
	return done
}

// TestRouterFilters: each route gets, in order, exactly the events its
// kinds and rooms accept (events without a room only when Rooms is nil),
// and every queue closes when the stream closes. The first two routes are
// the coordinator's (the feed gets all, the exchange the to-device ones).
func TestRouterFilters(t *testing.T) {
	leakcheck.Check(t)
	r := NewRouter(nil)
	all := mustAdd(t, r, Route{Name: "all"})
	td := mustAdd(t, r, Route{Name: "to-device", Kinds: []Kind{KindToDevice}})
	roomA := mustAdd(t, r, Route{Name: "room a", Rooms: func(room id.RoomID) bool { return room == "!a" }})
	stateA := mustAdd(t, r, Route{Name: "state in a", Kinds: []Kind{KindState, KindToDevice},
		Rooms: func(room id.RoomID) bool { return room == "!a" }, Overflow: Drop})
	in := make(chan Event)
	done := runRouter(t.Context(), r, in)
	go func() {
		for _, e := range []Event{
			ev(KindState, "!a", "a"), ev(KindToDevice, "", "b"), ev(KindTimeline, "!b", "c"), ev(KindSyncDone, "", "d"),
			ev(KindTimeline, "!a", "e"), ev(KindToDevice, "", "f"), ev(KindState, "!b", "g"), ev(KindState, "!a", "h"),
		} {
			in <- e
		}
		close(in)
	}()
	var got [4]string
	var wg sync.WaitGroup
	for i, q := range []<-chan Event{all, td, roomA, stateA} {
		wg.Go(func() { got[i] = names(q) })
	}
	wg.Wait()
	if want := [4]string{"abcdefgh", "bf", "aeh", "ah"}; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRouterEndsWithCtx: with nobody reading and the queues full, ending
// ctx still ends Run, and Run closes every queue.
func TestRouterEndsWithCtx(t *testing.T) {
	leakcheck.Check(t)
	ctx, cancel := context.WithCancel(t.Context())
	r := NewRouter(nil)
	qa := mustAdd(t, r, Route{Name: "a", Queue: 2})
	qb := mustAdd(t, r, Route{Name: "b", Queue: 2, Kinds: []Kind{KindToDevice}})
	in := make(chan Event, 3)
	for range 3 {
		in <- ev(KindToDevice, "", "x")
	}
	done := runRouter(ctx, r, in)
	for len(in) > 0 { // once it took the third event, the router waits on a
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a, b := names(qa), names(qb); a != "xx" || b != "xx" {
		t.Errorf("queued %q and %q", a, b)
	}
}

// TestRouterAdd: routes are checked, and fixed once Run began; Run runs
// once.
func TestRouterAdd(t *testing.T) {
	r := NewRouter(nil)
	mustAdd(t, r, Route{Name: "feed"})
	for _, bad := range []Route{{}, {Name: "feed"}, {Name: "q", Queue: -1}, {Name: "o", Overflow: 7}} {
		if _, err := r.Add(bad); !errors.Is(err, ErrBadRoute) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	in := make(chan Event)
	close(in)
	if err := r.Run(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(Route{Name: "late"}); !errors.Is(err, ErrRouterStarted) {
		t.Errorf("add after run: %v", err)
	}
	if err := r.Run(t.Context(), in); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second run: %v", err)
	}
	if s := r.Stats(); len(s) != 1 || s[0].Name != "feed" || s[0].Bound != DefaultQueue || s[0].Overflow != Block {
		t.Errorf("stats %+v", s)
	}
}

// bubbleLog is a logger for a synctest bubble and its output.
func bubbleLog() (*slog.Logger, *logbuf.Buffer) {
	var buf logbuf.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// TestRouterBlockWaits: a full Block route holds the router (and every
// other route) back until its consumer reads; nothing is lost. The wait
// shows in Stats and, past a second, in one warning however many events
// it holds up, then one note when it moves again.
func TestRouterBlockWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := bubbleLog()
		r := NewRouter(logger)
		slow := mustAdd(t, r, Route{Name: "slow", Queue: 2})
		other := mustAdd(t, r, Route{Name: "other"})
		in := make(chan Event)
		done := runRouter(t.Context(), r, in)
		in <- ev(KindState, "!a", "a") // a and b fill slow's queue
		in <- ev(KindState, "!a", "b")
		in <- ev(KindState, "!a", "c") // the router waits on slow
		synctest.Wait()
		if len(other) != 2 {
			t.Fatalf("other got %d events, want 2: the router did not wait on slow", len(other))
		}
		s := r.Stats()[0]
		if s.BlockedSince.IsZero() || s.Queued != 2 || s.Delivered != 2 {
			t.Errorf("while waiting: %+v", s)
		}
		if logs.Count("level=WARN") != 0 {
			t.Errorf("warned before a second: %s", logs)
		}

		// More events come while the consumer takes one every 3 s: the
		// queue stays full, one stall, one warning.
		go func() {
			in <- ev(KindState, "!a", "d")
			in <- ev(KindState, "!a", "e")
		}()
		for range 3 {
			time.Sleep(3 * time.Second)
			<-slow
		}
		synctest.Wait()
		if n := logs.Count(`level=WARN msg="event router waiting on a full route`); n != 1 || logs.Count("route=slow") != 1 {
			t.Errorf("%d warnings:\n%s", n, logs)
		}
		// It catches up: the next delivery leaves room, the stall ends.
		<-slow
		<-slow
		in <- ev(KindState, "!a", "f")
		synctest.Wait()
		if logs.Count("level=INFO") != 1 || logs.Count("route moving again") != 1 || logs.Count("stalled_for=9s") != 1 {
			t.Errorf("no note of the end of the stall:\n%s", logs)
		}
		close(in)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := names(slow); got != "f" {
			t.Errorf("slow's last events %q", got)
		}
		if got := names(other); got != "abcdef" {
			t.Errorf("other got %q", got)
		}
		s = r.Stats()[0]
		if s.Delivered != 6 || s.Dropped != 0 || !s.BlockedSince.IsZero() || s.Blocked != 9*time.Second {
			t.Errorf("after: %+v", s)
		}
	})
}

// TestRouterDropCounts: a Drop route that nobody reads loses the events
// past its bound, counted, never holding the router; it warns at the first
// drop and then at most every 10 s with the count since.
func TestRouterDropCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := bubbleLog()
		r := NewRouter(logger)
		stuck := mustAdd(t, r, Route{Name: "stuck", Queue: 3, Overflow: Drop})
		feed := mustAdd(t, r, Route{Name: "feed"})
		in := make(chan Event)
		done := runRouter(t.Context(), r, in)
		send := func(n int) {
			for range n {
				in <- ev(KindTimeline, "!a", "x")
				<-feed // the Block route gets every event at once
			}
		}
		send(10)
		synctest.Wait()
		if logs.Count("level=WARN") != 1 || logs.Count("dropped=1 dropped_total=1") != 1 {
			t.Errorf("first drop:\n%s", logs)
		}
		time.Sleep(5 * time.Second)
		send(5)
		synctest.Wait()
		if logs.Count("level=WARN") != 1 {
			t.Errorf("warned again within 10 s:\n%s", logs)
		}
		time.Sleep(5 * time.Second)
		send(1)
		synctest.Wait()
		if logs.Count("level=WARN") != 2 || logs.Count("dropped=12 dropped_total=13") != 1 {
			t.Errorf("second warning:\n%s", logs)
		}
		s := r.Stats()[0]
		if s.Delivered != 3 || s.Dropped != 13 || s.Queued != 3 || s.Blocked != 0 || !s.BlockedSince.IsZero() {
			t.Errorf("stats %+v", s)
		}
		close(in)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := names(stuck); got != "xxx" {
			t.Errorf("stuck kept %q", got)
		}
	})
}

// TestRouterStatsConcurrent: Stats and the admin view while events flow
// (run with -race).
func TestRouterStatsConcurrent(t *testing.T) {
	leakcheck.Check(t)
	r := NewRouter(nil)
	feed := mustAdd(t, r, Route{Name: "feed", Queue: 1})
	mustAdd(t, r, Route{Name: "stuck", Queue: 4, Overflow: Drop, Kinds: []Kind{KindTimeline},
		Rooms: func(id.RoomID) bool { return true }})
	in := make(chan Event)
	done := runRouter(t.Context(), r, in)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 500 {
			in <- ev(KindTimeline, "!a", "x")
		}
		close(in)
	})
	wg.Go(func() { names(feed) })
	for range 100 {
		r.Stats()
		r.AdminHandler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/admin/v1/events", nil))
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	r.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/admin/v1/events", nil))
	var view struct {
		Routes []map[string]any `json:"routes"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil || len(view.Routes) != 2 {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	feedView, stuck := view.Routes[0], view.Routes[1]
	if feedView["name"] != "feed" || feedView["overflow"] != "block" || feedView["delivered"] != 500.0 ||
		feedView["blocking"] != false || feedView["queue_bound"] != 1.0 || feedView["room_filter"] != false {
		t.Errorf("feed %v", feedView)
	}
	if stuck["overflow"] != "drop" || stuck["delivered"] != 4.0 || stuck["dropped"] != 496.0 || stuck["queued"] != 4.0 ||
		stuck["blocked_ms"] != 0.0 || stuck["room_filter"] != true || len(stuck["kinds"].([]any)) != 1 {
		t.Errorf("stuck %v", stuck)
	}
}
