package jwtservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/switchboard-rtc/switchboard/internal/lktoken"
	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/jwtservice/openid"
)

// Config is what the service needs to know; cmd/coordinator fills it from the
// validated configuration.
type Config struct {
	LiveKitURL            string // handed to clients verbatim as "url"
	APIKey                string
	APISecret             secret.Value
	TokenTTL              time.Duration
	FullAccessHomeservers []string      // exact server names, or a lone "*"
	RoomCacheTTL          time.Duration // how long a room known to exist is remembered (default 30s)
	LiveKitTimeout        time.Duration // bound on a LiveKit API call (default 5s)
	RateLimit             RateLimit
	Now                   func() time.Time
}

// Verifier checks an OpenID token with the user's homeserver and returns the
// verified user id.
// *openid.Verifier is the real one.
type Verifier interface {
	Verify(ctx context.Context, tok openid.Token) (userID string, err error)
}

// Authorizer decides, after OpenID succeeded, whether a user may have a token
// for a Matrix room. The membership tracker implements it; a nil Authorizer
// allows everyone, as lk-jwt-service does. Return an error wrapping
// ErrNotRoomMember to refuse with 403.
type Authorizer interface {
	Authorize(ctx context.Context, userID, roomID string) error
}

// RoomService is the part of LiveKit's server API the service uses;
// lksdk's RoomServiceClient satisfies it.
type RoomService = roomCreator

// Deps are the service's collaborators.
type Deps struct {
	Verifier   Verifier      // required
	Rooms      RoomService   // required
	Authorizer Authorizer    // optional: nil allows everyone
	Webhooks   []WebhookSink // optional: receivers of verified LiveKit webhooks
	// CSAPI and DelayedLeaves together enable delegation of delayed leave
	// events (MSC4140) for full-access users; without them such requests
	// are refused as unresolvable.
	CSAPI         CSAPIResolver
	DelayedLeaves DelayedLeaves
	// SFU, if set, is reported by GET /healthz?detail=1.
	SFU SFUHealth
	// Names, if set, is told the LiveKit room of every token issued, so
	// enforcement judges rooms whose names no membership gives (a slot a
	// client asked for, a named call whose members left).
	Names RoomNamer
	// Metrics, if set, counts and times the requests.
	Metrics *Metrics
}

// RoomNamer is told which Matrix room a LiveKit room name was issued for.
type RoomNamer interface {
	Named(lkRoom, matrixRoom string)
}

// Service answers token requests and LiveKit webhooks.
type Service struct {
	logger   *slog.Logger
	cfg      Config
	verifier Verifier
	auth     Authorizer
	webhooks []WebhookSink
	csapi    CSAPIResolver
	delayed  DelayedLeaves
	names    RoomNamer
	sfu      SFUHealth
	issuer   *lktoken.Issuer
	rooms    *roomEnsurer
	limiter  *limiter
	hookKeys auth.KeyProvider // verifies LiveKit webhook signatures
	hooks    webhookStats     // for /healthz?detail=1
	metrics  *Metrics
}

// ErrTokenConfig means New got no LiveKit key, secret or token lifetime (it
// wraps lktoken.ErrConfig). It never reaches a client: New refuses to build.
var ErrTokenConfig = errors.New("jwtservice: LiveKit key, secret and token lifetime are required")

// New builds the service; it starts nothing.
func New(logger *slog.Logger, cfg Config, deps Deps) (*Service, error) {
	if cfg.RoomCacheTTL <= 0 {
		cfg.RoomCacheTTL = 30 * time.Second
	}
	if cfg.LiveKitTimeout <= 0 {
		cfg.LiveKitTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LiveKitURL == "" || deps.Verifier == nil || deps.Rooms == nil {
		return nil, errors.New("jwtservice: LiveKit URL, verifier and room service are required")
	}
	issuer, err := lktoken.New(cfg.APIKey, cfg.APISecret, cfg.TokenTTL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenConfig, err)
	}
	webhooks := deps.Webhooks
	if deps.DelayedLeaves != nil {
		webhooks = append([]WebhookSink{delegationSink{deps.DelayedLeaves}}, webhooks...)
	}
	return &Service{
		logger: logger, cfg: cfg, verifier: deps.Verifier, auth: deps.Authorizer, webhooks: webhooks,
		csapi: deps.CSAPI, delayed: deps.DelayedLeaves, names: deps.Names, sfu: deps.SFU, issuer: issuer,
		rooms:    newRoomEnsurer(deps.Rooms, cfg.RoomCacheTTL, cfg.LiveKitTimeout, cfg.Now),
		limiter:  newLimiter(cfg.RateLimit, cfg.Now),
		hookKeys: auth.NewSimpleKeyProvider(cfg.APIKey, cfg.APISecret.Reveal()),
		metrics:  deps.Metrics,
	}, nil
}

