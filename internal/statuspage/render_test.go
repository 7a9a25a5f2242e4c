package statuspage

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

const hostile = `<script>alert(1)</script>"'><img src=x onerror=alert(2)> javascript:alert(3)`

// fullView has one of everything, every string set to s.
func fullView(s string) View {
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	v := View{
		Now: now, Started: now.Add(-26 * time.Hour), Refresh: DefaultRefresh,
		Health: []Health{{OK: true}, {}},
		Calls: []Call{{
			Dialects: []string{""}, Features: []string{""},
			Seats: []Seat{{DelayedLeave: true, JoinedAt: now.Add(-time.Minute), LastWrite: now.Add(-3 * time.Second),
				LastRestart: now.Add(-2 * time.Second), RestartFailures: 3}},
			Members: []Member{{ExpiresAt: now.Add(5 * time.Minute), KeysHeld: []int{0, 1}, Ours: true},
				{ExpiresAt: now.Add(-time.Second)}},
			Keys: []KeyHolder{{Current: 1, Keys: []Key{{Index: 0, Arrived: now.Add(-time.Minute)}, {Index: 1, Arrived: now}}}},
		}},
		Direct:       []DirectCall{{Since: now.Add(-time.Minute), EndsBy: now.Add(9 * time.Minute)}, {Since: now}},
		DirectActive: 1, DirectMax: 50,
		Recordings:      []Recording{{Started: now.Add(-time.Hour), Duration: 90 * time.Second, Bytes: 3 << 20}},
		Refusals:        []Refusal{{At: now}},
		Enforcement:     []Action{{At: now}},
		Delegations:     []Delegation{{Delay: 10 * time.Second, AddedAt: now}},
		DelegationsSent: []DelegationSent{{At: now}},
	}
	setStrings(reflect.ValueOf(&v).Elem(), s)
	return v
}

// setStrings sets every string reachable in v (fields, slice elements),
// so that no field the template shows is left out of the tests.
func setStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range v.NumField() {
			if !strings.HasSuffix(v.Type().Field(i).Name, "Unavailable") { // those hide their section
				setStrings(v.Field(i), s)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			setStrings(v.Index(i), s)
		}
	}
}

func render(t testing.TB, v View) string {
	t.Helper()
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Page(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// checkEscaped fails unless the page of fullView("x"+s) has exactly the
// markup of the page of a harmless string: every '<' and '"' it has is the
// template's own, none came from the data, and no script element exists.
// (The "x" keeps the same sections and cells shown: empty strings hide
// some.)
func checkEscaped(t testing.TB, s string) string {
	t.Helper()
	page, plain := render(t, fullView("x"+s)), render(t, fullView("x"))
	for _, c := range []string{"<", ">", `"`, "'"} {
		if strings.Count(page, c) != strings.Count(plain, c) {
			t.Fatalf("data %q added %q to the markup (%d, not %d):\n%s", s, c, strings.Count(page, c), strings.Count(plain, c), page)
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Fatalf("a script element from %q:\n%s", s, page)
	}
	return page
}

func TestPageEscapesHostileData(t *testing.T) {
	page := checkEscaped(t, hostile)
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the hostile text is not shown as text:\n%s", page)
	}
	// The 1:1 calls' section shows its hostile strings as text.
	from, to := strings.Index(page, `<section id="direct">`), strings.Index(page, `<section id="recordings">`)
	if from < 0 || to < from {
		t.Fatalf("no 1:1 calls' section before the recordings:\n%s", page)
	}
	if direct := page[from:to]; strings.Count(direct, "&lt;script&gt;alert(1)&lt;/script&gt;") < 8 { // 2 calls × caller, room, device, state; the mode
		t.Errorf("1:1 calls' section lacks its escaped data:\n%s", direct)
	}
	for _, attr := range []string{`href="javascript`, `src="javascript`, `action="javascript`, "<img"} {
		if strings.Contains(page, attr) {
			t.Fatalf("%s in the page", attr)
		}
	}
	for _, want := range []string{`<meta http-equiv="refresh" content="5">`, `href="?refresh=0"`, "up 26h00m",
		"in 5m00s", "1s ago", "1 answered of at most 50", "in 9m00s", "(this coordinator)", "restarted 2s ago", "3 restarts failed", "#0 1m00s ago", "3.0 MiB", "1m30s"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestPageEmptyAndUnavailable(t *testing.T) {
	now := time.Now()
	page := render(t, View{Now: now, Started: now, Refresh: 0})
	for _, want := range []string{"no calls", "no 1:1 calls", "no recordings", "no refusals", "no enforcement actions", "no delegated leaves held",
		"paused", `href="./"`} {
		if !strings.Contains(page, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
	if strings.Contains(page, `http-equiv="refresh"`) {
		t.Error("a paused page refreshes")
	}
	page = render(t, View{Now: now, Started: now, CallsUnavailable: "tracker did not answer",
		RecordingsUnavailable: "r", RefusalsUnavailable: "k", DelegationsUnavailable: "d", EnforcementUnavailable: "enforcement is off",
		DirectUnavailable: "calls.direct is ignore"})
	for _, want := range []string{"calls.direct is ignore", "unavailable: tracker did not answer", "unavailable: r", "unavailable: k", "unavailable: d", "enforcement is off"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "no calls") {
		t.Error("unavailable calls shown as none")
	}
	page = render(t, View{Now: now, Started: now, CallsUnavailable: hostile, RecordingsUnavailable: hostile,
		RefusalsUnavailable: hostile, DelegationsUnavailable: hostile, EnforcementUnavailable: hostile, DirectUnavailable: hostile})
	if strings.Contains(page, "<script") || strings.Count(page, "&lt;script&gt;") != 6 {
		t.Errorf("unavailable notes not escaped:\n%s", page)
	}
}

func TestHandlerHeadersAndRefresh(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	h := r.Handler(func(context.Context) View { return fullView(hostile) })
	for target, want := range map[string]string{"/admin/": `content="5"`, "/admin/?refresh=0": "paused", "/admin/?refresh=x": `content="5"`} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d, lacks %q", target, w.Code, want)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") {
			t.Errorf("%s: CSP %q", target, csp)
		}
		if w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: headers %v", target, w.Header())
		}
	}
	w := httptest.NewRecorder()
	r.LoginFailed(w, nil, http.StatusUnauthorized)
	if w.Code != 401 || !strings.Contains(w.Body.String(), "not the admin token") || !strings.Contains(w.Body.String(), `name="token"`) {
		t.Errorf("failed login: %d\n%s", w.Code, w.Body)
	}
}

// FuzzPageEscapes: whatever strings the data holds, the page's markup is
// the template's alone.
func FuzzPageEscapes(f *testing.F) {
	for _, s := range []string{hostile, "", "<", `"`, "</title><script>", "javascript:x", "\x00<\xff", "<!--", "]]>", "&lt;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkEscaped(t, s) })
}
