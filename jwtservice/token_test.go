package jwtservice

import (
	"testing"
	"time"

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
