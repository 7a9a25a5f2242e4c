package sharedsecret_test

import (
	"crypto/rand"
	"errors"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/sharedsecret"
	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestSetPassword: on the real Synapse, an existing account gets a new
// password (the old one stops working), through a throwaway admin that is
// deactivated afterwards.
func TestSetPassword(t *testing.T) {
	env := testenv.Require(t)
	user, old := env.RegisterAccount(t, "reset")
	fresh := secret.Value(rand.Text())
	if err := sharedsecret.SetPassword(t.Context(), env.HTTPClient(), env.HSURL, env.SharedSecret, string(user), fresh); err != nil {
		t.Fatal(err)
	}
	login := func(pw secret.Value) error {
		cli, err := mautrix.NewClient(env.HSURL, "", "")
		if err != nil {
			t.Fatal(err)
		}
		cli.Client = env.HTTPClient()
		_, err = cli.Login(t.Context(), &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
			Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.Localpart()},
			Password:   pw.Reveal()})
		return err
	}
	if err := login(fresh); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if err := login(old); !errors.Is(err, mautrix.MForbidden) {
		t.Fatalf("the old password still works (or another error): %v", err)
	}
}
