package livekit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/lkid"
	"github.com/switchboard-rtc/switchboard/internal/lktoken"
	"github.com/switchboard-rtc/switchboard/membership"
)

// Errors of getting a token for our participant.
var (
	ErrFocus     = errors.New("livekit: the focus names no usable service")
	ErrFocusDeny = errors.New("livekit: the focus's service refused us a token")
)

// Join is how our participant joins one call's LiveKit room.
type Join struct {
	URL      string // the LiveKit server's WebSocket URL
	Token    string
	Room     string // the LiveKit room name
	Identity string // our identity in it
}

// OpenIDToken is the bot's OpenID token, as a client sends it to a focus.
type OpenIDToken struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	MatrixServerName string `json:"matrix_server_name"`
	ExpiresIn        int    `json:"expires_in"`
}

// FocusTokens gets our participant its LiveKit token as the call's clients
// get theirs: minted by us when the focus's livekit_service_url is this
// coordinator, otherwise from that focus's service with the bot's OpenID
// token (/sfu/get, as Element Call in state-event mode and the Famedly SDK
// do). Our identity is the legacy "@bot:server:DEVICE" of our memberships;
// the room is the one /sfu/get names for the Matrix room.
type FocusTokens struct {
	// Self names the bot's user and device (known once it has logged in).
	Self func() (id.UserID, id.DeviceID)
	// Own lists the service URLs that are this coordinator (compared without
	// a trailing slash); Mint and LiveKitURL serve them.
	Own        []string
	Mint       *lktoken.Issuer
	LiveKitURL string
	// EnsureRoom, if set, makes the LiveKit room exist before a minted
	// token is used (LiveKit may not create rooms on join).
	EnsureRoom func(ctx context.Context, room string) error
	// OpenID asks the homeserver for a fresh OpenID token of the bot.
	OpenID func(ctx context.Context) (OpenIDToken, error)
	HTTP   *http.Client
}

// Token returns how to join call on focus.
func (f *FocusTokens) Token(ctx context.Context, call membership.CallKey, focus membership.Focus) (Join, error) {
	user, device := f.Self()
	identity := lkid.Legacy(string(user), string(device))
	svc := strings.TrimRight(focus.LiveKitServiceURL, "/")
	if focus.Type != "livekit" || svc == "" {
		return Join{}, fmt.Errorf("%w: %+v", ErrFocus, focus)
	}
	for _, own := range f.Own {
		if strings.TrimRight(own, "/") == svc && f.Mint != nil {
			room := lkid.Room(string(call.Room), legacySlot)
			if f.EnsureRoom != nil {
				if err := f.EnsureRoom(ctx, room); err != nil {
					return Join{}, fmt.Errorf("livekit: make room %s exist: %w", room, err)
				}
			}
			tok, err := f.Mint.Issue(identity, room)
			if err != nil {
				return Join{}, fmt.Errorf("livekit: mint our token: %w", err)
			}
			return Join{URL: f.LiveKitURL, Token: tok, Room: room, Identity: identity}, nil
		}
	}
	return f.fetch(ctx, svc, call.Room, device, identity)
}

// maxTokenResponse bounds what a focus's service may answer.
const maxTokenResponse = 64 << 10

// fetch asks the focus's service with /sfu/get, as a client does.
func (f *FocusTokens) fetch(ctx context.Context, svc string, room id.RoomID, device id.DeviceID, identity string) (Join, error) {
	if !strings.HasPrefix(svc, "https://") && !strings.HasPrefix(svc, "http://") {
		return Join{}, fmt.Errorf("%w: %q is not an http(s) URL", ErrFocus, svc)
	}
	if f.OpenID == nil {
		return Join{}, fmt.Errorf("%w: no OpenID token source", ErrFocus)
	}
	oid, err := f.OpenID(ctx)
	if err != nil {
		return Join{}, fmt.Errorf("livekit: OpenID token for %s: %w", svc, err)
	}
	body, _ := json.Marshal(map[string]any{"room": room, "openid_token": oid, "device_id": device})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, svc+"/sfu/get", bytes.NewReader(body))
	if err != nil {
		return Join{}, fmt.Errorf("%w: %v", ErrFocus, err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := f.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Join{}, fmt.Errorf("livekit: ask %s for a token: %w", svc, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return Join{}, fmt.Errorf("livekit: read %s's answer: %w", svc, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Join{}, fmt.Errorf("%w: %s answered %d: %.200s", ErrFocusDeny, svc, resp.StatusCode, raw)
	}
	var out struct {
		URL string `json:"url"`
		JWT string `json:"jwt"`
	}
	if len(raw) > maxTokenResponse || json.Unmarshal(raw, &out) != nil || out.URL == "" || out.JWT == "" {
		return Join{}, fmt.Errorf("%w: %s answered no url and jwt", ErrFocusDeny, svc)
	}
	name, sub, err := tokenNames(out.JWT)
	if err != nil {
		return Join{}, fmt.Errorf("%w: %s: %v", ErrFocusDeny, svc, err)
	}
	if sub == "" {
		sub = identity
	}
	return Join{URL: out.URL, Token: out.JWT, Room: name, Identity: sub}, nil
}

// tokenNames reads the room and identity from a LiveKit JWT's payload, as
// Element Call does (the signature is LiveKit's to check).
func tokenNames(jwt string) (room, identity string, err error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", "", errors.New("not a JWT")
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return "", "", fmt.Errorf("JWT payload: %w", err)
	}
	var claims struct {
		Sub   string `json:"sub"`
		Video struct {
			Room string `json:"room"`
		} `json:"video"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", "", fmt.Errorf("JWT payload: %w", err)
	}
	return claims.Video.Room, claims.Sub, nil
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
