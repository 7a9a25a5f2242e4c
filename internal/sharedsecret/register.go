// Package sharedsecret registers Matrix users through Synapse's admin
// registration API with the registration shared secret. It is for
// development and tests: `make run` registers the bot and test users with it.
package sharedsecret

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// ErrUserInUse is returned when the user already exists.
var ErrUserInUse = errors.New("sharedsecret: user id already taken")

// maxResponse caps what is read from the homeserver.
const maxResponse = 1 << 20

// User is a registered account.
type User struct {
	UserID      string       `json:"user_id"`
	AccessToken secret.Value `json:"-"`
	DeviceID    string       `json:"device_id"`
}

// Register creates localpart with password on the homeserver at hsURL.
func Register(ctx context.Context, hc *http.Client, hsURL string, shared secret.Value, localpart string, password secret.Value, admin bool) (*User, error) {
	endpoint := strings.TrimRight(hsURL, "/") + "/_synapse/admin/v1/register"
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := call(ctx, hc, http.MethodGet, endpoint, "", nil, &nonce); err != nil {
		return nil, err
	}
	kind := "notadmin"
	if admin {
		kind = "admin"
	}
	mac := hmac.New(sha1.New, []byte(shared.Reveal()))
	mac.Write([]byte(nonce.Nonce + "\x00" + localpart + "\x00" + password.Reveal() + "\x00" + kind))
	body, err := json.Marshal(map[string]any{
		"nonce": nonce.Nonce, "username": localpart, "password": password.Reveal(),
		"admin": admin, "mac": hex.EncodeToString(mac.Sum(nil)),
	})
	if err != nil {
		return nil, err
	}
	var resp struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if err := call(ctx, hc, http.MethodPost, endpoint, "", body, &resp); err != nil {
		return nil, err
	}
	return &User{UserID: resp.UserID, AccessToken: secret.Value(resp.AccessToken), DeviceID: resp.DeviceID}, nil
}

// call sends body (JSON) with token as its bearer when there is one and
// decodes a 200 answer into out.
func call(ctx context.Context, hc *http.Client, method, url string, token secret.Value, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sharedsecret: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if !token.IsZero() {
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("sharedsecret: %s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("sharedsecret: read response: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		var merr struct {
			Errcode string `json:"errcode"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(data, &merr)
		if merr.Errcode == "M_USER_IN_USE" {
			return ErrUserInUse
		}
		return fmt.Errorf("sharedsecret: %s %s: HTTP %d %s %s", method, url, res.StatusCode, merr.Errcode, merr.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("sharedsecret: decode response: %w", err)
	}
	return nil
}
