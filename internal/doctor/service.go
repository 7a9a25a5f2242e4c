package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// healthDetail is the part of a Switchboard's /healthz?detail=1 read here.
type healthDetail struct {
	Status string `json:"status"`
	SFU    *struct {
		State     string `json:"state"`
		LastError string `json:"last_error"`
	} `json:"sfu"`
	Webhooks *webhookDetail `json:"webhooks"`
}

type webhookDetail struct {
	Received    int64  `json:"received"`
	LastAt      string `json:"last_at"`
	Refused     int64  `json:"refused"`
	LastRefused string `json:"last_refused_at"`
	LastProbe   string `json:"last_probe"`
}

// A deliberately invalid token request ({}) is answered by the service
// itself with one of these (lk-jwt-service and Switchboard alike).
var invalidRequestCodes = []string{"M_BAD_JSON", "M_NOT_JSON", "M_MISSING_PARAM", "M_INVALID_PARAM", "M_UNAUTHORIZED"}

func isServiceRefusal(a *answer) bool {
	me, ok := a.matrixErr()
	return ok && a.Status >= 400 && a.Status < 500 && slices.Contains(invalidRequestCodes, me.Errcode)
}

// commonPrefix is where the documentation puts the service behind a proxy.
const commonPrefix = "/livekit/jwt"

func (d *Doctor) checkService(ctx context.Context) {
	names := []string{"service_healthz", "service_sfu_get", "service_get_token", "service_cors"}
	if d.service == "" {
		for _, n := range names {
			d.skip(n, "no livekit_service_url to check")
		}
		return
	}
	su, _ := checkURL(d.service)
	u := d.service + "/healthz"
	a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: u, NoRedir: true})
	if err != nil {
		d.add("service_healthz", StatusFail, "GET "+u+httpNote(su)+": "+err.Error(),
			"run the coordinator and make "+d.service+" reach it (the URL clients are told must be reachable from their browsers)")
		for _, n := range names[1:] {
			d.skip(n, "the service URL does not answer")
		}
		return
	}
	healthStep := -1
	if a.Status == http.StatusOK {
		d.add("service_healthz", StatusOK, "GET "+u+httpNote(su)+": 200"+d.readDetail(ctx), "")
	} else {
		found, fix := d.misroute(ctx, su, "/healthz", a, http.MethodGet)
		healthStep = len(d.report.Steps)
		d.add("service_healthz", StatusFail, found, fix)
	}
	// Clients need only the token endpoints: when they answer, a /healthz
	// the proxy does not route is a monitoring problem, not a failure.
	defer func() {
		if healthStep >= 0 && d.serviceOK {
			st := &d.report.Steps[healthStep]
			st.Status = StatusWarn
			st.Found += " (the token endpoints answer, so clients work; monitoring of /healthz does not)"
		}
	}()

	a, err = d.probe(ctx, d.service+"/sfu/get")
	switch {
	case err != nil:
		d.add("service_sfu_get", StatusFail, "POST "+d.service+"/sfu/get: "+err.Error(), "check the proxy's route for "+su.Path+"/sfu/get")
	case isServiceRefusal(a):
		d.serviceOK = true
		d.add("service_sfu_get", StatusOK, "POST /sfu/get {} → "+a.describe()+": the service itself answers", "")
	case a.Status == http.StatusTooManyRequests:
		d.serviceOK = true
		d.add("service_sfu_get", StatusWarn, "POST /sfu/get → "+a.describe(), "the service rate-limits the doctor's address: try again later, or raise http.rate_limit")
	default:
		found, fix := d.misroute(ctx, su, "/sfu/get", a, http.MethodPost)
		d.add("service_sfu_get", StatusFail, found, fix)
	}
	postACAO := ""
	if a != nil {
		postACAO = a.Header.Get("Access-Control-Allow-Origin")
	}

	g, err := d.probe(ctx, d.service+"/get_token")
	switch {
	case err != nil:
		d.add("service_get_token", StatusFail, "POST "+d.service+"/get_token: "+err.Error(), "check the proxy's route for "+su.Path+"/get_token")
	case isServiceRefusal(g) || g.Status == http.StatusTooManyRequests:
		d.add("service_get_token", StatusOK, "POST /get_token {} → "+g.describe(), "")
	case d.serviceOK && g.Status == http.StatusNotFound:
		d.add("service_get_token", StatusWarn, "POST /get_token → "+g.describe()+": the service predates MSC4195's /get_token (lk-jwt-service before v0.4); clients fall back to /sfu/get",
			"update the JWT service (or run Switchboard's coordinator)")
	default:
		found, fix := d.misroute(ctx, su, "/get_token", g, http.MethodPost)
		d.add("service_get_token", StatusFail, found, fix)
	}

	if !d.serviceOK {
		d.skip("service_cors", "the token endpoints are not reached (see service_sfu_get)")
		return
	}
	d.checkCORS(ctx, postACAO)
}

