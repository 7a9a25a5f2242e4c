package sharedsecret

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// SetPassword sets the password of the existing user userID (full id) on
// the homeserver at hsURL, its devices left logged in. The shared secret
// cannot do that itself, so a throwaway admin is registered with it, sets
// the password through Synapse's admin API, and is deactivated again.
// make run uses it when its data dir was made anew for a homeserver that
// already has the bot's account.
func SetPassword(ctx context.Context, hc *http.Client, hsURL string, shared secret.Value, userID string, password secret.Value) error {
	base := strings.TrimRight(hsURL, "/")
	admin, err := Register(ctx, hc, hsURL, shared, "switchboard-reset-"+strings.ToLower(rand.Text()[:12]),
		secret.Value(rand.Text()), true)
	if err != nil {
		return fmt.Errorf("sharedsecret: set password: %w", err)
	}
	body, err := json.Marshal(map[string]any{"password": password.Reveal(), "logout_devices": false})
	if err != nil {
		return err
	}
	var ignored map[string]any
	setErr := call(ctx, hc, http.MethodPut, base+"/_synapse/admin/v2/users/"+url.PathEscape(userID), admin.AccessToken,
		body, &ignored)
	delErr := call(ctx, hc, http.MethodPost, base+"/_synapse/admin/v1/deactivate/"+url.PathEscape(admin.UserID),
		admin.AccessToken, []byte(`{"erase":true}`), &ignored)
	if delErr != nil {
		delErr = fmt.Errorf("sharedsecret: deactivate the throwaway admin %s: %w", admin.UserID, delErr)
	}
	if setErr != nil {
		setErr = fmt.Errorf("sharedsecret: set password of %s: %w", userID, setErr)
	}
	return errors.Join(setErr, delErr)
}
