package doctor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// syncFilter keeps the doctor's one /sync small: no rooms, presence or
// account data (the answer still proves the token syncs).
const syncFilter = `{"room":{"rooms":[]},"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]}}`

func (d *Doctor) checkBot(ctx context.Context) {
	names := []string{"bot_login", "bot_sync", "bot_keys"}
	dep := d.cfg.Deployment
	switch {
	case dep == nil:
		for _, n := range names {
			d.skip(n, "needs --config")
		}
		return
	case dep.BotUserID == "" || dep.HomeserverURL == "":
		for _, n := range names {
			d.skip(n, "no Matrix bot configured (matrix.homeserver_url)")
		}
		return
	case dep.AccessToken.IsZero():
		d.add("bot_login", StatusWarn, "no stored session in data_dir and no matrix.bot.access_token ("+dep.NoTokenWhy+"); doctor never logs in with the password, which would make a new device",
			"start the coordinator once (it logs in and keeps its session in data_dir), then run doctor again")
		for _, n := range names[1:] {
			d.skip(n, "no access token")
		}
		return
	}
	hs := dep.HomeserverURL
	a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: hs + "/_matrix/client/v3/account/whoami", Token: dep.AccessToken})
	var who struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
	}
	switch {
	case err != nil:
		d.add("bot_login", StatusFail, "whoami at "+hs+": "+err.Error(), "matrix.homeserver_url must be the homeserver's client-server API")
	case a.Status != http.StatusOK || json.Unmarshal(a.Body, &who) != nil:
		d.add("bot_login", StatusFail, "whoami with the "+dep.TokenSource+": "+a.describe(),
			"the token was revoked or the session lost: set matrix.bot.password (or a fresh access_token) and restart the coordinator, which logs in again")
	case who.UserID != dep.BotUserID:
		d.add("bot_login", StatusFail, "the "+dep.TokenSource+" belongs to "+quote(who.UserID, 100)+", not "+dep.BotUserID,
			"set matrix.bot.user_id to the token's user, or give the bot's own token")
	default:
		d.botOK = true
		d.add("bot_login", StatusOK, "whoami with the "+dep.TokenSource+": "+who.UserID+" device "+quote(who.DeviceID, 60)+" (no new login)", "")
	}
	if !d.botOK {
		for _, n := range names[1:] {
			d.skip(n, "the bot is not logged in")
		}
		return
	}
	a, err = d.hc.do(ctx, request{Method: http.MethodGet, Token: dep.AccessToken,
		URL: hs + "/_matrix/client/v3/sync?timeout=0&filter=" + url.QueryEscape(syncFilter)})
	var sync struct {
		NextBatch string `json:"next_batch"`
	}
	switch {
	case err != nil:
		d.add("bot_sync", StatusFail, "/sync: "+err.Error(), "check the homeserver's health and the proxy's timeouts for /sync")
	case a.Status != http.StatusOK || json.Unmarshal(a.Body, &sync) != nil || sync.NextBatch == "":
		d.add("bot_sync", StatusFail, "/sync: "+a.describe(), "check the homeserver's log for the bot's /sync")
	default:
		d.add("bot_sync", StatusOK, "one /sync (timeout 0) answered", "")
	}
	d.checkKeys(ctx, hs, who.UserID, who.DeviceID)
}

// checkKeys: the bot's device has its Olm identity keys on the homeserver.
func (d *Doctor) checkKeys(ctx context.Context, hs, user, device string) {
	q, _ := json.Marshal(map[string]any{"device_keys": map[string][]string{user: {device}}})
	a, err := d.hc.do(ctx, request{Method: http.MethodPost, URL: hs + "/_matrix/client/v3/keys/query", Body: q, Token: d.token()})
	if err != nil {
		d.add("bot_keys", StatusFail, "/keys/query: "+err.Error(), "")
		return
	}
	var res struct {
		DeviceKeys map[string]map[string]struct {
			Keys map[string]string `json:"keys"`
		} `json:"device_keys"`
	}
	const fix = "the bot uploads its Olm keys when it logs in: restart the coordinator; if data_dir lost its crypto store, remove the stored session so it logs in as a new device"
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &res) != nil {
		d.add("bot_keys", StatusFail, "/keys/query: "+a.describe(), fix)
		return
	}
	keys := res.DeviceKeys[user][device].Keys
	if keys["curve25519:"+device] == "" || keys["ed25519:"+device] == "" {
		d.add("bot_keys", StatusFail, "device "+quote(device, 60)+" has no curve25519 and ed25519 keys on the homeserver: encrypted rooms and media keys cannot reach the bot", fix)
		return
	}
	d.add("bot_keys", StatusOK, "device "+quote(device, 60)+" has its curve25519 and ed25519 keys uploaded", "")
}
