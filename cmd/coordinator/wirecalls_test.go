package main

import (
	"log/slog"
	"slices"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/membership"
)

// TestCallFeaturesRecordOnlyWhereAsked: record is among a call's features
// only where calls.features or the room's calls.room_features names it.
func TestCallFeaturesRecordOnlyWhereAsked(t *testing.T) {
	cfg := defaultConfig()
	cfg.Calls.Features = []string{"echo"}
	cfg.Calls.RoomFeatures = map[string]string{"!rec:x": "record", "!both:x": "echo, record", "!none:x": ""}
	cfg.Calls.RecordDir = t.TempDir()
	plan := featurePlan(&cfg, recordNotices{logger: slog.New(slog.DiscardHandler)})
	for room, want := range map[string][]string{
		"!other:x": {"echo"}, "!rec:x": {"record"}, "!both:x": {"echo", "record"}, "!none:x": nil,
	} {
		var got []string
		for _, n := range plan.Names(id.RoomID(room)) {
			f, err := plan.Build(membership.CallKey{Room: id.RoomID(room), Application: "m.call"}, n)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, f.Name())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: features %v, want %v", room, got, want)
		}
	}
}
