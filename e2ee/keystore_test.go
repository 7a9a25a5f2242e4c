package e2ee

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
	"github.com/switchboard-rtc/switchboard/membership"
)

var (
	pAlice = ParticipantOf(aliceFamedly)
	pBob   = ParticipantOf(bobSession)
	t0     = time.Unix(1_750_000_000, 0).UTC()
)

func TestKeyStoreSetGet(t *testing.T) {
	t.Parallel()
	s := NewKeyStore(KeyStoreOptions{})
	if _, _, ok := s.Current(pAlice); ok {
		t.Fatal("empty store has a current key")
	}
	k0, k1 := seq(32, 0), seq(32, 1)
	if err := s.Set(pAlice, 0, k0, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(pAlice, 1, k1, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if i, k, ok := s.Current(pAlice); !ok || i != 1 || !bytes.Equal(k, k1) {
		t.Fatalf("current %d %x %v", i, k, ok)
	}
	// A key that arrived earlier (released late from the hold) is stored
	// but does not become current.
	if err := s.Set(pAlice, 5, seq(32, 5), t0.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if i, _, _ := s.Current(pAlice); i != 1 {
		t.Errorf("late key became current: %d", i)
	}
	got, ok := s.Get(pAlice, 0)
	if !ok || !bytes.Equal(got, k0) {
		t.Fatalf("get 0: %x %v", got, ok)
	}
	got[0] = 0xff // callers get copies
	if again, _ := s.Get(pAlice, 0); again[0] != 0 {
		t.Error("Get shares the store's bytes")
	}
	k0[1] = 0xff // and the store keeps its own
	if again, _ := s.Get(pAlice, 0); again[1] != 1 {
		t.Error("Set kept the caller's slice")
	}
	keys, cur, ok := s.Keys(pAlice)
	if !ok || cur != 1 || len(keys) != 3 || keys[0].Index != 0 || keys[1].Index != 1 || keys[2].Index != 5 {
		t.Fatalf("keys %v cur %d", keys, cur)
	}
	if _, ok := s.Get(pBob, 0); ok {
		t.Error("bob has alice's keys")
	}
	s.Forget(pAlice)
	if _, ok := s.Get(pAlice, 1); ok {
		t.Error("forgotten key still there")
	}
}

func TestKeyStoreSetRefuses(t *testing.T) {
	t.Parallel()
	s := NewKeyStore(KeyStoreOptions{})
	for _, tc := range []struct {
		index int
		key   []byte
	}{{-1, seq(32, 0)}, {256, seq(32, 0)}, {0, nil}, {0, seq(20, 0)}} {
		if err := s.Set(pAlice, tc.index, tc.key, t0); !errors.Is(err, ErrBadKey) {
			t.Errorf("index %d, %d bytes: %v", tc.index, len(tc.key), err)
		}
	}
	if err := s.Set(pAlice, 255, seq(16, 0), t0); err != nil {
		t.Errorf("index 255: %v", err)
	}
}

func TestKeyStoreAcceptAndForgetCall(t *testing.T) {
	t.Parallel()
	s := NewKeyStore(KeyStoreOptions{})
	other := pBob
	other.Call.CallID = "c2"
	must(t, s.Accept(Accepted{Participant: pAlice, Keys: []Key{{0, seq(32, 0)}, {1, seq(32, 1)}}, ArrivedAt: t0}))
	must(t, s.Accept(Accepted{Participant: pBob, Keys: []Key{{2, seq(16, 2)}}, ArrivedAt: t0}))
	must(t, s.Accept(Accepted{Participant: other, Keys: []Key{{3, seq(16, 3)}}, ArrivedAt: t0}))
	if ps := s.Participants(roomCall); len(ps) != 2 || ps[0] != pAlice || ps[1] != pBob {
		t.Fatalf("participants %+v", ps)
	}
	s.ForgetCall(roomCall)
	if ps := s.Participants(roomCall); len(ps) != 0 {
		t.Fatalf("left %+v", ps)
	}
	if _, ok := s.Get(other, 3); !ok {
		t.Error("another call's keys were forgotten")
	}
	if err := s.Accept(Accepted{Participant: pAlice, Keys: []Key{{300, seq(32, 0)}}}); !errors.Is(err, ErrBadKey) {
		t.Errorf("bad accepted key: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ready(sub *Subscription) bool {
	select {
	case <-sub.Ready():
		return true
	default:
		return false
	}
}

func TestSubscriptionLatestValue(t *testing.T) {
	t.Parallel()
	s := NewKeyStore(KeyStoreOptions{})
	must(t, s.Set(pAlice, 0, seq(32, 0), t0))
	all := s.Subscribe(nil)
	defer all.Close()
	onlyBob := s.Subscribe(func(p Participant) bool { return p.UserID == vBob })
	defer onlyBob.Close()

	// Rings already held are reported at once.
	if !ready(all) || ready(onlyBob) {
		t.Fatal("initial state not signalled")
	}
	if ch := all.Take(); len(ch) != 1 || ch[0].Participant != pAlice || len(ch[0].Keys) != 1 {
		t.Fatalf("initial %+v", ch)
	}
	// Several changes coalesce into one ring per participant.
	must(t, s.Set(pAlice, 1, seq(32, 1), t0.Add(time.Second)))
	must(t, s.Set(pAlice, 2, seq(32, 2), t0.Add(2*time.Second)))
	must(t, s.Set(pBob, 7, seq(16, 7), t0))
	if !ready(all) || ready(all) {
		t.Fatal("ready should fire exactly once per batch")
	}
	ch := all.Take()
	if len(ch) != 2 || ch[0].Participant != pAlice || ch[0].Current != 2 || len(ch[0].Keys) != 3 || ch[1].Participant != pBob {
		t.Fatalf("coalesced %+v", ch)
	}
	if bc := onlyBob.Take(); len(bc) != 1 || bc[0].Participant != pBob || bc[0].Keys[0].Index != 7 {
		t.Fatalf("filtered %+v", bc)
	}
	// The same bytes again change nothing.
	must(t, s.Set(pAlice, 2, seq(32, 2), t0.Add(3*time.Second)))
	if ready(all) || all.Take() != nil {
		t.Error("no-op Set signalled")
	}
	s.Forget(pBob)
	if ch := onlyBob.Take(); len(ch) != 1 || !ch[0].Forgotten || ch[0].Keys != nil {
		t.Fatalf("forget %+v", ch)
	}
	// Closed subscriptions hear nothing more; Close twice is fine.
	all.Take()
	all.Close()
	all.Close()
	must(t, s.Set(pAlice, 3, seq(32, 3), t0.Add(4*time.Second)))
	if all.Take() != nil {
		t.Error("closed subscription still marked")
	}
}

// Engines read and take from their own goroutines while the owner writes.
func TestKeyStoreConcurrent(t *testing.T) {
	leakcheck.Check(t)
	s := NewKeyStore(KeyStoreOptions{MaxRefusals: 8})
	sub := s.Subscribe(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	latest := map[int]int{}
	wg.Go(func() {
		for {
			select {
			case <-sub.Ready():
				for _, c := range sub.Take() {
					latest[int(c.Participant.DeviceID[0])] = c.Current
				}
			case <-stop:
				return
			}
		}
	})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Get(pAlice, i%16)
			s.Current(pBob)
			s.Report(ReportFilter{Room: vRoom})
		}
	})
	for i := range 500 {
		p := pAlice
		if i%2 == 1 {
			p = pBob
		}
		must(t, s.Set(p, i%16, seq(32, byte(i)), t0.Add(time.Duration(i)*time.Millisecond)))
		s.RecordRefusal(Refusal{Reason: ReasonNoMembership, UserID: vAlice, Room: vRoom})
	}
	close(stop)
	wg.Wait()
	sub.Close()
	// Whatever the reader saw last, a final Take brings it up to date.
	for _, c := range sub.Take() {
		latest[int(c.Participant.DeviceID[0])] = c.Current
	}
	if latest['A'] != 498%16 || latest['B'] != 499%16 {
		t.Errorf("reader ended at %v", latest)
	}
}

func TestKeyStoreReport(t *testing.T) {
	t.Parallel()
	s := NewKeyStore(KeyStoreOptions{MaxRefusals: 3})
	must(t, s.Set(pAlice, 0, seq(32, 0), t0))
	must(t, s.Set(pAlice, 4, seq(32, 4), t0.Add(time.Second)))
	must(t, s.Set(pBob, 9, seq(16, 9), t0))
	elsewhere := ParticipantOf(membership.Member{Dialect: membership.DialectFamedly, Call: membership.CallKey{Room: "!other:x"}, UserID: vCarol, DeviceID: "C"})
	must(t, s.Set(elsewhere, 1, seq(32, 1), t0))
	s.RecordRefusal(Refusal{Reason: ReasonPlaintext, UserID: vAlice, DeviceID: "ALICE", Room: vRoom, Indices: []int{3}})
	s.RecordRefusal(Refusal{Reason: ReasonDeviceMismatch, UserID: vBob, DeviceID: "BOB", Room: "!other:x"})
	s.RecordRefusal(Refusal{Reason: ReasonNoMembership, UserID: "@eve:x", DeviceID: "EVE", Room: vRoom})

	rep := s.Report(ReportFilter{Room: vRoom})
	if len(rep.Participants) != 2 || rep.Participants[0].Identity != pAlice.Identity || rep.Participants[1].Identity != pBob.Identity {
		t.Fatalf("participants %+v", rep.Participants)
	}
	a := rep.Participants[0]
	if a.CurrentIndex != 4 || len(a.Keys) != 2 || a.Keys[1].Index != 4 || a.Keys[1].Bytes != 32 || !a.Keys[1].ArrivedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("alice %+v", a)
	}
	if len(a.Refusals) != 1 || a.Refusals[0].Reason != ReasonPlaintext {
		t.Errorf("alice's refusals %+v", a.Refusals)
	}
	// Room refusals include senders without keys (eve), not other rooms.
	if len(rep.Refusals) != 2 || rep.Refusals[0].Reason != ReasonPlaintext || rep.Refusals[1].UserID != "@eve:x" {
		t.Errorf("room refusals %+v", rep.Refusals)
	}
	byID := s.Report(ReportFilter{Identity: "@eve:x:EVE"})
	if len(byID.Participants) != 0 || len(byID.Refusals) != 1 {
		t.Errorf("by identity %+v", byID)
	}
	// The log keeps the newest MaxRefusals.
	s.RecordRefusal(Refusal{Reason: ReasonHoldFull, UserID: vAlice, DeviceID: "ALICE", Room: vRoom})
	if all := s.Report(ReportFilter{}); len(all.Refusals) != 3 || all.Refusals[0].Reason != ReasonDeviceMismatch || len(all.Participants) != 3 {
		t.Errorf("bounded log %+v", all.Refusals)
	}
}

// The admin JSON never carries key material, whatever the encoding.
func TestKeyStoreReportHasNoKeyBytes(t *testing.T) {
	t.Parallel()
	s := NewKeyStore(KeyStoreOptions{})
	v, _, _ := newTestValidator(ValidatorOptions{}, aliceFamedly)
	key := seq(32, 0x5a)
	ev := famedlyEvent("ALICE", "", 2)
	ev.Keys[0].Bytes = key
	res := v.Validate(ev, olm(vAlice, "ALICE"))
	must(t, s.Accept(res.Accepted[0]))
	// A refused event carrying the same key.
	for _, r := range v.Validate(ev, olm(vAlice, "MALLORY")).Refused {
		s.RecordRefusal(r)
	}
	content, err := BuildFamedlyKeys(ev)
	must(t, err)
	for _, r := range v.Receive(FamedlyKeysEventType, bytes.Replace(content, []byte(`"index":2`), []byte(`"index":77`), 1), olm(vAlice, "ALICE")).Refused {
		s.RecordRefusal(r)
	}
	b, err := json.Marshal(s.Report(ReportFilter{}))
	must(t, err)
	enc := EncodeKey(key)
	for _, needle := range []string{enc, strings.TrimRight(enc, "="), strings.NewReplacer("+", "-", "/", "_").Replace(enc), string(key)} {
		if bytes.Contains(b, []byte(needle)) {
			t.Fatalf("report contains key material %q:\n%s", needle, b)
		}
	}
	// Sanity: the report is about that key.
	if !bytes.Contains(b, []byte(`"index":2`)) || !bytes.Contains(b, []byte(`"reason":"device_mismatch"`)) ||
		!bytes.Contains(b, []byte(`"reason":"malformed"`)) || !bytes.Contains(b, []byte(`"dialect":"famedly"`)) {
		t.Errorf("report lacks expected fields:\n%s", b)
	}
	if bytes.Contains(b, []byte(`90,91,92,93`)) { // 0x5a.. as a JSON number list
		t.Error("report contains key bytes as numbers")
	}
}
