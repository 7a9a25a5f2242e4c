package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// probeDelay is far above any sensible max_event_delay_duration (ten
// years), so the homeserver refuses it and names its maximum.
const probeDelay = 10 * 365 * 24 * time.Hour

// Element Call's default delayed_leave_event_delay_ms: clients need at
// least this much too.
const clientLeaveDelay = 10 * time.Second

// maxDelayText is how Synapse (1.160) says its maximum: "The requested
// delay (Nms) exceeds the allowed maximum (Mms)".
var maxDelayText = regexp.MustCompile(`allowed maximum \((\d{1,15})\s*ms\)`)

func (d *Doctor) checkDelayedEvents(ctx context.Context) {
	if d.versions == nil {
		d.skip("delayed_events", "the homeserver's /versions was not read")
		return
	}
	const fixOn = "enable delayed events (MSC4140) on the homeserver: Synapse `max_event_delay_duration: 24h` in homeserver.yaml; without them a client that dies stays in the call"
	if !d.versions.Unstable["org.matrix.msc4140"] {
		d.add("delayed_events", StatusFail, "/versions does not advertise org.matrix.msc4140 (delayed events)", fixOn)
		return
	}
	if d.token().IsZero() {
		d.add("delayed_events", StatusOK, "org.matrix.msc4140 advertised; its maximum delay needs --config (a logged-in probe) to read", "")
		return
	}
	maxDelay, found, ok := d.probeMaxDelay(ctx)
	if !ok {
		if maxDelay == 0 && strings.Contains(found, "disallowed") {
			d.add("delayed_events", StatusFail, found, fixOn)
			return
		}
		d.add("delayed_events", StatusWarn, "org.matrix.msc4140 advertised, but the maximum delay is unknown: "+found, "check max_event_delay_duration in homeserver.yaml")
		return
	}
	need, key := clientLeaveDelay, "Element Call's default delayed leave"
	if dep := d.cfg.Deployment; dep != nil {
		keys := make([]string, 0, len(dep.Delays))
		for k := range dep.Delays {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if dep.Delays[k] > need {
				need, key = dep.Delays[k], k
			}
		}
	}
	if maxDelay < need {
		d.add("delayed_events", StatusWarn, fmt.Sprintf("max_event_delay_duration is %s, shorter than the %s of %s: those delayed leaves are refused", maxDelay, need, key),
			"raise max_event_delay_duration in homeserver.yaml (24h is common)")
		return
	}
	d.add("delayed_events", StatusOK, fmt.Sprintf("org.matrix.msc4140 on; max_event_delay_duration %s (≥ %s, %s)", found, need, key), "")
}

// probeMaxDelay asks to schedule an event ten years ahead in a room that
// does not exist: Synapse checks the delay first and names its maximum;
// a homeserver with no maximum below that fails on the room, so nothing
// is scheduled (and anything that is gets cancelled).
func (d *Doctor) probeMaxDelay(ctx context.Context) (time.Duration, string, bool) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	server := d.cfg.ServerName
	if _, s, ok := strings.Cut(d.cfg.Deployment.BotUserID, ":"); ok {
		server = s
	}
	room := "!switchboard-doctor-" + hex.EncodeToString(rnd[:]) + ":" + server
	u := fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/org.switchboard.doctor/%s?org.matrix.msc4140.delay=%d",
		d.hsURL, url.PathEscape(room), hex.EncodeToString(rnd[:]), probeDelay.Milliseconds())
	a, err := d.hc.do(ctx, request{Method: http.MethodPut, URL: u, Body: []byte("{}"), Token: d.token()})
	if err != nil {
		return 0, err.Error(), false
	}
	var body struct {
		Errcode  string          `json:"errcode"`
		Error    string          `json:"error"`
		MaxDelay json.RawMessage `json:"org.matrix.msc4140.max_delay"`
		DelayID  string          `json:"delay_id"`
	}
	_ = json.Unmarshal(a.Body, &body)
	if len(body.MaxDelay) > 0 { // the older unstable form
		if ms, err := strconv.ParseInt(string(body.MaxDelay), 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond, (time.Duration(ms) * time.Millisecond).String(), true
		}
	}
	if m := maxDelayText.FindStringSubmatch(body.Error); m != nil {
		ms, _ := strconv.ParseInt(m[1], 10, 64)
		return time.Duration(ms) * time.Millisecond, (time.Duration(ms) * time.Millisecond).String(), true
	}
	switch {
	case a.Status == http.StatusOK && body.DelayID != "":
		d.cancelDelayed(ctx, body.DelayID)
		return probeDelay, "no maximum below ten years (the probe was scheduled, and cancelled)", true
	case a.Status == http.StatusNotFound || body.Errcode == "M_NOT_FOUND":
		return probeDelay, "no maximum below ten years (the probe's delay was accepted)", true
	case strings.Contains(body.Error, "disallowed"):
		return 0, "sending delayed events is disallowed: " + a.describe(), false
	}
	return 0, a.describe(), false
}

func (d *Doctor) cancelDelayed(ctx context.Context, id string) {
	u := d.hsURL + "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/" + url.PathEscape(id) + "/cancel"
	_, _ = d.hc.do(ctx, request{Method: http.MethodPost, URL: u, Body: []byte("{}"), Token: d.token()})
}

func (d *Doctor) checkTURN(ctx context.Context) {
	if d.hsURL == "" {
		d.skip("turn", "no homeserver URL")
		return
	}
	if d.token().IsZero() {
		d.skip("turn", "/voip/turnServer needs a login: run with --config")
		return
	}
	u := d.hsURL + "/_matrix/client/v3/voip/turnServer"
	a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: u, Token: d.token()})
	if err != nil {
		d.add("turn", StatusWarn, "GET "+u+": "+err.Error(), "")
		return
	}
	// The answer carries TURN credentials: only the URIs are reported.
	var t struct {
		URIs []string `json:"uris"`
		TTL  int64    `json:"ttl"`
	}
	const fix = "configure TURN on the homeserver (Synapse: turn_uris and turn_shared_secret, e.g. with coturn); LiveKit's own TURN (livekit.yaml turn:) covers calls through the SFU"
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &t) != nil {
		d.add("turn", StatusWarn, "GET /voip/turnServer: "+a.describe(), fix)
		return
	}
	if len(t.URIs) == 0 {
		d.add("turn", StatusWarn, "the homeserver offers no TURN server: 1:1 and mesh calls between peers behind NAT will fail", fix)
		return
	}
	var uris []string
	for i, u := range t.URIs {
		if i == 5 {
			uris = append(uris, "…")
			break
		}
		uris = append(uris, quote(u, 100))
	}
	d.add("turn", StatusOK, fmt.Sprintf("%d TURN URIs (%s), credentials for %ds", len(t.URIs), strings.Join(uris, ", "), t.TTL), "")
}

func (d *Doctor) checkDataDir() {
	dep := d.cfg.Deployment
	if dep == nil || dep.DataDir == "" {
		d.skip("data_dir", "needs --config")
		return
	}
	f, err := os.CreateTemp(dep.DataDir, ".doctor-*")
	if err != nil {
		d.add("data_dir", StatusFail, "cannot create a file in "+dep.DataDir+": "+err.Error(),
			"create data_dir and make it writable by the coordinator's user (it holds the bot's session, Olm keys and delegated leaves)")
		return
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		d.add("data_dir", StatusFail, "cannot remove "+name+": "+err.Error(), "make data_dir writable by the coordinator's user")
		return
	}
	d.add("data_dir", StatusOK, dep.DataDir+" is writable", "")
}
