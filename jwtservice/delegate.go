package jwtservice

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/livekit/protocol/livekit"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/jwtservice/delegation"
)

// CSAPIResolver finds a homeserver's client-server API base URL;
// *delegation.Resolver is the real one.
type CSAPIResolver interface {
	Resolve(ctx context.Context, serverName string) (string, error)
}

// DelayedLeaves keeps delegated delayed leave events alive while their
// participant is in the LiveKit room; *delegation.Manager is the real one.
type DelayedLeaves interface {
	Add(ctx context.Context, p delegation.Params) error
	HandleWebhook(ev delegation.Event)
}

// delegationRequest is a delayed leave to hand over once a request passed
// its checks.
type delegationRequest struct {
	serverName, lkRoom, identity string
	userID, deviceID             string
	delay                        Delay
}

// resolveDelegation runs before the room is made to exist, as upstream does,
// so a request that cannot be delegated leaves no room behind.
func (s *Service) resolveDelegation(ctx context.Context, serverName string) (string, error) {
	if s.csapi == nil || s.delayed == nil {
		return "", fmt.Errorf("%w: delegation is not configured", ErrCSAPIUnresolvable)
	}
	u, err := s.csapi.Resolve(ctx, serverName)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCSAPIUnresolvable, err)
	}
	return u, nil
}

// delegate hands the delayed leave to the job manager.
func (s *Service) delegate(ctx context.Context, csapi string, d delegationRequest) error {
	err := s.delayed.Add(ctx, delegation.Params{
		Room: d.lkRoom, Identity: d.identity, UserID: d.userID, DeviceID: d.deviceID,
		DelayID: d.delay.ID, DelayTimeout: d.delay.Timeout, CSAPIURL: csapi,
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, delegation.ErrShuttingDown), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrShuttingDown, err)
	case errors.Is(err, delegation.ErrTooManyJobs):
		return fmt.Errorf("%w: %w", ErrTooManyDelegations, err)
	case errors.Is(err, delegation.ErrTooManyUserJobs):
		return fmt.Errorf("%w: %w", ErrTooManyUserDelegations, err)
	default:
		return fmt.Errorf("%w: %w", ErrBadDelegation, err)
	}
}

// handleDelegate serves POST /delegate_delayed_leave: the /get_token body
// with the delay fields required; no token is issued and no room is made.
func (s *Service) handleDelegate(w http.ResponseWriter, r *http.Request) {
	req, err := DecodeDelegateRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	userID, err := s.verify(ctx, req.OpenID, req.Member.ClaimedUserID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.isFullAccess(req.OpenID.MatrixServerName) {
		s.fail(w, r, ErrDelegationForbidden)
		return
	}
	// The same room check as a token: a job is held for a call the user
	// may join, never for any room name a full-access user makes up.
	if s.auth != nil {
		if err := s.auth.Authorize(ctx, userID, req.RoomID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	csapi, err := s.resolveDelegation(ctx, req.OpenID.MatrixServerName)
	if err == nil {
		err = s.delegate(ctx, csapi, delegationRequest{
			serverName: req.OpenID.MatrixServerName,
			lkRoom:     LiveKitRoomFor(req.RoomID, req.SlotID),
			identity:   LiveKitIdentityFor(userID, req.Member.ClaimedDeviceID, req.Member.ID),
			userID:     userID, deviceID: req.Member.ClaimedDeviceID,
			delay: req.Delay,
		})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, struct{}{})
}

// delegationSink forwards LiveKit participant events to the job manager.
type delegationSink struct{ m DelayedLeaves }

func (d delegationSink) HandleLiveKitEvent(ev *livekit.WebhookEvent) {
	if e, ok := delegation.EventFromWebhook(ev); ok {
		d.m.HandleWebhook(e)
	}
}
