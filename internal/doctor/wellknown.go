package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// WellKeyFoci is the .well-known key of MSC4143's (formerly MSC4158's)
// list of foci, which clients still read.
const WellKeyFoci = "org.matrix.msc4143.rtc_foci"

// maxFoci bounds how many foci are looked at.
const maxFoci = 32

// WellKnown is what /.well-known/matrix/client says that matters here.
type WellKnown struct {
	HomeserverURL string
	// Foci are the livekit entries with a usable livekit_service_url, in
	// order (a client takes the first).
	Foci []Focus
	// Problems are entries that a client would ignore, explained.
	Problems []string
	// FociPresent: the key is there (even if nothing in it is usable).
	FociPresent bool
}

// Focus is one livekit transport.
type Focus struct {
	Type       string `json:"type"`
	ServiceURL string `json:"livekit_service_url"`
}

// ErrBadDocument means a discovery document is not what clients accept.
var ErrBadDocument = errors.New("not a valid discovery document")

// ParseWellKnown reads a /.well-known/matrix/client body. An error means a
// client would reject it as a whole; foci problems are listed instead.
func ParseWellKnown(body []byte) (WellKnown, error) {
	var top map[string]json.RawMessage
	if err := strictJSON(body, &top); err != nil || top == nil {
		return WellKnown{}, fmt.Errorf("%w: not a JSON object", ErrBadDocument)
	}
	var wk WellKnown
	var hs struct {
		BaseURL *string `json:"base_url"`
	}
	raw, ok := top["m.homeserver"]
	switch {
	case !ok:
		return wk, fmt.Errorf("%w: no m.homeserver", ErrBadDocument)
	case json.Unmarshal(raw, &hs) != nil:
		return wk, fmt.Errorf("%w: m.homeserver is not an object with a string base_url", ErrBadDocument)
	case hs.BaseURL == nil:
		return wk, fmt.Errorf("%w: m.homeserver has no base_url", ErrBadDocument)
	}
	u, err := checkURL(strings.TrimRight(*hs.BaseURL, "/"))
	if err != nil {
		return wk, fmt.Errorf("%w: m.homeserver.base_url: %w", ErrBadDocument, err)
	}
	wk.HomeserverURL = u.String()
	if raw, ok := top[WellKeyFoci]; ok {
		wk.FociPresent = true
		wk.Foci, wk.Problems = parseFoci(raw, WellKeyFoci)
	}
	return wk, nil
}

// ParseTransports reads an MSC4143 rtc/transports answer: {"rtc_transports": [...]}.
func ParseTransports(body []byte) ([]Focus, []string, error) {
	var top map[string]json.RawMessage
	if err := strictJSON(body, &top); err != nil || top == nil {
		return nil, nil, fmt.Errorf("%w: not a JSON object", ErrBadDocument)
	}
	raw, ok := top["rtc_transports"]
	if !ok {
		return nil, nil, nil
	}
	foci, problems := parseFoci(raw, "rtc_transports")
	return foci, problems, nil
}

// parseFoci keeps the livekit entries with a valid service URL and explains
// every entry it drops.
func parseFoci(raw json.RawMessage, key string) ([]Focus, []string) {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, []string{key + " is not a JSON array"}
	}
	var foci []Focus
	var problems []string
	for i, e := range list {
		if i == maxFoci {
			problems = append(problems, fmt.Sprintf("%s has more than %d entries; the rest were not read", key, maxFoci))
			break
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(e, &m) != nil || m == nil {
			problems = append(problems, fmt.Sprintf("%s[%d] is not an object", key, i))
			continue
		}
		var typ, svc string
		if json.Unmarshal(m["type"], &typ) != nil || typ == "" {
			problems = append(problems, fmt.Sprintf("%s[%d] has no string type", key, i))
			continue
		}
		if typ != "livekit" {
			continue // other transports are not ours to judge
		}
		if _, ok := m["livekit_service_url"]; !ok {
			p := fmt.Sprintf("%s[%d] (livekit) has no livekit_service_url", key, i)
			for k := range m {
				if k != "type" && strings.Contains(k, "url") {
					p += fmt.Sprintf(" (it has %s, which no client reads)", quote(k, 60))
					break
				}
			}
			problems = append(problems, p)
			continue
		}
		if json.Unmarshal(m["livekit_service_url"], &svc) != nil {
			problems = append(problems, fmt.Sprintf("%s[%d].livekit_service_url is not a string", key, i))
			continue
		}
		u, err := checkURL(strings.TrimRight(svc, "/"))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s[%d].livekit_service_url: %v", key, i, err))
			continue
		}
		foci = append(foci, Focus{Type: typ, ServiceURL: u.String()})
	}
	return foci, problems
}

// strictJSON decodes exactly one JSON value.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

const wellKnownPath = "/.well-known/matrix/client"

// checkWellKnown: reachable, JSON, m.homeserver.base_url, and CORS on it.
func (d *Doctor) checkWellKnown(ctx context.Context) {
	u := d.cfg.Base + wellKnownPath
	base, _ := checkURL(d.cfg.Base)
	note := httpNote(base)
	fixServe := "serve " + wellKnownPath + " on https://" + d.cfg.ServerName + " with {\"m.homeserver\": {\"base_url\": \"https://matrix." + d.cfg.ServerName + "\"}, \"" + WellKeyFoci + "\": [{\"type\": \"livekit\", \"livekit_service_url\": \"https://matrix-rtc." + d.cfg.ServerName + "/livekit/jwt\"}]} (Synapse: public_baseurl and extra_well_known_client_content)"
	a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: u, Header: map[string]string{"Origin": browserOrigin}})
	if err != nil {
		d.add("well_known", StatusFail, "GET "+u+note+": "+err.Error(), fixServe)
		d.skip("well_known_cors", "no .well-known")
		return
	}
	if a.Status != http.StatusOK {
		d.add("well_known", StatusFail, "GET "+u+note+": "+a.describe(), fixServe)
		d.skip("well_known_cors", "no .well-known")
		return
	}
	wk, err := ParseWellKnown(a.Body)
	if err != nil {
		d.add("well_known", StatusFail, "GET "+u+note+": "+err.Error(), fixServe)
	} else {
		d.wk = &wk
		d.hsURL = wk.HomeserverURL
		hu, _ := checkURL(wk.HomeserverURL)
		d.add("well_known", StatusOK, "GET "+u+note+": m.homeserver.base_url "+wk.HomeserverURL+httpNote(hu), "")
	}
	acao := a.Header.Get("Access-Control-Allow-Origin")
	if acao == "*" || acao == browserOrigin {
		d.add("well_known_cors", StatusOK, "Access-Control-Allow-Origin: "+quote(acao, 60), "")
		return
	}
	found := "no Access-Control-Allow-Origin on " + wellKnownPath
	if acao != "" {
		found = "Access-Control-Allow-Origin " + quote(acao, 100) + " does not allow other origins"
	}
	d.add("well_known_cors", StatusFail, found+": web clients (Element Web, Element Call) cannot read it",
		"send `Access-Control-Allow-Origin: *` with "+wellKnownPath+" (nginx: `add_header Access-Control-Allow-Origin * always;` in its location)")
}

// browserOrigin is the Origin the doctor's browser-like requests carry:
// Element Call's.
const browserOrigin = "https://call.element.io"
