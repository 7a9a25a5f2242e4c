package e2ee

import (
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// KeyRequest asks the receiver to send its current key (Famedly only;
// MatrixRTC has no requests: keys are pushed on membership changes).
type KeyRequest struct {
	Call     membership.CallKey // room and conf_id; application "m.call", scope "m.room"
	DeviceID id.DeviceID        // the requesting device, as the content claims
}

// ParseFamedlyKeyRequest reads com.famedly.call.member.encryption_keys_request
// content (famedly-voip.md 2.3): {conf_id, device_id, room_id}, all required.
func ParseFamedlyKeyRequest(content []byte) (KeyRequest, error) {
	return parseNamed("famedly key request", func(content []byte) (req KeyRequest, err error) {
		o, err := readContent(content)
		if err == nil {
			req.Call, req.DeviceID, err = famedlyCallFields(o)
		}
		return req, err
	}, content)
}

// famedlyRequestJSON is the request content in the SDK's key order; the key
// event content ends with the same three fields.
type famedlyRequestJSON struct {
	ConfID   string `json:"conf_id"`
	DeviceID string `json:"device_id"`
	RoomID   string `json:"room_id"`
}

// BuildFamedlyKeyRequest writes req as key request content.
func BuildFamedlyKeyRequest(req KeyRequest) ([]byte, error) {
	if err := checkFamedlyCall(req.Call, req.DeviceID); err != nil {
		return nil, fmt.Errorf("e2ee: build famedly key request: %w", err)
	}
	return writeJSON(famedlyRequestJSONOf(req.Call, req.DeviceID))
}

func famedlyRequestJSONOf(call membership.CallKey, device id.DeviceID) famedlyRequestJSON {
	return famedlyRequestJSON{ConfID: call.CallID, DeviceID: string(device), RoomID: string(call.Room)}
}
