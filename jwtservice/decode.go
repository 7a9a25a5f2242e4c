package jwtservice

import (
	"fmt"
	"io"
)

// DecodeTokenRequest reads and validates a /get_token body. Checks run in
// the anchor's order, so the same bad request gets the same error.
func DecodeTokenRequest(r io.Reader) (*TokenRequest, error) {
	o, err := parseBody(r)
	if err != nil {
		return nil, err
	}
	var req TokenRequest
	if err := o.fields(map[string]*string{"room_id": &req.RoomID, "slot_id": &req.SlotID}); err != nil {
		return nil, err
	}
	m, err := o.obj("member")
	if err != nil {
		return nil, err
	}
	if err := m.fields(map[string]*string{"id": &req.Member.ID, "claimed_user_id": &req.Member.ClaimedUserID,
		"claimed_device_id": &req.Member.ClaimedDeviceID}); err != nil {
		return nil, err
	}
	if req.OpenID, err = parseOpenID(o); err != nil {
		return nil, err
	}
	if req.Delay, err = parseDelay(o); err != nil {
		return nil, err
	}
	switch {
	case req.RoomID == "" || req.SlotID == "":
		return nil, ErrMissingRoomSlot
	case req.Member.ID == "" || req.Member.ClaimedUserID == "" || req.Member.ClaimedDeviceID == "":
		return nil, ErrMissingMember
	case req.OpenID.AccessToken == "" || req.OpenID.MatrixServerName == "":
		return nil, ErrMissingOpenID
	case req.Delay.partial():
		return nil, ErrMissingDelay
	}
	if err := req.checkIdentifiers(); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeDelegateRequest reads a /delegate_delayed_leave body: a /get_token
// body whose delay fields are required.
func DecodeDelegateRequest(r io.Reader) (*TokenRequest, error) {
	req, err := DecodeTokenRequest(r)
	if err != nil {
		return nil, err
	}
	if !req.Delay.present() {
		return nil, ErrMissingDelay
	}
	return req, nil
}

// DecodeLegacyRequest reads and validates a /sfu/get body.
func DecodeLegacyRequest(r io.Reader) (*LegacyRequest, error) {
	o, err := parseBody(r)
	if err != nil {
		return nil, err
	}
	var req LegacyRequest
	if err := o.fields(map[string]*string{"room": &req.Room, "device_id": &req.DeviceID}); err != nil {
		return nil, err
	}
	if req.OpenID, err = parseOpenID(o); err != nil {
		return nil, err
	}
	if req.Delay, err = parseDelay(o); err != nil {
		return nil, err
	}
	switch {
	case req.Room == "":
		return nil, ErrLegacyMissingRoom
	case req.OpenID.AccessToken == "" || req.OpenID.MatrixServerName == "":
		return nil, ErrLegacyMissingOpenID
	case req.Delay.partial():
		return nil, ErrMissingDelay
	}
	if err := checkIdentifiers(maxIDBytes, req.Room, req.DeviceID, req.OpenID.MatrixServerName, req.Delay.ID); err != nil {
		return nil, err
	}
	if err := checkIdentifiers(maxTokenBytes, req.OpenID.AccessToken); err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	return &req, nil
}

func (req *TokenRequest) checkIdentifiers() error {
	if err := checkIdentifiers(maxIDBytes, req.RoomID, req.SlotID, req.Member.ID, req.Member.ClaimedUserID,
		req.Member.ClaimedDeviceID, req.OpenID.MatrixServerName, req.Delay.ID); err != nil {
		return err
	}
	if err := checkIdentifiers(maxTokenBytes, req.OpenID.AccessToken); err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	return nil
}
