package jwtservice

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// ErrTokenConfig means the issuer lacks a key, secret or lifetime.
var ErrTokenConfig = errors.New("jwtservice: LiveKit key, secret and token lifetime are required")

// jwtHeader is base64url({"alg":"HS256","typ":"JWT"}), the header every
// LiveKit access token carries.
const jwtHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// TokenIssuer mints LiveKit access tokens (HS256, signed with the API
// secret). It writes the same claims as livekit/protocol's AccessToken (a
// test holds the two equal) without its reflection-heavy path: token
// signing is most of the cost of a warm request.
type TokenIssuer struct {
	key  string
	ttl  time.Duration
	now  func() time.Time
	macs sync.Pool // of hash.Hash keyed with the secret
}

// NewTokenIssuer returns an issuer for one LiveKit API key.
func NewTokenIssuer(key string, sec secret.Value, ttl time.Duration) (*TokenIssuer, error) {
	if key == "" || sec.IsZero() || ttl <= 0 {
		return nil, ErrTokenConfig
	}
	mac := []byte(sec.Reveal())
	i := &TokenIssuer{key: key, ttl: ttl, now: time.Now}
	i.macs.New = func() any { return hmac.New(sha256.New, mac) }
	return i, nil
}

// videoGrant is the "video" claim: join, publish (media and data),
// subscribe and update own metadata, as lk-jwt-service grants. roomCreate is
// never granted: rooms are made to exist by the service, for full-access
// homeservers only.
type videoGrant struct {
	RoomJoin             bool   `json:"roomJoin"`
	Room                 string `json:"room"`
	CanPublish           bool   `json:"canPublish"`
	CanSubscribe         bool   `json:"canSubscribe"`
	CanPublishData       bool   `json:"canPublishData"`
	CanUpdateOwnMetadata bool   `json:"canUpdateOwnMetadata"`
}

// claims is the payload, in livekit/protocol's field order.
type claims struct {
	Issuer    string     `json:"iss"`
	Subject   string     `json:"sub"`
	Expires   int64      `json:"exp"`
	NotBefore int64      `json:"nbf"`
	IssuedAt  int64      `json:"iat"`
	Identity  string     `json:"identity"`
	Video     videoGrant `json:"video"`
}

// Issue returns a token that lets identity join room.
func (i *TokenIssuer) Issue(identity, room string) (string, error) {
	now := i.now()
	payload, err := json.Marshal(claims{
		Issuer: i.key, Subject: identity, Identity: identity,
		Expires: now.Add(i.ttl).Unix(), NotBefore: now.Unix(), IssuedAt: now.Unix(),
		Video: videoGrant{RoomJoin: true, Room: room, CanPublish: true, CanSubscribe: true, CanPublishData: true, CanUpdateOwnMetadata: true},
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(jwtHeader)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sha256.Size))
	buf = append(buf, jwtHeader...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)

	mac := i.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(buf)
	var sum [sha256.Size]byte
	sig := mac.Sum(sum[:0])
	i.macs.Put(mac)

	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}
