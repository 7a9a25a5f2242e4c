package membership

import (
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"
)

// StateKeyForm is one of the three state-key conventions of
// com.famedly.call.member (famedly-voip.md 1.1).
type StateKeyForm int

const (
	FamedlyFormUnknown StateKeyForm = iota
	FamedlyUser                     // "{userId}": legacy, one event per user
	FamedlyUserDevice               // "{userId}_{deviceId}": msc3757 room versions
	FamedlyDeviceUser               // "{deviceId}_{userId}": useUnprotectedPerDeviceStateKeys
)

func (f StateKeyForm) String() string {
	switch f {
	case FamedlyUser:
		return "user"
	case FamedlyUserDevice:
		return "user_device"
	case FamedlyDeviceUser:
		return "device_user"
	default:
		return "unknown"
	}
}

// FamedlyStateKey returns the state key of the given form for a user's
// device (the device is ignored for FamedlyUser).
func FamedlyStateKey(form StateKeyForm, user id.UserID, device id.DeviceID) string {
	switch form {
	case FamedlyUserDevice:
		return string(user) + "_" + string(device)
	case FamedlyDeviceUser:
		return string(device) + "_" + string(user)
	default:
		return string(user)
	}
}

// ParseFamedlyStateKey splits a com.famedly.call.member state key into its
// form, user and (for the per-device forms) device. Server names cannot
// contain '_', so in "{userId}_{deviceId}" the first '_' after the user
// id's ':' ends the user id; in "{deviceId}_{userId}" the first "_@" ends
// the device id.
func ParseFamedlyStateKey(stateKey string) (StateKeyForm, id.UserID, id.DeviceID, error) {
	if len(stateKey) > 2*MaxIDLen+1 {
		return FamedlyFormUnknown, "", "", fmt.Errorf("%w: %d bytes", ErrStateKey, len(stateKey))
	}
	form := FamedlyUser
	user, device := stateKey, ""
	if strings.HasPrefix(stateKey, "@") {
		colon := strings.IndexByte(stateKey, ':')
		if colon < 0 {
			return FamedlyFormUnknown, "", "", fmt.Errorf("%w: %q has no server name", ErrStateKey, stateKey)
		}
		if us := strings.IndexByte(stateKey[colon:], '_'); us >= 0 {
			form = FamedlyUserDevice
			user, device = stateKey[:colon+us], stateKey[colon+us+1:]
		}
	} else {
		i := strings.Index(stateKey, "_@")
		if i < 0 {
			return FamedlyFormUnknown, "", "", fmt.Errorf("%w: %q names no user", ErrStateKey, stateKey)
		}
		form = FamedlyDeviceUser
		device, user = stateKey[:i], stateKey[i+1:]
	}
	if form != FamedlyUser && device == "" {
		return FamedlyFormUnknown, "", "", fmt.Errorf("%w: %q has an empty device id", ErrStateKey, stateKey)
	}
	if len(device) > MaxIDLen {
		return FamedlyFormUnknown, "", "", fmt.Errorf("%w: device id of %d bytes", ErrStateKey, len(device))
	}
	if _, _, err := id.UserID(user).ParseAndValidateRelaxed(); err != nil {
		return FamedlyFormUnknown, "", "", fmt.Errorf("%w: %q: user id: %v", ErrStateKey, stateKey, err)
	}
	return form, id.UserID(user), id.DeviceID(device), nil
}
