package openid

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// cachedVerifier returns a Verifier with tok already verified and cached.
func cachedVerifier(b *testing.B) (*Verifier, Token) {
	b.Helper()
	hs := newHomeserver(b, nil, func(w http.ResponseWriter, _ *http.Request) { writeSub(w, "@alice:example.org") })
	v := newVerifier(b, nil, Config{HomeserverURLs: map[string]string{"example.org": hs.URL}})
	tok := Token{AccessToken: "syt_YWxpY2U_AbCdEfGhIjKlMnOpQrSt_0a1b2c", ServerName: "example.org", ExpiresIn: time.Hour}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return v, tok
}

func BenchmarkVerifyCached(b *testing.B) {
	v, tok := cachedVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallelCached(b *testing.B) {
	v, tok := cachedVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
