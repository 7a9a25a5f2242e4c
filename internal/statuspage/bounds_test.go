package statuspage

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// busyView has calls calls of members members each.
func busyView(calls, members int) View {
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	v := View{Now: now, Started: now.Add(-time.Hour), Refresh: DefaultRefresh}
	for i := range calls {
		c := Call{RoomID: fmt.Sprintf("!room%d:example.org", i), Dialects: []string{"matrixrtc"}, Engine: "livekit",
			EngineState: "connected", Decision: "joined"}
		for j := range members {
			user := fmt.Sprintf("@user%d:example.org", j)
			c.Members = append(c.Members, Member{UserID: user, DisplayName: "User", DeviceID: "DEVICE",
				Dialect: "matrixrtc", MembershipID: "m", ExpiresAt: now.Add(time.Minute), KeysHeld: []int{0}})
			c.Keys = append(c.Keys, KeyHolder{Identity: user + ":DEVICE", Current: 0, Keys: []Key{{Index: 0, Arrived: now}}})
		}
		v.Calls = append(v.Calls, c)
	}
	return v
}

// TestPageBounds: a busy server's page shows MaxCalls calls of MaxMembers
// members and says how many more there are; the view given is unchanged.
func TestPageBounds(t *testing.T) {
	v := busyView(MaxCalls+7, MaxMembers+3)
	page := render(t, v)
	if n := strings.Count(page, `<div class="call">`); n != MaxCalls {
		t.Errorf("%d calls shown, want %d", n, MaxCalls)
	}
	if !strings.Contains(page, "and 7 more calls, not shown") || !strings.Contains(page, "and 3 more members, not shown") {
		t.Error("the page does not say what it left out")
	}
	if strings.Count(page, "@user"+fmt.Sprint(MaxMembers)+":") != 0 {
		t.Error("a member past MaxMembers is shown")
	}
	if len(v.Calls) != MaxCalls+7 || len(v.Calls[0].Members) != MaxMembers+3 {
		t.Error("rendering changed the caller's view")
	}
	if page := render(t, busyView(2, 2)); strings.Contains(page, "not shown") {
		t.Error("a small page says it left something out")
	}
}

// BenchmarkPage renders the page of a busy server: 100 calls of 20
// members each (with their keys).
func BenchmarkPage(b *testing.B) {
	r, err := New()
	if err != nil {
		b.Fatal(err)
	}
	v := busyView(100, 20)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := r.Page(&buf, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
