package delegation

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	room  = "room-1"
	ident = "identity-1"
	ten   = 10 * time.Second
)

func secs(f ...float64) []time.Duration {
	out := make([]time.Duration, len(f))
	for i, s := range f {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func checkOffsets(t *testing.T, what string, calls []csCall, want []time.Duration) {
	t.Helper()
	if got := offsets(calls); !slices.Equal(got, want) {
		t.Errorf("%s at %v, want %v", what, got, want)
	}
}

func TestNeverConnectedSends(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, ident, "d1", ten))
	h.advance(11 * time.Second)
	if got, want := h.path(1), "WaitingForInitialConnect>Disconnected>Done"; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	if got, want := h.causes(1), "Added>WaitExpired>Sent"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(10))
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), nil)
	// Phase 1 polls at 0, 1, 2.5, 4.75 and 8.125 s (1 s ×1.5, no jitter).
	if n := h.lk.callCount(); n != 5 {
		t.Errorf("%d lookups, want 5", n)
	}
	if s := h.state(room, ident); s != StateUnknown {
		t.Errorf("job still in table as %s", s)
	}
}

func TestInitialWaitCappedAtOneHour(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, ident, "d1", 3*time.Hour))
	h.advance(time.Hour - time.Second)
	if s := h.state(room, ident); s != StateWaitingForInitialConnect {
		t.Fatalf("state %s before the hour", s)
	}
	h.advance(2 * time.Second)
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), []time.Duration{time.Hour})
}

func TestLookupAloneConnects(t *testing.T) {
	h := newHarness(t, nil)
	h.lk.set(room, ident, true)
	h.add(h.params(room, ident, "d1", ten))
	if s := h.state(room, ident); s != StateConnected {
		t.Fatalf("state %s, want Connected", s)
	}
	if got := h.causes(1); got != "Added>Found" {
		t.Errorf("causes %s", got)
	}
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0))
}

func TestWebhooksOnlyWithoutLiveKit(t *testing.T) {
	h := newHarnessLK(t, func(c *Config) { c.SanityCheckInterval = time.Second }, false)
	h.add(h.params(room, ident, "d1", ten))
	h.advance(2 * time.Second)
	h.webhook(EventJoined, room, ident)
	h.advance(10 * time.Second)
	h.webhook(EventConnectionAborted, room, ident)
	if got, want := h.causes(1), "Added>Joined>ConnAborted>Sent"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(2, 10))
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(12))
	if n := h.lk.callCount(); n != 0 {
		t.Errorf("%d lookups without LiveKit", n)
	}
}

func TestLookupErrorsKeepPolling(t *testing.T) {
	h := newHarness(t, nil)
	h.lk.setErr(errTransport)
	h.add(h.params(room, ident, "d1", ten))
	h.advance(3 * time.Second) // polls at 0, 1, 2.5 fail
	h.lk.setErr(nil)
	h.lk.set(room, ident, true)
	h.advance(2 * time.Second) // poll at 4.75 finds it
	if s := h.state(room, ident); s != StateConnected {
		t.Fatalf("state %s, want Connected", s)
	}
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(4.75))
}

func TestAbortedBeforeConnectDoesNotSend(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, ident, "d1", ten))
	h.advance(time.Second)
	h.webhook(EventConnectionAborted, room, ident)
	h.advance(2 * time.Hour)
	if got, want := h.path(1), "WaitingForInitialConnect>Aborted"; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	if calls := h.hs.callsFor("", ""); len(calls) != 0 {
		t.Errorf("CS-API calls %v, want none", calls)
	}
}

func TestIgnoredInputs(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, ident, "d1", ten))
	// A left webhook while waiting (an earlier session leaving) and
	// webhooks for other participants change nothing.
	h.webhook(EventLeftIntentionally, room, ident)
	h.webhook(EventJoined, room, "someone-else")
	h.webhook(EventConnectionAborted, "other-room", ident)
	h.m.HandleWebhook(Event{Kind: EventUnknown, Room: room, Identity: ident})
	if s := h.state(room, ident); s != StateWaitingForInitialConnect {
		t.Fatalf("state %s", s)
	}
	h.webhook(EventJoined, room, ident)
	h.webhook(EventJoined, room, ident) // duplicate
	if got := h.path(1); got != "WaitingForInitialConnect>Connected" {
		t.Errorf("path %s", got)
	}
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0))
}