// probe POSTs the deliberately invalid request {} as a browser would.
func (d *Doctor) probe(ctx context.Context, u string) (*answer, error) {
	return d.hc.do(ctx, request{Method: http.MethodPost, URL: u, Body: []byte("{}"), Header: map[string]string{"Origin": browserOrigin}})
}

// readDetail reads a Switchboard's /healthz?detail=1; other services
// (lk-jwt-service) have none.
func (d *Doctor) readDetail(ctx context.Context) string {
	a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: d.service + "/healthz?detail=1"})
	if err != nil || a.Status != http.StatusOK {
		return " (no /healthz?detail=1: not Switchboard, or an older one)"
	}
	var h healthDetail
	if json.Unmarshal(a.Body, &h) != nil || h.Status != "ok" || h.Webhooks == nil {
		return " (no Switchboard detail in /healthz?detail=1)"
	}
	d.switchbd = &h
	s := " (Switchboard"
	if h.SFU != nil {
		s += "; its LiveKit API check: " + quote(h.SFU.State, 20)
	}
	return s + ")"
}

// misroute explains an answer that is not the service's own: a proxy that
// keeps (or strips the wrong) prefix, a URL that points at the homeserver
// or at something else.
func (d *Doctor) misroute(ctx context.Context, su *url.URL, endpoint string, a *answer, method string) (found, fix string) {
	full := su.Path + endpoint
	found = method + " " + full + " → " + a.describe()
	stripFix := fmt.Sprintf("make the proxy strip the prefix: nginx `location %s/ { proxy_pass http://127.0.0.1:8080/; }` (the trailing slash strips it), Caddy `handle_path %s/* { reverse_proxy 127.0.0.1:8080 }`", su.Path, su.Path)
	me, isMatrix := a.matrixErr()
	if hu, err := url.Parse(d.hsURL); err == nil && d.hsURL != "" && hu.Host == su.Host && strings.TrimRight(hu.Path, "/") == su.Path {
		return found + ": livekit_service_url points at the homeserver, not at the JWT service",
			"set livekit_service_url (in " + WellKeyFoci + " and matrix_rtc.transports) to the coordinator's public URL, e.g. https://matrix-rtc." + d.cfg.ServerName + commonPrefix
	}
	if isMatrix && me.Errcode == "M_UNRECOGNIZED" {
		return found + ": a Matrix homeserver answers there, not the JWT service",
			"set livekit_service_url to the coordinator's public URL, e.g. https://matrix-rtc." + d.cfg.ServerName + commonPrefix
	}
	if a.Status == http.StatusNotFound {
		origin := su.Scheme + "://" + su.Host
		if su.Path != "" {
			// The service behind a proxy that forwards the path unchanged
			// answers at the origin's root when the proxy passes that on.
			if b, err := d.retry(ctx, origin+endpoint, method); err == nil && b {
				return found + fmt.Sprintf(": the proxy forwards %s unchanged (the prefix %s is kept): the service answers only %s", full, su.Path, endpoint), stripFix
			}
			if a.isGo404() {
				return found + fmt.Sprintf(": a Go server (the service, by its 404) does not know %s: the proxy keeps the prefix %s, or strips the wrong part of it", full, su.Path), stripFix
			}
		} else if b, err := d.retry(ctx, origin+commonPrefix+endpoint, method); err == nil && b {
			return found + fmt.Sprintf(": the service answers at %s%s: livekit_service_url lacks the path %s", origin, commonPrefix, commonPrefix),
				"set livekit_service_url to " + origin + commonPrefix
		}
	}
	switch {
	case a.Status >= 300 && a.Status < 400:
		return found + " to " + quote(a.Header.Get("Location"), 200) + ": clients POST here and a redirect loses the request",
			"put the final URL in livekit_service_url (e.g. https, with or without the trailing slash as the proxy wants)"
	case a.Status == http.StatusBadGateway || a.Status == http.StatusServiceUnavailable || a.Status == http.StatusGatewayTimeout:
		return found + ": the proxy cannot reach the service", "start the coordinator, and point the proxy at its http.bind address"
	case isMatrix:
		return found + ": a Matrix API answers, but not as the JWT service does", "set livekit_service_url to the coordinator's public URL"
	}
	return found + ": not the JWT service (which answers an invalid request with a Matrix error such as M_BAD_JSON)",
		"set livekit_service_url to the coordinator's public URL (e.g. https://matrix-rtc." + d.cfg.ServerName + commonPrefix + "), and route it to the coordinator with the prefix stripped"
}

