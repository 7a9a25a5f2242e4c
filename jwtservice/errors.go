package jwtservice

import (
	"errors"
	"net/http"

	"github.com/switchboard-rtc/switchboard/internal/httpserve"
)

// Sentinel errors of the service. Handlers return them (wrapped with %w and
// context for the log); writeError turns them into Matrix errors through the
// one table below, so every failure has exactly one status, errcode and text.
var (
	ErrNotJSON              = errors.New("request body is not valid JSON")
	ErrMissingRoomSlot      = errors.New("room_id or slot_id missing")
	ErrMissingMember        = errors.New("member field missing")
	ErrMissingOpenID        = errors.New("openid_token field missing")
	ErrMissingDelay         = errors.New("delay_id or delay_timeout missing")
	ErrLegacyMissingRoom    = errors.New("room missing")
	ErrLegacyMissingOpenID  = errors.New("openid_token field missing (legacy)")
	ErrBadIdentifier        = errors.New("identifier too long or not printable")
	ErrUnauthorized         = errors.New("openid token not verified")
	ErrNotRoomMember        = errors.New("user not joined to the room")
	ErrRoomNotServed        = errors.New("the coordinator is not in the room")
	ErrDelegationNotAllowed = errors.New("delayed-event delegation needs a full-access homeserver")
	ErrDelegationForbidden  = errors.New("delayed-event delegation needs a full-access homeserver (delegate endpoint)")
	ErrCSAPIUnresolvable    = errors.New("client-server API of the homeserver could not be resolved")
	ErrBadDelegation        = errors.New("delayed-event delegation refused")
	ErrTooManyDelegations   = errors.New("too many delegated delayed events")
	ErrCreateRoom           = errors.New("LiveKit refused to create the room")
	ErrLiveKitUnreachable   = errors.New("LiveKit unreachable")
	ErrRateLimited          = errors.New("rate limited")
	ErrShuttingDown         = errors.New("service shutting down")
	ErrInternal             = errors.New("internal error")
)

// ErrTooManyUserDelegations means the user holds as many delegated leaves as
// one user may (livekit.delegation_max_per_user).
var ErrTooManyUserDelegations = errors.New("too many delegated delayed events for one user")

// matrixError is one row of the response table.
type matrixError struct {
	status  int
	errcode string
	text    string
}

// errorTable pins the wire answer for every failure. The texts and codes are
// lk-jwt-service's (reference §1.2-1.4); Element Call's fallback from
// /get_token to /sfu/get depends on the status codes.
var errorTable = []struct {
	err error
	matrixError
}{
	{ErrNotJSON, matrixError{http.StatusBadRequest, "M_NOT_JSON", "Error reading request"}},
	{ErrMissingRoomSlot, matrixError{http.StatusBadRequest, "M_BAD_JSON", "The request body is missing `room_id` or `slot_id`"}},
	{ErrMissingMember, matrixError{http.StatusBadRequest, "M_BAD_JSON", "The request body `member` is missing a `id`, `claimed_user_id` or `claimed_device_id`"}},
	{ErrMissingOpenID, matrixError{http.StatusBadRequest, "M_BAD_JSON", "The request body `openid_token` is missing a `access_token` or `matrix_server_name`"}},
	{ErrMissingDelay, matrixError{http.StatusBadRequest, "M_BAD_JSON", "The request body is missing `delay_id` or `delay_timeout`"}},
	{ErrLegacyMissingRoom, matrixError{http.StatusBadRequest, "M_BAD_JSON", "Missing room parameter"}},
	{ErrLegacyMissingOpenID, matrixError{http.StatusBadRequest, "M_BAD_JSON", "Missing OpenID token parameters"}},
	{ErrBadIdentifier, matrixError{http.StatusBadRequest, "M_BAD_JSON", "The request body has an identifier that is too long or not printable"}},
	{ErrUnauthorized, matrixError{http.StatusUnauthorized, "M_UNAUTHORIZED", "The request could not be authorised."}},
	{ErrNotRoomMember, matrixError{http.StatusForbidden, "M_FORBIDDEN", "You are not a member of this room, so you cannot join its call"}},
	{ErrRoomNotServed, matrixError{http.StatusForbidden, "M_FORBIDDEN", "This service only serves calls in rooms its bot is in: invite the bot to the room"}},
	{ErrDelegationNotAllowed, matrixError{http.StatusBadRequest, "M_BAD_JSON", "Delegation of delayed events is only supported for full access users"}},
	{ErrDelegationForbidden, matrixError{http.StatusForbidden, "M_FORBIDDEN", "Delegation of delayed events is only supported for full access users"}},
	{ErrCSAPIUnresolvable, matrixError{http.StatusBadRequest, "M_BAD_JSON", "Unable to resolve client-server API"}},
	{ErrBadDelegation, matrixError{http.StatusBadRequest, "M_BAD_JSON", "Invalid delayed event parameters"}},
	{ErrTooManyDelegations, matrixError{http.StatusServiceUnavailable, "M_UNKNOWN", "Too many delegated delayed events"}},
	{ErrTooManyUserDelegations, matrixError{http.StatusTooManyRequests, "M_LIMIT_EXCEEDED", "Too many delegated delayed events for this user: leave a call first"}},
	{ErrCreateRoom, matrixError{http.StatusInternalServerError, "M_UNKNOWN", "Unable to create room on SFU"}},
	{ErrLiveKitUnreachable, matrixError{http.StatusServiceUnavailable, "M_UNKNOWN", "Unable to create room on SFU: LiveKit is unreachable"}},
	{ErrRateLimited, matrixError{http.StatusTooManyRequests, "M_LIMIT_EXCEEDED", "Too many requests"}},
	{ErrShuttingDown, matrixError{http.StatusServiceUnavailable, "M_UNKNOWN", "Service is shutting down"}},
	{ErrInternal, matrixError{http.StatusInternalServerError, "M_UNKNOWN", "Internal Server Error"}},
}

// lookupError finds err's row; anything unknown is an internal error.
func lookupError(err error) matrixError {
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			return row.matrixError
		}
	}
	return errorTable[len(errorTable)-1].matrixError
}

// writeError writes err as a Matrix error body. The body never contains the
// wrapped detail: that goes to the log only.
func writeError(w http.ResponseWriter, err error) {
	me := lookupError(err)
	noteErrcode(w, me.errcode)
	httpserve.WriteJSON(w, me.status, map[string]string{"errcode": me.errcode, "error": me.text})
}
