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
	o, err := readContent(content)
	if err == nil {
		var req KeyRequest
		if req.Call, req.DeviceID, err = famedlyCallFields(o); err == nil {
			return req, nil
		}
	}
	return KeyRequest{}, fmt.Errorf("e2ee: famedly key request: %w", err)
}

// famedlyRequestJSON is the content in the SDK's key order.
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
	return writeJSON(famedlyRequestJSON{ConfID: req.Call.CallID, DeviceID: string(req.DeviceID), RoomID: string(req.Call.Room)})
}
