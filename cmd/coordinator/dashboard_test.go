package main

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/e2ee"
	lklive "github.com/switchboard-rtc/switchboard/livekit"
	"github.com/switchboard-rtc/switchboard/membership"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// Empty state sources: the state collector then reports its gauges (zeros
// for every known label value).
type (
	noMembers struct{}
	noSeats   struct{}
	noKeys    struct{}
	noLKCalls struct{}
	noMesh    struct{}
	noDirect  struct{}
)

func (noMembers) Snapshot(context.Context) ([]membership.Member, error) { return nil, nil }
func (noSeats) Seats() []membership.SeatStatus                          { return nil }
func (noKeys) Report(e2ee.ReportFilter) e2ee.Report                     { return e2ee.Report{} }
func (noLKCalls) Calls() []lklive.CallSnapshot                          { return nil }
func (noMesh) Calls() []mesh.CallSnapshot                               { return nil }
func (noDirect) Calls() ([]mesh.DirectCallSnapshot, bool)               { return nil, true }

// exposedNames are the series names a full registry exposes (histograms
// as their _bucket, _sum and _count series).
func exposedNames(t *testing.T) []string {
	t.Helper()
	mp := newMetricsParts(true)
	mp.reg.MustRegister(newStateCollector(stateSources{noMembers{}, noSeats{}, noKeys{}, noLKCalls{}, noMesh{}, noDirect{}}))
	fams, err := mp.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName())
		if f.GetType().String() == "HISTOGRAM" {
			names = append(names, f.GetName()+"_bucket", f.GetName()+"_sum", f.GetName()+"_count")
		}
	}
	return names
}

// TestDashboardMatchesMetrics keeps deploy/grafana's dashboard and the
// README's metrics table from drifting: every metric a panel's query names
// is one the registry exposes, every panel queries something, and every
// switchboard_ metric is in the README.
func TestDashboardMatchesMetrics(t *testing.T) {
	names := exposedNames(t)
	raw, err := os.ReadFile("../../deploy/grafana/switchboard-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		SchemaVersion int `json:"schemaVersion"`
		Panels        []struct {
			Title   string                  `json:"title"`
			Type    string                  `json:"type"`
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.SchemaVersion < 36 || len(dash.Panels) == 0 {
		t.Fatalf("schemaVersion %d, %d panels", dash.SchemaVersion, len(dash.Panels))
	}
	metricName := regexp.MustCompile(`\b(?:switchboard|go|process)_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			found := metricName.FindAllString(tg.Expr, -1)
			if len(found) == 0 {
				t.Errorf("panel %q: %q names no metric", p.Title, tg.Expr)
			}
			for _, n := range found {
				if !slices.Contains(names, n) {
					t.Errorf("panel %q: %s is not exposed", p.Title, n)
				}
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "switchboard_") && !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") &&
			!strings.HasSuffix(n, "_count") && !strings.Contains(string(readme), "`"+n+"`") {
			t.Errorf("README's metrics table lacks %s", n)
		}
	}
}