// isFullAccess matches the server name exactly; "*" is a wildcard only when
// it is the only entry (lk-jwt-service semantics).
func (s *Service) isFullAccess(serverName string) bool {
	list := s.cfg.FullAccessHomeservers
	if len(list) == 1 && list[0] == "*" {
		return true
	}
	return slices.Contains(list, serverName)
}

// grant is what a successful request produces.
type grant struct {
	URL string `json:"url"`
	JWT string `json:"jwt"`
}

// tokenJob is a validated request on its way to a JWT.
type tokenJob struct {
	openID      OpenIDToken
	claimedUser string // "" for /sfu/get, which has no member
	deviceID    string // the claimed device, for delegated leaves
	roomID      string // Matrix room
	identity    func(userID string) string
	lkRoom      string
	delay       Delay
}

// verify checks the OpenID token and, when the request names one, that the
// claimed user is the verified one.
func (s *Service) verify(ctx context.Context, tok OpenIDToken, claimedUser string) (string, error) {
	userID, err := s.verifier.Verify(ctx, openid.Token{
		AccessToken: tok.AccessToken, ServerName: tok.MatrixServerName, ExpiresIn: tok.ExpiresIn,
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if claimedUser != "" && claimedUser != userID {
		return "", fmt.Errorf("%w: claimed user %s is not the verified %s", ErrUnauthorized, claimedUser, userID)
	}
	return userID, nil
}

// issue runs the checks shared by /get_token and /sfu/get, in the anchor's
// order: OpenID, claimed user, delegation rights, our membership check,
// client-server API resolution for delegation, room creation for
// full-access users, the token, and last the delegation itself.
func (s *Service) issue(ctx context.Context, job tokenJob) (*grant, error) {
	userID, err := s.verify(ctx, job.openID, job.claimedUser)
	if err != nil {
		return nil, err
	}
	full := s.isFullAccess(job.openID.MatrixServerName)
	if job.delay.present() && !full {
		return nil, ErrDelegationNotAllowed
	}
	if s.auth != nil {
		if err := s.auth.Authorize(ctx, userID, job.roomID); err != nil {
			return nil, err
		}
	}
	var csapi string
	if job.delay.present() {
		if csapi, err = s.resolveDelegation(ctx, job.openID.MatrixServerName); err != nil {
			return nil, err
		}
	}
	if full {
		if err := s.rooms.ensure(ctx, job.lkRoom); err != nil {
			return nil, err
		}
	}
	identity := job.identity(userID)
	jwt, err := s.issuer.Issue(identity, job.lkRoom)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	if s.names != nil {
		s.names.Named(job.lkRoom, job.roomID)
	}
	if job.delay.present() {
		if err := s.delegate(ctx, csapi, delegationRequest{
			serverName: job.openID.MatrixServerName, lkRoom: job.lkRoom, identity: identity, delay: job.delay,
			userID: userID, deviceID: job.deviceID,
		}); err != nil {
			return nil, err
		}
	}
	return &grant{URL: s.cfg.LiveKitURL, JWT: jwt}, nil
}

// ForgetRoom drops a LiveKit room from the cache of rooms known to exist,
// for whoever deleted it: the next token for it makes sure it exists again.
func (s *Service) ForgetRoom(name string) { s.rooms.forget(name) }

// EnsureRoom makes the LiveKit room exist for the engine's own participant,
// whose token is minted without a request. Unlike a token request it never
// trusts the cache: the engine asks when it (re)joins, which is when LiveKit
// may have restarted and lost every room it had (with auto_create off, the
// join is then refused until the cache entry expires). Its CreateRoom
// refreshes the cache for the clients' requests too.
func (s *Service) EnsureRoom(ctx context.Context, name string) error {
	s.rooms.forget(name)
	return s.rooms.ensure(ctx, name)
}
