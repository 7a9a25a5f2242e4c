package jwtservice

import (
	"strings"
	"testing"
)

func BenchmarkDecodeLegacyRequest(b *testing.B) {
	body := `{"room":"!r:example.org","device_id":"D",` + okOpenID + `}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeLegacyRequest(strings.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}
