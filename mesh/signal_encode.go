package mesh

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Encode gives the event type and content of s, or an error wrapping
// ErrInvalid (or ErrTooLarge) when any field is missing or out of bounds:
// nothing partially typed is ever produced. Version is always sent as the
// string "1", whatever s.Call.Version says.
func Encode(s Signal) (eventType string, content json.RawMessage, err error) {
	if err := s.validate(); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	w := wireContent{CallID: s.Call.CallID, PartyID: s.Call.PartyID, Version: "1"}
	if e := s.Group; e != nil {
		w.ConfID = &e.ConfID
		w.Seq = &e.Seq
		w.DestSessionID, w.SenderSessionID, w.RoomID = e.DestSessionID, e.SenderSessionID, e.RoomID
	}
	w.setBody(s.Body)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	content = bytes.TrimRight(buf.Bytes(), "\n")
	if len(content) > MaxContentBytes {
		return "", nil, fmt.Errorf("%w: content is %d bytes, limit %d", ErrTooLarge, len(content), MaxContentBytes)
	}
	return EventType(s.Dialect, s.Kind()), content, nil
}

// wireContent is the content we send, its fields in the order the SDK
// writes them (the common fields, the body, then the group envelope).
type wireContent struct {
	CallID          string                 `json:"call_id"`
	PartyID         string                 `json:"party_id"`
	ConfID          *string                `json:"conf_id,omitempty"`
	Version         string                 `json:"version"`
	Lifetime        int64                  `json:"lifetime,omitempty"`
	Offer           *wireDescription       `json:"offer,omitempty"`
	Answer          *wireDescription       `json:"answer,omitempty"`
	Description     *wireDescription       `json:"description,omitempty"`
	Candidates      []wireCandidate        `json:"candidates,omitempty"`
	SelectedPartyID string                 `json:"selected_party_id,omitempty"`
	Reason          Reason                 `json:"reason,omitempty"`
	Invitee         string                 `json:"invitee,omitempty"`
	InviteeDeviceID string                 `json:"invitee_device_id,omitempty"`
	DeviceID        string                 `json:"device_id,omitempty"`
	Capabilities    *wireCapabilities      `json:"capabilities,omitempty"`
	Metadata        *map[string]wireStream `json:"org.matrix.msc3077.sdp_stream_metadata,omitempty"`
	Seq             *int64                 `json:"seq,omitempty"`
	DestSessionID   string                 `json:"dest_session_id,omitempty"`
	SenderSessionID string                 `json:"sender_session_id,omitempty"`
	RoomID          string                 `json:"room_id,omitempty"`
}

type wireDescription struct {
	SDP  string  `json:"sdp"`
	Type SDPType `json:"type"`
}

type wireCandidate struct {
	Candidate     string `json:"candidate"`
	SDPMid        string `json:"sdpMid"`
	SDPMLineIndex uint16 `json:"sdpMLineIndex"`
}

type wireCapabilities struct {
	Transferee bool `json:"m.call.transferee"`
	DTMF       bool `json:"m.call.dtmf"`
}

type wireStream struct {
	Purpose    Purpose `json:"purpose"`
	AudioMuted bool    `json:"audio_muted"`
	VideoMuted bool    `json:"video_muted"`
}

func (w *wireContent) setBody(b Body) {
	switch b := b.(type) {
	case *Invite:
		w.Lifetime, w.Offer = b.Lifetime, describe(b.Offer)
		w.Invitee, w.InviteeDeviceID, w.DeviceID = b.Invitee, b.InviteeDeviceID, b.DeviceID
		w.setMedia(b.Capabilities, b.Metadata)
	case *Answer:
		w.Answer = describe(b.Answer)
		w.setMedia(b.Capabilities, b.Metadata)
	case *Candidates:
		for _, c := range b.Candidates {
			w.Candidates = append(w.Candidates, wireCandidate(c))
		}
	case *SelectAnswer:
		w.SelectedPartyID = b.SelectedPartyID
	case *Reject:
		w.Reason = b.Reason
	case *Hangup:
		w.Reason = b.Reason
	case *Negotiate:
		w.Lifetime, w.Description = b.Lifetime, describe(b.Description)
		w.setMedia(b.Capabilities, b.Metadata)
	case *StreamMetadataChanged:
		w.setMedia(nil, b.Metadata)
	}
}

func describe(d Description) *wireDescription { return &wireDescription{SDP: d.SDP, Type: d.Type} }

// setMedia sets capabilities and metadata; non-nil empty metadata is sent
// as {} ("no streams").
func (w *wireContent) setMedia(c *Capabilities, m StreamMetadata) {
	if c != nil {
		w.Capabilities = &wireCapabilities{Transferee: c.Transferee, DTMF: c.DTMF}
	}
	if m != nil {
		streams := make(map[string]wireStream, len(m))
		for id, info := range m {
			streams[id] = wireStream(info)
		}
		w.Metadata = &streams
	}
}
