package mesh

import (
	"errors"
	"testing"
)

func TestPendingCandidates(t *testing.T) {
	var p PendingCandidates
	c := func(i int) Candidate { return Candidate{Candidate: "c", SDPMLineIndex: uint16(i)} }
	if now, err := p.Add(c(0), c(1)); now != nil || err != nil {
		t.Fatalf("before the description: %v %v", now, err)
	}
	if now, err := p.Add(c(2)); now != nil || err != nil || p.Len() != 3 {
		t.Fatalf("held %d: %v %v", p.Len(), now, err)
	}
	held := p.Release()
	if len(held) != 3 || held[0] != c(0) || held[2] != c(2) || !p.Released() || p.Len() != 0 {
		t.Fatalf("released %v", held)
	}
	if again := p.Release(); again != nil {
		t.Fatalf("second release %v", again)
	}
	if now, err := p.Add(c(3)); len(now) != 1 || now[0] != c(3) || err != nil {
		t.Fatalf("after the description: %v %v", now, err)
	}
}

func TestPendingCandidatesBounded(t *testing.T) {
	var p PendingCandidates
	for i := range MaxPendingCandidates {
		if _, err := p.Add(Candidate{SDPMLineIndex: uint16(i % MaxMLineIndex)}); err != nil {
			t.Fatalf("candidate %d: %v", i, err)
		}
	}
	if _, err := p.Add(Candidate{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the bound: %v", err)
	}
	if p.Len() != MaxPendingCandidates {
		t.Fatalf("held %d", p.Len())
	}
	if held := p.Release(); len(held) != MaxPendingCandidates {
		t.Fatalf("released %d", len(held))
	}
}

func TestEarlyCandidates(t *testing.T) {
	var e EarlyCandidates
	a, b := Candidate{Candidate: "a"}, Candidate{Candidate: "b"}
	if err := e.Add("@alice:hs", "c1", a); err != nil {
		t.Fatal(err)
	}
	if err := e.Add("@alice:hs", "c1", b); err != nil {
		t.Fatal(err)
	}
	if err := e.Add("@bob:hs", "c1", b); err != nil {
		t.Fatal(err)
	}
	if got := e.Take("@alice:hs", "c1"); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("alice's: %v", got)
	}
	if got := e.Take("@alice:hs", "c1"); got != nil {
		t.Fatalf("taken twice: %v", got)
	}
	e.Forget("@bob:hs")
	if e.Calls() != 0 {
		t.Fatalf("%d calls after Forget", e.Calls())
	}
	for i := range MaxEarlyCalls {
		if err := e.Add("@eve:hs", string(rune('A'+i)), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Add("@eve:hs", "one more", a); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the call bound: %v", err)
	}
	if err := e.Add("@eve:hs", "A", a); err != nil {
		t.Fatalf("a held call still takes candidates: %v", err)
	}
}