func TestLeaveAfterConnectSends(t *testing.T) {
	for _, kind := range []EventKind{EventLeftIntentionally, EventConnectionAborted} {
		t.Run(kind.String(), func(t *testing.T) {
			h := newHarness(t, nil)
			h.add(h.params(room, ident, "d1", ten))
			h.webhook(EventJoined, room, ident)
			h.advance(3 * time.Second)
			h.webhook(kind, room, ident)
			h.advance(time.Minute)
			if got, want := h.path(1), "WaitingForInitialConnect>Connected>Disconnected>Done"; got != want {
				t.Errorf("path %s, want %s", got, want)
			}
			checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0))
			checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(3))
		})
	}
}

func TestSanityMissSends(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SanityCheckInterval = 30 * time.Second })
	h.lk.set(room, ident, true)
	h.add(h.params(room, ident, "d1", ten))
	h.advance(31 * time.Second) // sanity at 30: present
	h.lk.setErr(errTransport)
	h.advance(30 * time.Second) // sanity at 60: error, ignored
	if s := h.state(room, ident); s != StateConnected {
		t.Fatalf("state %s after a failed sanity check", s)
	}
	h.lk.setErr(nil)
	h.lk.set(room, ident, false)
	h.advance(30 * time.Second) // sanity at 90: gone
	if got, want := h.causes(1), "Added>Found>NotListed>Sent"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(90))
	// a lookup in phase 1 at 0, listings of the room at 30, 60, 90.
	if n := h.lk.callCount(); n != 4 {
		t.Errorf("%d lookups, want 4", n)
	}
}

func TestNoSanityChecksWhenDisabled(t *testing.T) {
	h := newHarness(t, nil)
	h.lk.set(room, ident, true)
	h.add(h.params(room, ident, "d1", ten))
	h.lk.set(room, ident, false)
	h.advance(5 * time.Minute)
	if n := h.lk.callCount(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
	if s := h.state(room, ident); s != StateConnected {
		t.Errorf("state %s", s)
	}
}

func TestRestartsAtEightyPercent(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, ident, "d1", ten))
	h.webhook(EventJoined, room, ident)
	h.advance(40 * time.Second)
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0, 8, 16, 24, 32, 40))
	if s := h.state(room, ident); s != StateConnected {
		t.Errorf("state %s", s)
	}
}

func TestRestart404Aborts(t *testing.T) {
	h := newHarness(t, nil)
	h.hs.setReply(func(c csCall, n int) csReply {
		if c.action == "restart" && n == 1 {
			return csReply{status: 404, body: `{"errcode":"M_NOT_FOUND"}`}
		}
		return csReply{status: 200, body: "{}"}
	})
	h.add(h.params(room, ident, "d1", ten))
	h.webhook(EventJoined, room, ident)
	h.advance(time.Hour)
	if got, want := h.causes(1), "Added>Joined>RestartGone"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
	if got := h.path(1); !strings.HasSuffix(got, ">Aborted") {
		t.Errorf("path %s", got)
	}
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0, 8))
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), nil)
}

func TestRestartFailingPastDeadlineAborts(t *testing.T) {
	h := newHarness(t, nil)
	h.hs.setReply(func(c csCall, n int) csReply {
		if c.action == "restart" && n >= 1 {
			return csReply{status: 503}
		}
		return csReply{status: 200}
	})
	h.add(h.params(room, ident, "d1", ten))
	h.webhook(EventJoined, room, ident)
	h.advance(time.Hour)
	// OK at 0 (deadline 10); fails at 8, 9; the next retry (10.5) is past
	// the deadline: the event has fired, so nothing is sent.
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0, 8, 9))
	if got, want := h.causes(1), "Added>Joined>RestartFailed"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), nil)
}

