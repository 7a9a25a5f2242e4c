package livekit

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"
	protologger "github.com/livekit/protocol/logger"
)

// sdkLogger routes lksdk's and pion's logs of one room into our logger,
// warnings and errors only: at info they narrate every ICE and signalling
// step of every call.
func sdkLogger(l *slog.Logger) protologger.Logger {
	return protologger.LogRLogger(logr.FromSlogHandler(minLevel{l.Handler(), slog.LevelWarn}))
}

// minLevel drops records below its level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.level && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(as), m.level}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{m.Handler.WithGroup(name), m.level}
}
