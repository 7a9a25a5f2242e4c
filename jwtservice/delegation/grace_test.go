package delegation

import (
	"context"
	"testing"
	"time"
)

const grace = 3 * time.Second

func withGrace(c *Config) {
	c.ReconnectGrace = grace
	c.SanityCheckInterval = 5 * time.Second
}

// TestGraceThenSend: a participant that vanishes without leaving is sent
// its leave once the grace is over and a last lookup still misses it.
func TestGraceThenSend(t *testing.T) {
	h := newHarness(t, withGrace)
	h.lk.set(room, ident, true)
	h.add(h.params(room, ident, "d1", time.Hour))
	h.lk.set(room, ident, false)
	h.advance(5 * time.Second) // sanity at 5: gone
	if s := h.state(room, ident); s != StateDeparting {
		t.Fatalf("state %s after a sanity miss, want Departing", s)
	}
	h.advance(grace)
	if got, want := h.causes(1), "Added>Found>NotListed>Gone>Sent"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(8))
	rep, err := h.m.Report(context.Background())
	if err != nil || len(rep.Jobs) != 0 || len(rep.Sent) != 1 || rep.Sent[0].Reason != "NotListed" || rep.Sent[0].Result != "sent" {
		t.Errorf("report %+v %v", rep, err)
	}
}

// TestReconnectWithinGraceKeeps: an aborted connection that comes back
// within the grace (webhook or last lookup) keeps the job and sends nothing.
func TestReconnectWithinGraceKeeps(t *testing.T) {
	h := newHarness(t, withGrace)
	h.add(h.params(room, ident, "d1", time.Hour))
	h.webhook(EventJoined, room, ident)
	h.lk.set(room, ident, true)
	h.webhook(EventConnectionAborted, room, ident)
	h.advance(time.Second)
	h.webhook(EventJoined, room, ident) // back by webhook
	h.webhook(EventConnectionAborted, room, ident)
	h.advance(grace) // back by the last lookup
	h.advance(time.Minute)
	if s := h.state(room, ident); s != StateConnected {
		t.Fatalf("state %s, want Connected", s)
	}
	if n := len(h.hs.callsFor("d1", "send")); n != 0 {
		t.Fatalf("%d sends for a participant that reconnected", n)
	}
	if got, want := h.causes(1), "Added>Joined>ConnAborted>Joined>ConnAborted>Found"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
}

// TestGraceKeepsRestarting: a short delayed event does not fire during the
// grace.
func TestGraceKeepsRestarting(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ReconnectGrace = 30 * time.Second })
	h.add(h.params(room, ident, "d1", ten))
	h.webhook(EventJoined, room, ident)
	h.webhook(EventConnectionAborted, room, ident)
	h.advance(31 * time.Second)
	checkOffsets(t, "restarts", h.hs.callsFor("d1", "restart"), secs(0, 8, 16, 24))
	checkOffsets(t, "sends", h.hs.callsFor("d1", "send"), secs(30))
}

// TestObservationReplacesPolling: a room another poller lists is not looked
// up by the jobs in it, and an absence it saw starts the grace.
func TestObservationReplacesPolling(t *testing.T) {
	h := newHarness(t, withGrace)
	h.add(h.params(room, ident, "d1", time.Hour))
	h.m.ObserveRoom(room, []string{ident, "someone-else"}, h.clock.Now())
	h.settle()
	if s := h.state(room, ident); s != StateConnected {
		t.Fatalf("state %s after an observation that lists the participant", s)
	}
	lookups := h.lk.callCount()
	for range 4 {
		h.advance(4 * time.Second)
		h.m.ObserveRoom(room, []string{ident}, h.clock.Now())
		h.settle()
	}
	if n := h.lk.callCount(); n != lookups {
		t.Errorf("%d own lookups while the room was observed every 4 s", n-lookups)
	}
	h.m.ObserveRoom(room, nil, h.clock.Now().Add(-time.Minute)) // older than what we know: ignored
	h.advance(time.Second)
	h.m.ObserveRoom(room, []string{"someone-else"}, h.clock.Now())
	h.advance(grace)
	if got, want := h.causes(1), "Added>Found>NotListed>Gone>Sent"; got != want {
		t.Errorf("causes %s, want %s", got, want)
	}
}

// TestReloadAfterRestart: jobs survive the manager through the SQLite
// store; a participant that went away while it was down gets its leave
// sent right after the start, one still there keeps its job, one never
// seen keeps waiting.
func TestReloadAfterRestart(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	useStore := func(c *Config) { withGrace(c); c.Store = st }
	h := newHarness(t, useStore)
	h.lk.set(room, "stays", true)
	h.lk.set(room, "goes", true)
	for _, id := range []string{"stays", "goes", "never"} {
		p := h.params(room, id, "d-"+id, time.Hour)
		p.UserID, p.DeviceID = "@u:x", "DEV-"+id
		h.add(p)
	}
	h.advance(time.Second)
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	saved, err := st.Load(context.Background())
	if err != nil || len(saved) != 3 {
		t.Fatalf("stored %d jobs (%v), want 3", len(saved), err)
	}

	// The reloaded jobs are looked up at once: LiveKit must already show
	// "stays" then (setting it after Run began raced the first lookup).
	h2 := newHarness(t, useStore, func(h2 *harness) { h2.lk.set(room, "stays", true) })
	h2.hs = h.hs // the same homeserver
	h2.settle()
	for id, want := range map[string]State{"stays": StateConnected, "goes": StateDeparting, "never": StateWaitingForInitialConnect} {
		if s := h2.state(room, id); s != want {
			t.Errorf("%s: state %s after reload, want %s", id, s, want)
		}
	}
	h2.advance(grace)
	if n := len(h.hs.callsFor("d-goes", "send")); n != 1 {
		t.Errorf("%d sends for the participant gone while we were down, want 1", n)
	}
	if n := len(h.hs.callsFor("d-stays", "send")); n != 0 {
		t.Errorf("%d sends for the participant still there", n)
	}
	rep, err := h2.m.Report(context.Background())
	if err != nil || len(rep.Jobs) != 2 || rep.Jobs[0].DeviceID != "DEV-never" || rep.Jobs[0].DelayMS != 3600000 {
		t.Errorf("report %+v %v", rep, err)
	}
	saved, _ = st.Load(context.Background())
	if len(saved) != 2 {
		t.Errorf("%d jobs stored after the send, want 2", len(saved))
	}
}

// TestSanityListsEachRoomOnce: the phase-2 checks of a room's jobs share
// one listing per interval, and a failed listing gets retried.
func TestSanityListsEachRoomOnce(t *testing.T) {
	h := newHarness(t, withGrace)
	for _, id := range []string{"a", "b", "c"} {
		h.lk.set(room, id, true)
		h.add(h.params(room, id, "d-"+id, time.Hour))
	}
	h.lk.set("room-2", "d", true)
	h.add(h.params("room-2", "d", "d-d", time.Hour))
	h.advance(5 * time.Second)
	if n := h.lk.listCount(); n != 2 {
		t.Errorf("%d listings for two rooms, want 2", n)
	}
	h.lk.setErr(errTransport)
	h.advance(5 * time.Second)
	h.lk.setErr(nil)
	h.lk.set(room, "b", false)
	h.advance(5 * time.Second)
	if n := h.lk.listCount(); n != 6 {
		t.Errorf("%d listings after three intervals, want 6", n)
	}
	for id, want := range map[string]State{"a": StateConnected, "b": StateDeparting, "c": StateConnected} {
		if s := h.state(room, id); s != want {
			t.Errorf("%s: %s, want %s", id, s, want)
		}
	}
}
