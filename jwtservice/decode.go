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
	if req.OpenID, req.Delay, err = parseCommon(o); err != nil {
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
	if err := checkRequest(req.OpenID.AccessToken, req.RoomID, req.SlotID, req.Member.ID, req.Member.ClaimedUserID,
		req.Member.ClaimedDeviceID, req.OpenID.MatrixServerName, req.Delay.ID); err != nil {
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
	if req.OpenID, req.Delay, err = parseCommon(o); err != nil {
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
	if err := checkRequest(req.OpenID.AccessToken, req.Room, req.DeviceID, req.OpenID.MatrixServerName, req.Delay.ID); err != nil {
		return nil, err
	}
	return &req, nil
}

// parseCommon reads the fields every token request has.
func parseCommon(o object) (OpenIDToken, Delay, error) {
	tok, err := parseOpenID(o)
	if err != nil {
		return tok, Delay{}, err
	}
	d, err := parseDelay(o)
	return tok, d, err
}

// checkRequest bounds a request's identifiers and its access token.
func checkRequest(accessToken string, ids ...string) error {
	if err := checkIdentifiers(maxIDBytes, ids...); err != nil {
		return err
	}
	if err := checkIdentifiers(maxTokenBytes, accessToken); err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	return nil
}
