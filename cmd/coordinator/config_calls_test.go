package main

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/calls"
)

// TestCheckConfigSeatBounds: the seat bounds must be whole numbers of at
// least 1, features known ones; check-config names every bad one at once.
func TestCheckConfigSeatBounds(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want []string
	}{
		{"calls: {max_seats_per_room: 0, max_seats: -3}", []string{
			"calls.max_seats_per_room: must be at least 1, got 0", "calls.max_seats: must be at least 1, got -3"}},
		{"calls: {max_seats_per_room: many}", []string{"calls.max_seats_per_room:"}},
		{"calls: {echo_delay: 0s}", []string{"calls.echo_delay: 0s is not between 1ms and 10s"}},
		{"calls: {command_level: 101, max_seats: 0}", []string{"calls.command_level: 101 is not a power level from 0 to 100",
			"calls.max_seats: must be at least 1"}},
		{"calls: {command_level: -1}", []string{"calls.command_level: -1 is not a power level from 0 to 100"}},
		{`calls: {features: [echo, karaoke], room_features: {"not-a-room": echo, "!r:x": "echo,nope"}, echo_delay: 1m}
livekit: {service_url: "wss://sfu.example.org"}`, []string{
			`calls.features: "karaoke" is not a feature (known: echo, record, announce)`, `calls.room_features: "not-a-room" is not a room id`,
			`calls.room_features: "nope" is not a feature`, "calls.echo_delay: 1m0s is not between 1ms and 10s",
			`livekit.service_url: "wss://sfu.example.org" is not an http(s) URL`, "calls.features: needs the Matrix bot"}},
	} {
		checkConfigRefuses(t, c.yaml, c.want...)
	}
}

// TestSeatBoundsReachSupervisor: the defaults are the supervisor's own,
// and the configured bounds are what the supervisor gets.
func TestSeatBoundsReachSupervisor(t *testing.T) {
	cfg := defaultConfig()
	if cfg.Calls.MaxSeatsPerRoom != calls.DefaultMaxSeatsPerRoom || cfg.Calls.MaxSeats != calls.DefaultMaxSeats {
		t.Errorf("defaults %d/%d", cfg.Calls.MaxSeatsPerRoom, cfg.Calls.MaxSeats)
	}
	cfg.Calls.MaxSeatsPerRoom, cfg.Calls.MaxSeats = 2, 7
	if sc := supervisorConfig(&cfg); sc.MaxSeatsPerRoom != 2 || sc.MaxSeats != 7 {
		t.Errorf("supervisor config %d/%d, want 2/7", sc.MaxSeatsPerRoom, sc.MaxSeats)
	}
}

// TestRecordDir: calls.record_dir defaults to <data_dir>/recordings, and
// when a call records, check-config refuses a record_dir that is a file
// or unset, alongside every other problem.
func TestRecordDir(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = "/srv/sb"
	_ = cfg.validate()
	if cfg.Calls.RecordDir != "/srv/sb/recordings" {
		t.Errorf("default record_dir %q", cfg.Calls.RecordDir)
	}
	file := writeFile(t, "not-a-dir", "x")
	for _, c := range []struct {
		yaml string
		want []string
	}{
		{`calls: {room_features: {"!r:x": "echo, record"}, record_dir: "` + file + `", echo_delay: 1m}`,
			[]string{`calls.record_dir: "` + file + `" is not a folder`, "calls.echo_delay:"}},
		{`data_dir: ""
calls: {features: [record]}`, []string{"calls.record_dir: required when a call records"}},
	} {
		checkConfigRefuses(t, c.yaml, c.want...)
	}
}
