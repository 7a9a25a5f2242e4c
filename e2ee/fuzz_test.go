package e2ee

import (
	"errors"
	"reflect"
	"testing"

	"github.com/switchboard-rtc/switchboard/membership"
)

func wrapsSentinel(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge)
}

// checkParsed asserts what every accepted key event of dialect d satisfies,
// and that building it parses back to the same event.
func checkParsed(t *testing.T, ev KeyEvent, d membership.Dialect, build func(KeyEvent) ([]byte, error), parse func([]byte) (KeyEvent, error)) {
	t.Helper()
	if ev.Dialect != d || ev.DeviceID == "" || len(ev.Call.Room) == 0 || ev.Call.Room[0] != '!' ||
		len(ev.Keys) == 0 || len(ev.Keys) > MaxFamedlyKeys || len(ev.DeviceID) > MaxIDLen || len(ev.Call.CallID) > MaxIDLen {
		t.Fatalf("invariant broken: %+v", ev)
	}
	for _, k := range ev.Keys {
		if k.Index < 0 || k.Index >= RingSize(d) || !validKeyLen(d, len(k.Bytes)) {
			t.Fatalf("bad key accepted: %v", k)
		}
	}
	b, err := build(ev)
	if err != nil {
		t.Fatalf("build of an accepted event: %v", err)
	}
	back, err := parse(b)
	if err != nil || !reflect.DeepEqual(back, ev) {
		t.Fatalf("round trip:\n got %+v %v\nwant %+v\nvia %s", back, err, ev, b)
	}
}

// fuzzKeys fuzzes one dialect's key parser, seeded with the contents of the
// named testdata events and extra.
func fuzzKeys(f *testing.F, d membership.Dialect, parse func([]byte) (KeyEvent, error), build func(KeyEvent) ([]byte, error), files []string, extra ...string) {
	for _, name := range files {
		f.Add([]byte(loadToDevice(f, name).Content))
	}
	for _, c := range extra {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		ev, err := parse(content)
		if err != nil {
			if !wrapsSentinel(err) || !reflect.DeepEqual(ev, KeyEvent{}) {
				t.Fatalf("refusal %v with %+v", err, ev)
			}
			return
		}
		if d == membership.DialectMatrixRTC && len(ev.Keys) != 1 {
			t.Fatalf("%d keys", len(ev.Keys))
		}
		checkParsed(t, ev, d, build, parse)
	})
}

func FuzzParseFamedlyKeys(f *testing.F) {
	fuzzKeys(f, membership.DialectFamedly, ParseFamedlyKeys, BuildFamedlyKeys, []string{"famedly_keys.json"},
		`{"keys":[{"index":15,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}],"call_id":"x","conf_id":"c","device_id":"D","room_id":"!r:x"}`,
		`{"keys":[{"index":1.0,"key":"-_79_Pv6-fj39vX08_Lx8O_u7ezr6uno5-bl5OPi4eA="}],"call_id":"","conf_id":"","device_id":"D","room_id":"!r"}`,
		`{"keys":[],"call_id":null}`)
}

func FuzzParseMatrixRTCKeys(f *testing.F) {
	fuzzKeys(f, membership.DialectMatrixRTC, ParseMatrixRTCKeys, BuildMatrixRTCKeys, []string{"matrixrtc_keys.json", "matrixrtc_keys_old.json"},
		`{"room_id":"!r:x","member_id":"u","media_key":{"index":7,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},"member":{"claimed_device_id":"D"},"session":{}}`,
		`{"keys":{"index":256,"key":""},"sent_ts":1e3}`)
}

func FuzzParseFamedlyKeyRequest(f *testing.F) {
	f.Add([]byte(loadToDevice(f, "famedly_key_request.json").Content))
	f.Add([]byte(`{"conf_id":"c","device_id":"D","room_id":"!r:x","party_id":1}`))
	f.Add([]byte(`{"conf_id":null}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		req, err := ParseFamedlyKeyRequest(content)
		if err != nil {
			if !wrapsSentinel(err) || req != (KeyRequest{}) {
				t.Fatalf("refusal %v with %+v", err, req)
			}
			return
		}
		b, err := BuildFamedlyKeyRequest(req)
		if err != nil {
			t.Fatalf("build of an accepted request: %v", err)
		}
		if back, err := ParseFamedlyKeyRequest(b); err != nil || back != req {
			t.Fatalf("round trip: %+v %v, want %+v", back, err, req)
		}
	})
}
