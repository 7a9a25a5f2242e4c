package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
)

// webhookWait bounds how long LiveKit may take to deliver the probe room's
// webhook (it sends them at once; this only guards against a hang).
const webhookWait = 15 * time.Second

func (d *Doctor) checkLiveKit(ctx context.Context) {
	dep := d.cfg.Deployment
	if dep == nil || dep.LiveKit == nil {
		d.liveKitFromOutside()
		return
	}
	cctx, cancel := context.WithTimeout(ctx, d.hc.timeout)
	_, err := dep.LiveKit.ListRooms(cctx, &livekit.ListRoomsRequest{})
	cancel()
	if err != nil {
		found, fix := liveKitErr(err, dep)
		d.add("livekit_api", StatusFail, found, fix)
		d.skip("livekit_webhook", "LiveKit's API refused or did not answer")
		return
	}
	d.add("livekit_api", StatusOK, fmt.Sprintf("ListRooms at %s with key %s accepted", dep.LiveKitAPI, quote(dep.LiveKitKey, 40)), "")
	d.checkWebhook(ctx, dep)
}

// liveKitErr names the cause of a failed LiveKit API call.
func liveKitErr(err error, dep *Deployment) (found, fix string) {
	found = "ListRooms at " + dep.LiveKitAPI + ": "
	var te twirp.Error
	if errors.As(err, &te) {
		switch te.Code() {
		case twirp.Unauthenticated, twirp.PermissionDenied:
			return found + "refused (" + string(te.Code()) + "): wrong key or secret",
				"livekit.key and livekit.secret must be one of the key pairs in livekit.yaml `keys:` (key " + quote(dep.LiveKitKey, 40) + " is configured)"
		case twirp.Unavailable, twirp.Internal, twirp.Malformed, twirp.NotFound, twirp.BadRoute:
			return found + clip(te.Msg(), 200) + " (" + string(te.Code()) + "): something else answers there",
				"set livekit.api_url to LiveKit's HTTP API (e.g. http://127.0.0.1:7880), or livekit.url if it serves both"
		}
		return found + clip(te.Msg(), 200) + " (" + string(te.Code()) + ")", "check that livekit.api_url (or livekit.url) is LiveKit's API"
	}
	return found + describeErr(err).Error(), "start LiveKit, and set livekit.api_url (or livekit.url) to where its API listens"
}

// checkWebhook creates a uniquely named room and waits for the service at
// the checked URL to report LiveKit's webhook for it, then deletes it.
func (d *Doctor) checkWebhook(ctx context.Context, dep *Deployment) {
	if d.switchbd == nil {
		d.skip("livekit_webhook", "the service URL is not a Switchboard with /healthz?detail=1: webhook delivery cannot be seen from outside")
		return
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := lkid.ProbeRoomPrefix + hex.EncodeToString(rnd[:])
	before := d.switchbd.Webhooks
	cctx, cancel := context.WithTimeout(ctx, d.hc.timeout)
	_, err := dep.LiveKit.CreateRoom(cctx, &livekit.CreateRoomRequest{Name: name, EmptyTimeout: 30})
	cancel()
	if err != nil {
		found, fix := liveKitErr(err, dep)
		d.add("livekit_webhook", StatusFail, "CreateRoom "+name+": "+found, fix)
		return
	}
	defer func() {
		// The room has no one in it; LiveKit would also close it after
		// EmptyTimeout. A fresh context: the run's may have ended.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.hc.timeout)
		_, _ = dep.LiveKit.DeleteRoom(cctx, &livekit.DeleteRoomRequest{Room: name})
		cancel()
	}()
	deadline := time.Now().Add(webhookWait)
	var last *webhookDetail
	for {
		if w := d.webhooks(ctx); w != nil {
			last = w
			if w.LastProbe == name {
				d.add("livekit_webhook", StatusOK, "LiveKit's webhook for the probe room "+name+" reached the service", "")
				return
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	fix := "add to livekit.yaml `webhook: {api_key: " + dep.LiveKitKey + ", urls: [\"" + d.service + "/sfu_webhook\"]}` (a URL LiveKit can reach, e.g. the coordinator's http.bind address) and restart LiveKit"
	if last != nil && before != nil && last.Refused > before.Refused {
		d.add("livekit_webhook", StatusFail, "webhooks arrive but their signature is refused", "livekit.yaml webhook.api_key must be the coordinator's livekit.key, with the same secret")
		return
	}
	d.add("livekit_webhook", StatusFail, fmt.Sprintf("no webhook for the probe room %s reached %s within %s", name, d.service, webhookWait), fix)
}

// webhooks reads the service's webhook counts, nil if it cannot.
func (d *Doctor) webhooks(ctx context.Context) *webhookDetail {
	a, err := d.hc.do(ctx, request{Method: http.MethodGet, URL: d.service + "/healthz?detail=1"})
	if err != nil || a.Status != http.StatusOK {
		return nil
	}
	var h healthDetail
	if json.Unmarshal(a.Body, &h) != nil {
		return nil
	}
	return h.Webhooks
}

// liveKitFromOutside says what the service's /healthz?detail=1 tells.
func (d *Doctor) liveKitFromOutside() {
	h := d.switchbd
	if h == nil {
		d.skip("livekit_api", "needs --config (or a Switchboard service to ask)")
		d.skip("livekit_webhook", "needs --config (or a Switchboard service to ask)")
		return
	}
	switch {
	case h.SFU == nil:
		d.skip("livekit_api", "the service does not report LiveKit's health")
	case h.SFU.State == "healthy":
		d.add("livekit_api", StatusOK, "the service reports LiveKit's API healthy", "")
	case h.SFU.State == "unknown":
		d.add("livekit_api", StatusWarn, "the service has not checked LiveKit yet", "run doctor again in a few seconds")
	default:
		d.add("livekit_api", StatusFail, "the service reports LiveKit "+quote(h.SFU.State, 20)+": "+quote(h.SFU.LastError, 200),
			"check livekit.url / livekit.api_url and the key and secret (doctor --config checks them directly)")
	}
	w := h.Webhooks
	switch {
	case w.Received > 0:
		d.add("livekit_webhook", StatusOK, fmt.Sprintf("the service has received %d webhooks from LiveKit (last %s)", w.Received, w.LastAt), "")
	case w.Refused > 0:
		d.add("livekit_webhook", StatusFail, fmt.Sprintf("the service refused %d webhooks (bad signature)", w.Refused), "livekit.yaml webhook.api_key must be the coordinator's livekit.key, with the same secret")
	default:
		d.add("livekit_webhook", StatusWarn, "no webhook received since the service started (fine if no call happened yet)",
			"make sure livekit.yaml has `webhook: {api_key: <livekit.key>, urls: [\""+d.service+"/sfu_webhook\"]}`; doctor --config proves delivery with a probe room")
	}
}
