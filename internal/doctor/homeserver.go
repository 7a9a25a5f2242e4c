package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// versions is /_matrix/client/versions.
type versions struct {
	Versions []string        `json:"versions"`
	Unstable map[string]bool `json:"unstable_features"`
}

// The MSC4143 transports endpoint: stable first, then the unstable path
// Synapse serves with experimental_features.msc4143_enabled.
var transportPaths = []string{"/_matrix/client/v1/rtc/transports", "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports"}

func (d *Doctor) checkHomeserver(ctx context.Context) {
	if d.hsURL == "" && d.cfg.Deployment != nil && d.cfg.Deployment.HomeserverURL != "" {
		d.hsURL = strings.TrimRight(d.cfg.Deployment.HomeserverURL, "/")
	}
	if d.hsURL == "" {
		d.skip("homeserver", "no homeserver URL (the .well-known gave none)")
		d.skip("rtc_transports", "no homeserver URL")
		return
	}
	u := d.hsURL + "/_matrix/client/versions"
	a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: u})
	fix := "m.homeserver.base_url must be the homeserver's client-server API as clients reach it (Synapse: public_baseurl)"
	if err != nil {
		d.add("homeserver", StatusFail, "GET "+u+": "+err.Error(), fix)
		d.skip("rtc_transports", "the homeserver does not answer")
		return
	}
	var v versions
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &v) != nil || len(v.Versions) == 0 {
		d.add("homeserver", StatusFail, "GET "+u+": "+a.describe()+": not a Matrix homeserver's versions", fix)
		d.skip("rtc_transports", "the homeserver does not answer as one")
		return
	}
	d.versions = &v
	latest := v.Versions[len(v.Versions)-1]
	d.add("homeserver", StatusOK, fmt.Sprintf("%s answers /versions (%d versions, last %s)", d.hsURL, len(v.Versions), quote(latest, 20)), "")
	d.checkTransports(ctx)
}

func (d *Doctor) checkTransports(ctx context.Context) {
	const fixOn = "enable MSC4143 on the homeserver (Synapse: `experimental_features: {msc4143_enabled: true}` and `matrix_rtc: {transports: [{type: livekit, livekit_service_url: <the service URL>}]}`): current Element Call asks it first"
	var seen []string
	for _, p := range transportPaths {
		u := d.hsURL + p
		a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: u, Token: d.token()})
		if err != nil {
			d.add("rtc_transports", StatusWarn, "GET "+u+": "+err.Error(), fixOn)
			return
		}
		me, _ := a.matrixErr()
		switch {
		case a.Status == http.StatusOK:
			foci, problems, err := ParseTransports(a.Body)
			if err != nil {
				d.transErr = err.Error()
				d.add("rtc_transports", StatusWarn, "GET "+p+": "+err.Error(), fixOn)
				return
			}
			d.transports = foci
			found := "GET " + p + ": " + fociText(foci)
			if len(problems) > 0 {
				found += "; ignored: " + strings.Join(problems, "; ")
			}
			if len(foci) == 0 {
				d.add("rtc_transports", StatusWarn, found, "list the service in homeserver.yaml `matrix_rtc: {transports: [{type: livekit, livekit_service_url: <the service URL>}]}`")
				return
			}
			d.add("rtc_transports", StatusOK, found, "")
			return
		case a.Status == http.StatusUnauthorized && d.token().IsZero():
			d.transErr = "needs a login"
			d.skip("rtc_transports", "GET "+p+": "+a.describe()+": served, but only to a logged-in user; run with --config to read it as the bot")
			return
		case a.Status == http.StatusNotFound || me.Errcode == "M_UNRECOGNIZED":
			seen = append(seen, p+": "+a.describe())
			continue
		default:
			d.add("rtc_transports", StatusWarn, "GET "+p+": "+a.describe(), fixOn)
			return
		}
	}
	d.transErr = "not served"
	d.add("rtc_transports", StatusWarn, "not served: "+strings.Join(seen, "; "), fixOn)
}

func fociText(foci []Focus) string {
	if len(foci) == 0 {
		return "no livekit transport"
	}
	var s []string
	for _, f := range foci {
		s = append(s, f.ServiceURL)
	}
	return "livekit_service_url " + strings.Join(s, ", ")
}

// checkFoci decides which service URL clients use and whether both
// discovery paths agree.
func (d *Doctor) checkFoci() {
	fixAdd := "add `\"" + WellKeyFoci + "\": [{\"type\": \"livekit\", \"livekit_service_url\": \"https://matrix-rtc." + d.cfg.ServerName + "/livekit/jwt\"}]` to " + wellKnownPath + " (Synapse: extra_well_known_client_content)"
	var wkFoci []Focus
	var problems []string
	if d.wk != nil {
		wkFoci, problems = d.wk.Foci, d.wk.Problems
	}
	found := WellKeyFoci + ": " + fociText(wkFoci)
	if d.wk != nil && !d.wk.FociPresent {
		found = WellKeyFoci + " absent"
	}
	if len(problems) > 0 {
		found += "; ignored: " + strings.Join(problems, "; ")
	}
	if len(d.transports) > 0 {
		found += "; rtc/transports: " + fociText(d.transports)
	}
	switch {
	case len(wkFoci) > 0:
		d.service = wkFoci[0].ServiceURL
		if len(d.transports) > 0 && d.transports[0].ServiceURL != d.service {
			d.add("rtc_foci", StatusWarn, found+": they differ", "make "+wellKnownPath+" "+WellKeyFoci+" and the homeserver's matrix_rtc.transports name the same service first: clients that read one or the other end up on different SFUs")
			break
		}
		st, fix := StatusOK, ""
		if len(problems) > 0 {
			st, fix = StatusWarn, "remove or correct the ignored entries"
		}
		d.add("rtc_foci", st, found, fix)
	case len(d.transports) > 0:
		d.service = d.transports[0].ServiceURL
		d.add("rtc_foci", StatusWarn, found+": clients that read only .well-known (older Element Call, other clients) show MISSING_MATRIX_RTC_FOCUS", fixAdd)
	case d.wk == nil:
		d.skip("rtc_foci", "no .well-known to read "+WellKeyFoci+" from, and no rtc/transports")
		d.serviceFromConfig()
	default:
		why := "clients find no focus and show MISSING_MATRIX_RTC_FOCUS"
		if d.transErr == "needs a login" {
			why = "clients that read only .well-known show MISSING_MATRIX_RTC_FOCUS (rtc/transports unread without --config)"
		}
		d.add("rtc_foci", StatusFail, found+": "+why, fixAdd)
		d.serviceFromConfig()
	}
	if dep := d.cfg.Deployment; dep != nil && dep.ServiceURL != "" && d.service != "" && strings.TrimRight(dep.ServiceURL, "/") != d.service {
		d.add("service_url_config", StatusWarn, "livekit.service_url is "+dep.ServiceURL+" but clients use "+d.service,
			"set livekit.service_url to "+d.service+" (the URL clients are told), so calls on it get our own token minted locally")
	}
}

// serviceFromConfig checks the service livekit.service_url names when
// clients are told none.
func (d *Doctor) serviceFromConfig() {
	if dep := d.cfg.Deployment; dep != nil && dep.ServiceURL != "" {
		if u, err := checkURL(strings.TrimRight(dep.ServiceURL, "/")); err == nil {
			d.service = u.String()
		}
	}
}
