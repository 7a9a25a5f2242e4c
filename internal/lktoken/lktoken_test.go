package lktoken

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
)

func TestIssueGrantsAndClaims(t *testing.T) {
	iss, err := New("devkey", "devsecret", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue("@alice:example.org:DEVICE", "room-alias")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte("devsecret"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("devkey"), jwt.WithSubject("@alice:example.org:DEVICE"))
	if err != nil || !parsed.Valid {
		t.Fatalf("parse: %v", err)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 59*time.Minute || d > time.Hour+time.Minute {
		t.Errorf("exp in %s, want about 1h", d)
	}
	video, _ := claims["video"].(map[string]any)
	want := map[string]any{"room": "room-alias", "roomJoin": true, "canPublish": true, "canSubscribe": true,
		"canPublishData": true, "canUpdateOwnMetadata": true}
	for k, v := range want {
		if video[k] != v {
			t.Errorf("video.%s = %v, want %v", k, video[k], v)
		}
	}
	if video["roomCreate"] == true {
		t.Error("roomCreate granted")
	}
}

// TestIssueBytesUnchanged pins the token of a fixed instant to the bytes
// jwtservice minted before the issuer moved here: clients and LiveKit saw
// exactly these, and a refactor must not change them.
func TestIssueBytesUnchanged(t *testing.T) {
	iss, _ := New("devkey", "devsecret", time.Hour)
	iss.now = func() time.Time { return time.Unix(1_800_000_000, 0) }
	got, err := iss.Issue("@alice:example.org:DEV", "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc")
	if err != nil {
		t.Fatal(err)
	}
	const want = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJpc3MiOiJkZXZrZXkiLCJzdWIiOiJAYWxpY2U6ZXhhbXBsZS5vcmc6REVWIiwiZXhwIjoxODAwMDAzNjAwLCJuYmYiOjE4MDAwMDAwMDAs" +
		"ImlhdCI6MTgwMDAwMDAwMCwiaWRlbnRpdHkiOiJAYWxpY2U6ZXhhbXBsZS5vcmc6REVWIiwidmlkZW8iOnsicm9vbUpvaW4iOnRydWUsInJv" +
		"b20iOiJPODQzN1czK2ptek1Wam9JUDN0TndibStYeEhRazJpS3BPQTdhcXczcVNjIiwiY2FuUHVibGlzaCI6dHJ1ZSwiY2FuU3Vic2NyaWJl" +
		"Ijp0cnVlLCJjYW5QdWJsaXNoRGF0YSI6dHJ1ZSwiY2FuVXBkYXRlT3duTWV0YWRhdGEiOnRydWV9fQ." +
		"l8M57_U9OWm-NEsjxLrBnJjlmjYaz-12kBPm1Tv3CHQ"
	if got != want {
		t.Fatalf("token changed:\ngot  %s\nwant %s", got, want)
	}
}

func TestNewRefusesMissingParts(t *testing.T) {
	for _, c := range []struct {
		key, sec string
		ttl      time.Duration
	}{{"", "s", time.Hour}, {"k", "", time.Hour}, {"k", "s", 0}} {
		if _, err := New(c.key, secretOf(c.sec), c.ttl); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err = %v, want ErrConfig", c, err)
		}
	}
}

func TestMintRefusesIncompleteGrant(t *testing.T) {
	iss, _ := New("devkey", "devsecret", time.Hour)
	for _, g := range []Grant{{Room: "r"}, {Identity: "i"}, {Identity: "i", Room: "r", TTL: -time.Second}} {
		if _, err := iss.Mint(g); !errors.Is(err, ErrGrant) {
			t.Errorf("%+v: err = %v, want ErrGrant", g, err)
		}
	}
}

// TestIssueMatchesLiveKitProtocol: our signer and livekit/protocol's
// AccessToken give tokens LiveKit's own parser reads identically, for the
// client grant and for a restricted one with a name, metadata and lifetime.
func TestIssueMatchesLiveKitProtocol(t *testing.T) {
	iss, _ := New("devkey", "devsecret", time.Hour)
	const room = "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc"
	for _, c := range []struct {
		name  string
		grant Grant
	}{
		{"client", ClientGrant("@alice:example.org:DEV", room)},
		{"restricted", Grant{Identity: "@bot:example.org:BOT", Room: room, Name: "Switchboard", Metadata: `{"m":1}`,
			CanSubscribe: true, TTL: 10 * time.Minute}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ours, err := iss.Mint(c.grant)
			if err != nil {
				t.Fatal(err)
			}
			ttl := c.grant.TTL
			if ttl == 0 {
				ttl = time.Hour
			}
			theirs, err := theirToken(c.grant, ttl)
			if err != nil {
				t.Fatal(err)
			}
			a, b := parse(t, ours), parse(t, theirs)
			if a.Identity != b.Identity || !reflect.DeepEqual(a.Video, b.Video) || a.Name != b.Name || a.Metadata != b.Metadata {
				t.Fatalf("claims differ:\nours   %+v %+v\ntheirs %+v %+v", a, a.Video, b, b.Video)
			}
			if a.Video.GetCanPublish() != c.grant.CanPublish || a.Video.GetCanSubscribe() != c.grant.CanSubscribe {
				t.Fatalf("LiveKit reads publish=%v subscribe=%v, granted %+v", a.Video.GetCanPublish(), a.Video.GetCanSubscribe(), c.grant)
			}
		})
	}
	ours, _ := iss.Issue("@alice:example.org:DEV", room)
	if v, err := auth.ParseAPIToken(ours[:len(ours)-2] + "xx"); err == nil {
		if _, _, err := v.Verify("devsecret"); err == nil {
			t.Fatal("tampered signature verified")
		}
	}
}

func theirToken(g Grant, ttl time.Duration) (string, error) {
	grant := &auth.VideoGrant{RoomJoin: true, Room: g.Room}
	grant.SetCanPublish(g.CanPublish)
	grant.SetCanSubscribe(g.CanSubscribe)
	grant.SetCanPublishData(g.CanPublishData)
	grant.SetCanUpdateOwnMetadata(g.CanUpdateOwnMetadata)
	return auth.NewAccessToken("devkey", "devsecret").SetIdentity(g.Identity).SetName(g.Name).
		SetMetadata(g.Metadata).SetValidFor(ttl).SetVideoGrant(grant).ToJWT()
}

func parse(t *testing.T, tok string) *auth.ClaimGrants {
	t.Helper()
	v, err := auth.ParseAPIToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := v.Verify("devsecret")
	if err != nil {
		t.Fatal(err)
	}
	return g
}