// retry asks u the same way and reports whether the service answered it.
func (d *Doctor) retry(ctx context.Context, u, method string) (bool, error) {
	var a *answer
	var err error
	if method == http.MethodGet {
		a, err = d.hc.do(ctx, request{Method: http.MethodGet, URL: u})
		return err == nil && a.Status == http.StatusOK && len(a.Body) == 0, err
	}
	a, err = d.probe(ctx, u)
	return err == nil && isServiceRefusal(a), err
}

// checkCORS sends the preflight a browser sends before Element Call's POST
// of JSON to /sfu/get, and checks the answer permits it.
func (d *Doctor) checkCORS(ctx context.Context, postACAO string) {
	u := d.service + "/sfu/get"
	a, err := d.hc.do(ctx, request{Method: http.MethodOptions, URL: u, Header: map[string]string{
		"Origin": browserOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
	}})
	fix := "let the service's CORS headers through the proxy (it sends Access-Control-Allow-Origin: *, -Methods: POST, -Headers: ... Content-Type ...; do not drop or override them, and pass OPTIONS through)"
	if err != nil {
		d.add("service_cors", StatusFail, "OPTIONS "+u+": "+err.Error(), fix)
		return
	}
	h := a.Header
	var bad []string
	if a.Status < 200 || a.Status > 299 {
		bad = append(bad, fmt.Sprintf("status %d (a preflight needs 2xx)", a.Status))
	}
	if o := h.Get("Access-Control-Allow-Origin"); o != "*" && o != browserOrigin {
		bad = append(bad, "Access-Control-Allow-Origin "+quote(o, 80))
	}
	if m := h.Values("Access-Control-Allow-Methods"); !listHas(m, "POST") {
		bad = append(bad, "Access-Control-Allow-Methods "+quote(strings.Join(m, ", "), 80))
	}
	if hd := h.Values("Access-Control-Allow-Headers"); !listHas(hd, "content-type") {
		bad = append(bad, "Access-Control-Allow-Headers "+quote(strings.Join(hd, ", "), 120))
	}
	if postACAO != "*" && postACAO != browserOrigin {
		bad = append(bad, "the POST answer's Access-Control-Allow-Origin "+quote(postACAO, 80))
	}
	if len(bad) > 0 {
		d.add("service_cors", StatusFail, "a browser at "+browserOrigin+" may not POST JSON to "+u+": "+strings.Join(bad, "; "), fix)
		return
	}
	d.add("service_cors", StatusOK, "preflight (OPTIONS, POST, content-type) from "+browserOrigin+" allowed; the POST answer allows it too", "")
}

// listHas reports whether a comma-separated header list holds want (case
// insensitive) or *.
func listHas(values []string, want string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "*" || strings.EqualFold(item, want) {
				return true
			}
		}
	}
	return false
}
