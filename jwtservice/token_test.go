package jwtservice

import (
	"reflect"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/switchboard-rtc/switchboard/internal/secret"

	"github.com/golang-jwt/jwt/v5"
)

func TestIssueGrantsAndClaims(t *testing.T) {
	iss, err := NewTokenIssuer("devkey", "devsecret", time.Hour)
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

func TestNewTokenIssuerRefusesMissingParts(t *testing.T) {
	for _, c := range []struct {
		key, sec string
		ttl      time.Duration
	}{{"", "s", time.Hour}, {"k", "", time.Hour}, {"k", "s", 0}} {
		if _, err := NewTokenIssuer(c.key, secretOf(c.sec), c.ttl); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

// TestIssueMatchesLiveKitProtocol: our signer and livekit/protocol's
// AccessToken give tokens LiveKit's own parser reads identically.
func TestIssueMatchesLiveKitProtocol(t *testing.T) {
	iss, _ := NewTokenIssuer("devkey", "devsecret", time.Hour)
	fixed := time.Now().Truncate(time.Second)
	iss.now = func() time.Time { return fixed }
	ours, err := iss.Issue("@alice:example.org:DEV", "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc")
	if err != nil {
		t.Fatal(err)
	}
	grant := &auth.VideoGrant{RoomJoin: true, Room: "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc"}
	grant.SetCanPublish(true)
	grant.SetCanSubscribe(true)
	grant.SetCanPublishData(true)
	grant.SetCanUpdateOwnMetadata(true)
	theirs, err := auth.NewAccessToken("devkey", "devsecret").SetIdentity("@alice:example.org:DEV").
		SetValidFor(time.Hour).SetVideoGrant(grant).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	parse := func(tok string) *auth.ClaimGrants {
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
	a, b := parse(ours), parse(theirs)
	if a.Identity != b.Identity || !reflect.DeepEqual(a.Video, b.Video) || a.Name != b.Name || a.Metadata != b.Metadata {
		t.Fatalf("claims differ:\nours   %+v %+v\ntheirs %+v %+v", a, a.Video, b, b.Video)
	}
	if _, err := auth.ParseAPIToken(ours[:len(ours)-2] + "xx"); err == nil {
		if v, _ := auth.ParseAPIToken(ours[:len(ours)-2] + "xx"); v != nil {
			if _, _, err := v.Verify("devsecret"); err == nil {
				t.Fatal("tampered signature verified")
			}
		}
	}
}

func secretOf(s string) secret.Value { return secret.Value(s) }
