package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// SendEncryptedToDevice Olm-encrypts content as an event of type evtType for
// each given device and sends it in one request. An empty device list sends
// to every device the user has. Device keys are fetched when not known yet,
// one-time keys claimed and Olm sessions made where none exists; existing
// sessions (also those from before a restart) are reused.
//
// Devices that cannot be reached are skipped and reported in the returned
// error (ErrUnknownDevice, ErrNoOlmSession, joined); the others still get the
// event. It may be called from any goroutine once LoggedIn is closed, and
// until Close.
func (b *Bot) SendEncryptedToDevice(ctx context.Context, evtType event.Type, to map[id.UserID][]id.DeviceID, content any) error {
	o, err := b.currentOlm()
	if err != nil {
		return err
	}
	c, err := toDeviceContent(content)
	if err != nil {
		return err
	}
	evtType.Class = event.ToDeviceEventType
	devices, errs := o.resolveDevices(ctx, to)
	req := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{}}
	for user, devs := range devices {
		for dev := range devs {
			if req.Messages[user] == nil {
				req.Messages[user] = map[id.DeviceID]*event.Content{}
			}
			req.Messages[user][dev] = c
		}
	}
	if len(req.Messages) == 0 {
		return errors.Join(errs...)
	}
	o.sessions.Lock()
	enc, err := o.mach.EncryptToDevices(ctx, evtType, req)
	o.sessions.Unlock()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("matrixbot: encrypt to-device: %w", err))...)
	}
	for user, devs := range req.Messages {
		for dev := range devs {
			if _, ok := enc.Messages[user][dev]; !ok {
				errs = append(errs, fmt.Errorf("%w %s of %s", ErrNoOlmSession, dev, user))
			}
		}
		if len(enc.Messages[user]) == 0 {
			delete(enc.Messages, user)
		}
	}
	if len(enc.Messages) > 0 {
		if _, err := o.cli.SendToDevice(ctx, event.ToDeviceEncrypted, enc); err != nil {
			errs = append(errs, fmt.Errorf("matrixbot: send encrypted to-device: %w", err))
		}
	}
	return errors.Join(errs...)
}

// SendToDevice sends content unencrypted as an event of type evtType to the
// given devices ("*" as device id means all of the user's devices).
func (b *Bot) SendToDevice(ctx context.Context, evtType event.Type, to map[id.UserID][]id.DeviceID, content any) error {
	cli := b.Client()
	if cli == nil {
		return ErrCryptoNotReady
	}
	c, err := toDeviceContent(content)
	if err != nil {
		return err
	}
	evtType.Class = event.ToDeviceEventType
	req := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{}}
	for user, devs := range to {
		m := map[id.DeviceID]*event.Content{}
		for _, d := range devs {
			m[d] = c
		}
		req.Messages[user] = m
	}
	if _, err := cli.SendToDevice(ctx, evtType, req); err != nil {
		return fmt.Errorf("matrixbot: send to-device: %w", err)
	}
	return nil
}

// RoomEncrypted reports whether the sync delivered an m.room.encryption
// state event for room (while the bot was in it). It is kept in DataDir, so
// it holds across restarts.
func (b *Bot) RoomEncrypted(room id.RoomID) bool {
	ok, _ := b.rooms.IsEncrypted(context.Background(), room)
	return ok
}

// toDeviceContent encodes content once, so a value that does not marshal is
// an error here rather than a panic inside mautrix's encryption.
func toDeviceContent(content any) (*event.Content, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadContent, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, ErrBadContent
	}
	return &event.Content{VeryRaw: raw}, nil
}

// resolveDevices returns the device keys of the recipients, querying the
// homeserver (once, for all users concerned) for users whose requested
// devices are not all known. Unknown devices become errors.
func (o *olmDevice) resolveDevices(ctx context.Context, to map[id.UserID][]id.DeviceID) (map[id.UserID]map[id.DeviceID]*id.Device, []error) {
	var errs []error
	known := map[id.UserID]map[id.DeviceID]*id.Device{}
	var fetch []id.UserID
	for user, devs := range to {
		stored, err := o.mach.CryptoStore.GetDevices(ctx, user)
		if err != nil {
			errs = append(errs, fmt.Errorf("matrixbot: load devices of %s: %w", user, err))
			continue
		}
		known[user] = stored
		tracked := len(stored) > 0
		if len(devs) == 0 {
			if t, err := o.mach.CryptoStore.FilterTrackedUsers(ctx, []id.UserID{user}); err == nil {
				tracked = len(t) == 1
			}
		}
		if !tracked || slices.ContainsFunc(devs, func(d id.DeviceID) bool { return stored[d] == nil }) {
			fetch = append(fetch, user)
		}
	}
	if len(fetch) > 0 {
		fetched, err := o.mach.FetchKeys(ctx, fetch, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("matrixbot: query device keys: %w", err))
		}
		for _, user := range fetch {
			if d, ok := fetched[user]; ok {
				known[user] = d
			}
		}
	}
	out := map[id.UserID]map[id.DeviceID]*id.Device{}
	for user, devs := range to {
		have := known[user]
		if len(devs) == 0 {
			devs = slices.Collect(maps.Keys(have))
			if len(devs) == 0 {
				errs = append(errs, fmt.Errorf("%w: %s has no devices with keys", ErrUnknownDevice, user))
			}
		}
		for _, d := range devs {
			dev := have[d]
			if dev == nil {
				errs = append(errs, fmt.Errorf("%w %s of %s", ErrUnknownDevice, d, user))
				continue
			}
			if out[user] == nil {
				out[user] = map[id.DeviceID]*id.Device{}
			}
			out[user][d] = dev
		}
	}
	return out, errs
}
