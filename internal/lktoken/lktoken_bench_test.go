package lktoken

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

func BenchmarkIssue(b *testing.B) {
	iss, _ := New("devkey", "devsecret", time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Issue("@alice:example.org:DEVICE", "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc"); err != nil {
			b.Fatal(err)
		}
	}
}

func secretOf(s string) secret.Value { return secret.Value(s) }
