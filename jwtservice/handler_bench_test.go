package jwtservice

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkSfuGetWarm is the in-process cost of a warm /sfu/get: decode,
// cached verification, known room, JWT signing, encode.
func BenchmarkSfuGetWarm(b *testing.B) {
	h := newBenchService(b).Handler()
	body := `{"room":"!r:example.org","device_id":"D",` + okOpenID + `}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sfu/get", strings.NewReader(body)))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

func newBenchService(b *testing.B) *Service {
	b.Helper()
	s, err := New(nil, Config{
		LiveKitURL: "wss://sfu.example.org", APIKey: "devkey", APISecret: "devsecret", TokenTTL: 3600e9,
		FullAccessHomeservers: []string{"example.org"},
	}, Deps{Verifier: fakeVerifier{}, Rooms: &fakeRooms{}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
