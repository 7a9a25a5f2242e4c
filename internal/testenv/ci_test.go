package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCIRunExportsCI: .ci/run must set CI=true itself, so that wherever it
// runs (a CI that does not set CI, a developer's shell) a missing server or
// tool fails the suite instead of skipping. A stand-in make on PATH reports
// the CI it was given.
func TestCIRunExportsCI(t *testing.T) {
	bin := t.TempDir()
	out := filepath.Join(t.TempDir(), "ci")
	fake := "#!/bin/sh\nprintf '%s' \"$CI\" > " + out + "\n"
	if err := os.WriteFile(filepath.Join(bin, "make"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join("..", "..", ".ci", "run"))
	cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf(".ci/run: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf(".ci/run did not run make: %v", err)
	}
	if string(got) != "true" {
		t.Fatalf(".ci/run ran make with CI=%q, want true", got)
	}
}

// TestRequireFailsUnderCI runs this test binary again with -short and no
// test environment: under CI=true Require must fail with how to start the
// environment; without CI it skips, as -short promises outside CI.
func TestRequireFailsUnderCI(t *testing.T) {
	if os.Getenv("SWITCHBOARD_TESTENV_CHILD") == "1" {
		Require(t)
		return
	}
	missing := filepath.Join(t.TempDir(), "no-env")
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{ci: "true", wantFail: true, want: "needs the test environment"},
		{ci: "", want: "skipped by -short"},
	} {
		cmd := exec.Command(os.Args[0], "-test.short", "-test.v", "-test.run", "^TestRequireFailsUnderCI$")
		cmd.Env = append(os.Environ(), "SWITCHBOARD_TESTENV_CHILD=1", "SWITCHBOARD_TESTENV_FILE="+missing, "CI="+tc.ci)
		b, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail || !strings.Contains(string(b), tc.want) {
			t.Errorf("CI=%q: failed %v (want %v), output:\n%s", tc.ci, failed, tc.wantFail, b)
		}
	}
}
