package jwtservice

import (
	"errors"
	"fmt"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// ErrTokenConfig means the issuer lacks a key, secret or lifetime.
var ErrTokenConfig = errors.New("jwtservice: LiveKit key, secret and token lifetime are required")

// TokenIssuer mints LiveKit access tokens (HS256, signed with the API secret).
type TokenIssuer struct {
	key    string
	secret secret.Value
	ttl    time.Duration
}

// NewTokenIssuer returns an issuer for one LiveKit API key.
func NewTokenIssuer(key string, sec secret.Value, ttl time.Duration) (*TokenIssuer, error) {
	if key == "" || sec.IsZero() || ttl <= 0 {
		return nil, ErrTokenConfig
	}
	return &TokenIssuer{key: key, secret: sec, ttl: ttl}, nil
}

// Issue returns a token that lets identity join room with the grants
// lk-jwt-service gives: join, publish (media and data), subscribe and update
// its own metadata. It never grants roomCreate: rooms are made to exist by the
// service itself, for full-access homeservers only.
func (i *TokenIssuer) Issue(identity, room string) (string, error) {
	grant := &auth.VideoGrant{RoomJoin: true, Room: room}
	grant.SetCanPublish(true)
	grant.SetCanSubscribe(true)
	grant.SetCanPublishData(true)
	grant.SetCanUpdateOwnMetadata(true)
	at := auth.NewAccessToken(i.key, i.secret.Reveal()).
		SetIdentity(identity).
		SetValidFor(i.ttl).
		SetVideoGrant(grant)
	jwt, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("jwtservice: sign LiveKit token: %w", err)
	}
	return jwt, nil
}
