package matrixbot

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/rs/zerolog"
)

// zerologToSlog returns a zerolog.Logger (what mautrix logs with) that
// forwards every record to logger at the matching level, with the same
// minimum level as logger.
func zerologToSlog(logger *slog.Logger) zerolog.Logger {
	ctx := context.Background()
	lvl := zerolog.Disabled
	switch {
	case logger.Enabled(ctx, slog.LevelDebug-4):
		lvl = zerolog.TraceLevel
	case logger.Enabled(ctx, slog.LevelDebug):
		lvl = zerolog.DebugLevel
	case logger.Enabled(ctx, slog.LevelInfo):
		lvl = zerolog.InfoLevel
	case logger.Enabled(ctx, slog.LevelWarn):
		lvl = zerolog.WarnLevel
	case logger.Enabled(ctx, slog.LevelError):
		lvl = zerolog.ErrorLevel
	}
	return zerolog.New(slogWriter{logger}).Level(lvl).With().Timestamp().Logger()
}

type slogWriter struct{ l *slog.Logger }

var _ zerolog.LevelWriter = slogWriter{}

func (w slogWriter) Write(p []byte) (int, error) { return w.WriteLevel(zerolog.NoLevel, p) }

func (w slogWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	var fields map[string]any
	if err := json.Unmarshal(p, &fields); err != nil {
		w.l.Warn(string(p))
		return len(p), nil
	}
	msg, _ := fields[zerolog.MessageFieldName].(string)
	delete(fields, zerolog.MessageFieldName)
	delete(fields, zerolog.LevelFieldName)
	delete(fields, zerolog.TimestampFieldName)
	attrs := make([]slog.Attr, 0, len(fields))
	for k, v := range fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	var sl slog.Level
	switch level {
	case zerolog.TraceLevel:
		sl = slog.LevelDebug - 4
	case zerolog.DebugLevel:
		sl = slog.LevelDebug
	case zerolog.InfoLevel, zerolog.NoLevel:
		sl = slog.LevelInfo
	case zerolog.WarnLevel:
		sl = slog.LevelWarn
	default:
		sl = slog.LevelError
	}
	if sl == slog.LevelWarn && routine(msg) {
		sl = slog.LevelDebug
	}
	w.l.LogAttrs(context.Background(), sl, msg, attrs...)
	return len(p), nil
}

// routine reports whether a warning of mautrix's is routine for the bot:
// a request cancelled by our own context (every shutdown and leave
// cancels one), and an Olm message that one of the sender's several
// sessions could not decrypt (another may; when none does, mautrix logs an
// error of its own), and a decrypted room event of a type mautrix does not
// parse (every call membership).
func routine(msg string) bool {
	switch msg {
	case "Request canceled", "Failed to decrypt olm message", "Unsupported event type in encrypted event":
		return true
	}
	return false
}
