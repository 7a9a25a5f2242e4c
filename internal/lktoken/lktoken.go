// Package lktoken mints LiveKit access tokens: for the HTTP edge
// (jwtservice), which hands them to Matrix clients, and for a media engine
// that joins a call as its own participant.
package lktoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// Sentinel errors of the package.
var (
	// ErrConfig means the issuer lacks a key, secret or lifetime.
	ErrConfig = errors.New("lktoken: LiveKit key, secret and token lifetime are required")
	// ErrGrant means a grant names no identity or room, or has a negative
	// lifetime.
	ErrGrant = errors.New("lktoken: a grant needs an identity, a room and a lifetime that is not negative")
)

// jwtHeader is base64url({"alg":"HS256","typ":"JWT"}), the header every
// LiveKit access token carries.
const jwtHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// Grant is what one token lets its holder do in one LiveKit room. A false
// permission is written out as false: LiveKit reads a missing canPublish or
// canSubscribe as true.
type Grant struct {
	Identity string
	Room     string
	// Name and Metadata are the participant's display name and metadata;
	// empty ones are left out of the token.
	Name     string
	Metadata string

	CanPublish           bool
	CanSubscribe         bool
	CanPublishData       bool
	CanUpdateOwnMetadata bool

	// TTL is how long the token is valid; 0 means the issuer's lifetime.
	TTL time.Duration
}

// ClientGrant is the grant lk-jwt-service gives a Matrix client: join,
// publish (media and data), subscribe and update its own metadata. Room
// creation is never granted: rooms are made to exist by the service.
func ClientGrant(identity, room string) Grant {
	return Grant{
		Identity: identity, Room: room,
		CanPublish: true, CanSubscribe: true, CanPublishData: true, CanUpdateOwnMetadata: true,
	}
}

// Issuer mints LiveKit access tokens (HS256, signed with the API secret). It
// writes the same claims as livekit/protocol's AccessToken (a test holds the
// two equal) without its reflection-heavy path: token signing is most of the
// cost of a warm token request. It is safe for concurrent use.
type Issuer struct {
	key  string
	ttl  time.Duration
	now  func() time.Time
	macs sync.Pool // of hash.Hash keyed with the secret
}

// New returns an issuer for one LiveKit API key whose tokens live ttl unless
// a grant says otherwise.
func New(key string, sec secret.Value, ttl time.Duration) (*Issuer, error) {
	if key == "" || sec.IsZero() || ttl <= 0 {
		return nil, ErrConfig
	}
	mac := []byte(sec.Reveal())
	i := &Issuer{key: key, ttl: ttl, now: time.Now}
	i.macs.New = func() any { return hmac.New(sha256.New, mac) }
	return i, nil
}

// videoGrant is the "video" claim.
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
	Name      string     `json:"name,omitempty"`
	Video     videoGrant `json:"video"`
	Metadata  string     `json:"metadata,omitempty"`
}

// Issue returns a token with the ClientGrant of identity in room.
func (i *Issuer) Issue(identity, room string) (string, error) {
	return i.Mint(ClientGrant(identity, room))
}

// Mint returns a token for g.
func (i *Issuer) Mint(g Grant) (string, error) {
	if g.Identity == "" || g.Room == "" || g.TTL < 0 {
		return "", ErrGrant
	}
	ttl := g.TTL
	if ttl == 0 {
		ttl = i.ttl
	}
	now := i.now()
	payload, err := json.Marshal(claims{
		Issuer: i.key, Subject: g.Identity, Identity: g.Identity, Name: g.Name, Metadata: g.Metadata,
		Expires: now.Add(ttl).Unix(), NotBefore: now.Unix(), IssuedAt: now.Unix(),
		Video: videoGrant{
			RoomJoin: true, Room: g.Room, CanPublish: g.CanPublish, CanSubscribe: g.CanSubscribe,
			CanPublishData: g.CanPublishData, CanUpdateOwnMetadata: g.CanUpdateOwnMetadata,
		},
	})
	if err != nil {
		return "", fmt.Errorf("lktoken: encode claims: %w", err)
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
