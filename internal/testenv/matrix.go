package testenv

import (
	"crypto/rand"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/sharedsecret"
)

// Call-member state event types. Rooms made by CreateRoom let every member
// send them (Element Call rooms do the same; the private_chat default of
// power level 50 makes clients' membership managers fail).
var (
	FamedlyCallMember   = event.Type{Type: "com.famedly.call.member", Class: event.StateEventType}
	MatrixRTCCallMember = event.Type{Type: "org.matrix.msc3401.call.member", Class: event.StateEventType}
)

// User is a registered, logged-in test user.
type User struct {
	ID       id.UserID
	Password secret.Value
	Client   *mautrix.Client
}

// RegisterUser registers a new user whose localpart starts with prefix
// (a random suffix keeps tests independent) and logs it in with its password,
// giving a fresh device.
func (e *Env) RegisterUser(t testing.TB, prefix string) *User {
	t.Helper()
	user, password := e.RegisterAccount(t, prefix)
	return &User{ID: user, Password: password, Client: e.Login(t, user.Localpart(), password)}
}

// RegisterAccount registers a fresh account "prefix-<random>" and returns
// it without logging in: for the coordinator's bot, which logs in itself
// (a login here would give the bot a device it never uses).
func (e *Env) RegisterAccount(t testing.TB, prefix string) (id.UserID, secret.Value) {
	t.Helper()
	localpart := strings.ToLower(prefix + "-" + rand.Text()[:10])
	password := secret.Value(rand.Text())
	if _, err := sharedsecret.Register(t.Context(), e.http, e.HSURL, e.SharedSecret, localpart, password, false); err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	return id.NewUserID(localpart, e.ServerName), password
}

// Login logs localpart in with a password and returns its client.
func (e *Env) Login(t testing.TB, localpart string, password secret.Value) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(e.HSURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cli.Client = e.http
	_, err = cli.Login(t.Context(), &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:         password.Reveal(),
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("login %s: %v", localpart, err)
	}
	return cli
}

// CreateRoom creates a private room owned by creator, invites and joins the
// given members, and lets every member send call-member state.
func (e *Env) CreateRoom(t testing.TB, creator *User, members ...*User) id.RoomID {
	t.Helper()
	invite := make([]id.UserID, 0, len(members))
	for _, m := range members {
		invite = append(invite, m.ID)
	}
	resp, err := creator.Client.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Name:   "switchboard test " + t.Name(),
		Invite: invite,
		PowerLevelOverride: &event.PowerLevelsEventContent{
			Users: map[id.UserID]int{creator.ID: 100},
			Events: map[string]int{
				FamedlyCallMember.Type:   0,
				MatrixRTCCallMember.Type: 0,
			},
		},
	})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	for _, m := range members {
		if _, err := m.Client.JoinRoomByID(t.Context(), resp.RoomID); err != nil {
			t.Fatalf("%s joins %s: %v", m.ID, resp.RoomID, err)
		}
	}
	return resp.RoomID
}

// OpenIDToken asks the homeserver for an OpenID token for u, as a client does
// before calling the livekit_service_url.
func (e *Env) OpenIDToken(t testing.TB, u *User) *mautrix.RespOpenIDToken {
	t.Helper()
	tok, err := u.Client.RequestOpenIDToken(t.Context())
	if err != nil {
		t.Fatalf("openid token for %s: %v", u.ID, err)
	}
	return tok
}
