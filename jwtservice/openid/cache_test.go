package openid

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

func TestTTLCacheExpiry(t *testing.T) {
	t.Parallel()
	c := newTTLCache[string, int](10, time.Minute)
	now := time.Unix(1000, 0)
	c.put("a", 1, now.Add(time.Second), now)
	if v, ok := c.get("a", now); !ok || v != 1 {
		t.Fatalf("get = %v, %v", v, ok)
	}
	if _, ok := c.get("a", now.Add(time.Second)); ok {
		t.Fatal("entry alive at its expiry")
	}
	c.put("b", 2, now, now) // already expired: not stored
	if c.len() != 1 {
		t.Fatalf("len = %d; want 1", c.len())
	}
}

func TestTTLCacheBounded(t *testing.T) {
	t.Parallel()
	const max = 1000
	c := newTTLCache[int, int](max, time.Hour)
	now := time.Unix(1000, 0)
	for i := range 50 * max {
		c.put(i, i, now.Add(time.Hour), now)
		if n := c.len(); n > max {
			t.Fatalf("len %d > max %d after %d inserts", n, max, i+1)
		}
	}
	// The newest entry always survives its own insert.
	if _, ok := c.get(50*max-1, now); !ok {
		t.Fatal("newest entry evicted")
	}
}

func TestTTLCacheSweepsExpired(t *testing.T) {
	t.Parallel()
	c := newTTLCache[int, int](100_000, time.Minute)
	now := time.Unix(1000, 0)
	for i := range 5000 {
		c.put(i, i, now.Add(30*time.Second), now)
	}
	// A stream of new tokens after the old ones expired: memory follows
	// the live entries, not the total ever inserted.
	later := now.Add(2 * time.Minute)
	c.put(-1, -1, later.Add(time.Minute), later)
	if n := c.len(); n != 1 {
		t.Fatalf("len = %d after sweep; want 1", n)
	}
}

func TestTokenKey(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"a", strings.Repeat("t", 400), strings.Repeat("t", maxTokenBytes)} {
		want := sha256.Sum256([]byte("example.org\x00" + tok))
		if got := makeTokenKey("example.org", tok); got != want {
			t.Errorf("makeTokenKey with a %d-byte token differs from SHA-256 of name NUL token", len(tok))
		}
	}
	if makeTokenKey("a.org", "b") == makeTokenKey("a.or", "gb") {
		t.Error("different (server, token) pairs share a key")
	}
}
