package mesh

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/logbuf"
)

// TestPionLogs: pion's logs reach our logger with their scope, one level
// down, and its trace and debug narration not at all.
func TestPionLogs(t *testing.T) {
	var buf logbuf.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := pionLogs{log}.NewLogger("ice")
	l.Tracef("trace %d", 1)
	l.Debug("debug")
	l.Infof("info %d", 2)
	l.Warnf("warn %d", 3)
	l.Error("error")
	got := buf.String()
	for _, want := range []string{`level=DEBUG msg="info 2" pion=ice`, `level=INFO msg="warn 3" pion=ice`,
		`level=WARN msg=error pion=ice`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "trace") || strings.Contains(got, "msg=debug") {
		t.Errorf("pion's narration logged:\n%s", got)
	}
}