func TestSend404IsDone(t *testing.T) {
	h := newHarness(t, nil)
	h.hs.setReply(func(c csCall, n int) csReply {
		if c.action == "send" {
			return csReply{status: 404, body: `{"errcode":"M_NOT_FOUND"}`}
		}
		return csReply{status: 200}
	})
	h.add(h.params(room, ident, "d1", ten))
	h.webhook(EventJoined, room, ident)
	h.webhook(EventLeftIntentionally, room, ident)
	h.advance(time.Hour)
	if got, want := h.causes(1), "Added>Joined>Left>Sent"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(0))
}

func TestSend5xxRetried(t *testing.T) {
	h := newHarness(t, nil)
	statuses := []int{500, 502, 503, 200}
	h.hs.setReply(func(c csCall, n int) csReply {
		if c.action == "send" {
			return csReply{status: statuses[min(n, len(statuses)-1)]}
		}
		return csReply{status: 200}
	})
	h.add(h.params(room, ident, "d1", ten))
	h.webhook(EventJoined, room, ident)
	h.advance(2 * time.Second)
	h.webhook(EventLeftIntentionally, room, ident)
	h.advance(time.Hour)
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(2, 3, 4.5, 6.75))
	if got, want := h.causes(1), "Added>Joined>Left>Sent"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
}

func TestSendGivesUp(t *testing.T) {
	h := newHarness(t, nil)
	h.hs.setReply(func(csCall, int) csReply { return csReply{status: 500} })
	h.add(h.params(room, ident, "d1", ten))
	h.advance(time.Hour)
	// Never connected: the event fires at 10 s anyway; the send gets the
	// minimum window of 1 s.
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(10, 11))
	if got, want := h.causes(1), "Added>WaitExpired>SendFailed"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
}

func TestRateLimitHonoured(t *testing.T) {
	cases := []struct {
		name  string
		reply func(now time.Time) csReply
		want  []time.Duration
	}{
		{"Retry-After seconds", func(time.Time) csReply {
			return csReply{status: 429, header: map[string]string{"Retry-After": "3"}}
		}, secs(0, 3)},
		{"Retry-After HTTP date", func(now time.Time) csReply {
			return csReply{status: 429, header: map[string]string{"Retry-After": now.Add(5 * time.Second).Format(http.TimeFormat)}}
		}, secs(0, 5)},
		{"retry_after_ms", func(time.Time) csReply {
			return csReply{status: 429, body: `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":2500}`}
		}, secs(0, 2.5)},
		{"header beats body", func(time.Time) csReply {
			return csReply{status: 429, header: map[string]string{"Retry-After": "4"}, body: `{"retry_after_ms":2500}`}
		}, secs(0, 4)},
		{"no hint: backoff", func(time.Time) csReply {
			return csReply{status: 429, body: `{"errcode":"M_LIMIT_EXCEEDED"}`}
		}, secs(0, 1)},
		{"hint shorter than backoff", func(time.Time) csReply {
			return csReply{status: 429, header: map[string]string{"Retry-After": "0"}}
		}, secs(0, 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.hs.setReply(func(c csCall, n int) csReply {
				if n == 0 {
					return tc.reply(c.at)
				}
				return csReply{status: 200}
			})
			h.add(h.params(room, ident, "d1", ten))
			h.webhook(EventJoined, room, ident)
			h.advance(6 * time.Second)
			checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), tc.want)
			if s := h.state(room, ident); s != StateConnected {
				t.Errorf("state %s", s)
			}
		})
	}
}

func TestRateLimitBeyondDeadlineAborts(t *testing.T) {
	h := newHarness(t, nil)
	h.hs.setReply(func(c csCall, n int) csReply {
		return csReply{status: 429, header: map[string]string{"Retry-After": "60"}}
	})
	h.add(h.params(room, ident, "d1", ten))
	h.webhook(EventJoined, room, ident)
	h.advance(time.Hour)
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0))
	if got, want := h.causes(1), "Added>Joined>RestartFailed"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
}

