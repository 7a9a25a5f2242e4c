package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/doctor"
)

// TestDoctorCommandLine: the server name is required (usage, exit 1), flags
// may follow it, and a deployment where nothing answers gives a JSON report
// whose first step failed and errDoctorFailed (exit status 1).
func TestDoctorCommandLine(t *testing.T) {
	var out, stderr bytes.Buffer
	if err := run(t.Context(), []string{"coordinator", "doctor"}, envOf(nil), &out, &stderr); !errors.Is(err, errUsage) ||
		!strings.Contains(stderr.String(), "usage: coordinator doctor") {
		t.Fatalf("no server name: %v, %q", err, stderr.String())
	}
	stderr.Reset()
	err := run(t.Context(), []string{"coordinator", "doctor", "--base", "http://127.0.0.1:1", "example.org", "--json", "--timeout", "2s"},
		envOf(nil), &out, &stderr)
	if !errors.Is(err, errDoctorFailed) {
		t.Fatalf("doctor = %v (stderr %q)", err, stderr.String())
	}
	var r doctor.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if r.OK || r.ServerName != "example.org" || r.Base != "http://127.0.0.1:1" || len(r.Steps) == 0 ||
		r.Steps[0].Name != "well_known" || r.Steps[0].Status != doctor.StatusFail || !strings.Contains(r.Steps[0].Found, "connection refused") {
		t.Fatalf("report %+v", r)
	}
	if err := run(t.Context(), []string{"coordinator", "doctor", "a.org", "b.org"}, envOf(nil), &out, &stderr); !errors.Is(err, errUsage) {
		t.Fatalf("two names: %v", err)
	}
}
