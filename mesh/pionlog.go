package mesh

import (
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs routes pion's logs of one peer into the peer's logger, one
// level down: pion's errors as warnings (our own code says what failed, and
// at what cost), its warnings as info (most are teardown races, such as an
// RTCP read on a closed stream), its info at debug, and its trace and debug
// narration of every ICE, DTLS and SCTP step not at all. Without it pion
// writes to stderr, past our handler and its format.
type pionLogs struct{ log *slog.Logger }

var _ logging.LoggerFactory = pionLogs{}

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (pionLogger) Trace(string)                     {}
func (pionLogger) Tracef(string, ...any)            {}
func (pionLogger) Debug(string)                     {}
func (pionLogger) Debugf(string, ...any)            {}
func (l pionLogger) Info(msg string)                { l.log.Debug(msg) }
func (l pionLogger) Infof(format string, a ...any)  { l.log.Debug(fmt.Sprintf(format, a...)) }
func (l pionLogger) Warn(msg string)                { l.log.Info(msg) }
func (l pionLogger) Warnf(format string, a ...any)  { l.log.Info(fmt.Sprintf(format, a...)) }
func (l pionLogger) Error(msg string)               { l.log.Warn(msg) }
func (l pionLogger) Errorf(format string, a ...any) { l.log.Warn(fmt.Sprintf(format, a...)) }
