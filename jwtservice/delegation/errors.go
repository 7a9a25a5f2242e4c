package delegation

import "errors"

// Sentinel errors. Functions wrap them with %w and a detail that never
// contains a full delay id (it is a capability).
var (
	// ErrBadParams means Add refused the job's parameters (empty or
	// oversized room or identity, bad delay id, non-positive timeout,
	// unusable CS-API URL). The HTTP edge answers 400 M_BAD_JSON.
	ErrBadParams = errors.New("delegation: invalid job parameters")
	// ErrShuttingDown means the manager was closed or its Run context
	// ended; no job was added. The HTTP edge answers 503 M_UNKNOWN.
	ErrShuttingDown = errors.New("delegation: shutting down")
	// ErrTooManyJobs means the job table is full (Config.MaxJobs) and the
	// job would not have replaced an existing one.
	ErrTooManyJobs = errors.New("delegation: too many delegated jobs")
	// ErrTooManyUserJobs means the job's user already holds
	// Config.MaxJobsPerUser jobs and the job would not have replaced one.
	ErrTooManyUserJobs = errors.New("delegation: too many delegated jobs for one user")
	// ErrAlreadyRunning means Run was called more than once.
	ErrAlreadyRunning = errors.New("delegation: Run called more than once")
	// ErrParticipantNotFound may be returned (wrapped) by a Participants
	// implementation to say the participant is confirmed absent. A Twirp
	// NotFound error, as lksdk.RoomServiceClient returns, means the same.
	ErrParticipantNotFound = errors.New("delegation: participant not found")
	// ErrCSAPIUnresolvable means the Resolver found no client-server API
	// base URL for a server name. The HTTP edge answers 400 M_BAD_JSON
	// "Unable to resolve client-server API".
	ErrCSAPIUnresolvable = errors.New("delegation: client-server API could not be resolved")
)