func TestActionRequestShape(t *testing.T) {
	h := newHarness(t, nil)
	hostile := "a/../b?c#d"
	p := h.params(room, ident, hostile, ten)
	p.CSAPIURL = h.hs.srv.URL + "/prefix/"
	h.add(p)
	h.webhook(EventJoined, room, ident)
	h.webhook(EventLeftIntentionally, room, ident)
	calls := h.hs.callsFor("", "")
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2: %+v", len(calls), calls)
	}
	for i, act := range []string{"restart", "send"} {
		c := calls[i]
		want := "/prefix/_matrix/client/unstable/org.matrix.msc4140/delayed_events/a%2F..%2Fb%3Fc%23d/" + act
		if c.uri != want {
			t.Errorf("URI %q, want %q", c.uri, want)
		}
		if c.method != http.MethodPost || c.contentType != "application/json" || c.body != "{}" || c.auth != "" {
			t.Errorf("%s: method %q content type %q body %q auth %q", act, c.method, c.contentType, c.body, c.auth)
		}
	}
}

func TestReplacementAffectsOnlyLatestJob(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, ident, "old", ten))
	h.webhook(EventJoined, room, ident)
	h.advance(3 * time.Second)
	h.add(h.params(room, ident, "new", ten))
	if got := h.path(1); got != "WaitingForInitialConnect>Connected>Replaced" {
		t.Errorf("old path %s", got)
	}
	if s := h.state(room, ident); s != StateWaitingForInitialConnect {
		t.Fatalf("new job state %s", s)
	}
	h.webhook(EventJoined, room, ident)
	h.advance(17 * time.Second)
	h.webhook(EventLeftIntentionally, room, ident)
	h.advance(time.Hour)
	checkOffsets(t, "old restarts", h.hs.callsFor("old", "restart"), secs(0))
	checkOffsets(t, "old sends", h.hs.callsFor("old", "send"), nil)
	checkOffsets(t, "new restarts", h.hs.callsFor("new", "restart"), secs(3, 11, 19))
	checkOffsets(t, "new sends", h.hs.callsFor("new", "send"), secs(20))
	if got := h.path(2); got != "WaitingForInitialConnect>Connected>Disconnected>Done" {
		t.Errorf("new path %s", got)
	}
}

func TestReplacementDuringSendCancelsIt(t *testing.T) {
	h := newHarness(t, nil)
	h.hs.setReply(func(c csCall, n int) csReply {
		if c.delayID == "old" && c.action == "send" {
			return csReply{status: 502}
		}
		return csReply{status: 200}
	})
	h.add(h.params(room, ident, "old", ten))
	h.webhook(EventJoined, room, ident)
	h.webhook(EventLeftIntentionally, room, ident) // send at 0 fails; retry due at 1
	h.add(h.params(room, ident, "new", ten))
	h.advance(time.Minute)
	checkOffsets(t, "old sends", h.hs.callsFor("old", "send"), secs(0))
	if got := h.causes(1); got != "Added>Joined>Left>Replaced" {
		t.Errorf("old causes %s", got)
	}
}

func TestIndependentJobs(t *testing.T) {
	h := newHarness(t, nil)
	h.add(h.params(room, "alice", "da", ten))
	h.add(h.params(room, "bob", "db", 20*time.Second))
	h.webhook(EventJoined, room, "alice")
	h.webhook(EventJoined, room, "bob")
	h.advance(5 * time.Second)
	h.webhook(EventLeftIntentionally, room, "alice")
	h.advance(35 * time.Second)
	checkOffsets(t, "alice restarts", h.hs.callsFor("da", "restart"), secs(0))
	checkOffsets(t, "alice sends", h.hs.callsFor("da", "send"), secs(5))
	checkOffsets(t, "bob restarts", h.hs.callsFor("db", "restart"), secs(0, 16, 32))
	checkOffsets(t, "bob sends", h.hs.callsFor("db", "send"), nil)
	if s := h.state(room, "bob"); s != StateConnected {
		t.Errorf("bob %s", s)
	}
	if s := h.state(room, "alice"); s != StateUnknown {
		t.Errorf("alice %s", s)
	}
}
