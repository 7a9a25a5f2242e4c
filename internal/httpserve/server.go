// Package httpserve runs an http.Handler on a listener with the coordinator's
// lifecycle: bind synchronously, serve until the context ends, then shut down
// within a bounded time.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts every server gets; a slow or silent client costs bounded resources.
// There is no whole-request read timeout: headers get readHeaderTimeout and
// a body bodyTimeout (body.go).
const (
	readHeaderTimeout = 10 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	// ShutdownTimeout bounds the wait for in-flight requests after the
	// context ends; the process must be gone within 5 s of SIGTERM.
	ShutdownTimeout = 3 * time.Second
)

// Server is one HTTP listener.
type Server struct {
	name      string // what the log calls it, e.g. "http server"
	logger    *slog.Logger
	srv       *http.Server
	ln        net.Listener
	closeOnce sync.Once
	closeErr  error
}

// Listen binds addr now (so a port clash is reported at start) but serves
// nothing until Run. name is what the log calls the server ("<name>
// listening", "<name> stopped").
func Listen(name, addr string, h http.Handler, logger *slog.Logger) (*Server, error) {
	return listen(name, addr, h, logger, bodyTimeout)
}

// listen is Listen with the body timeout as a parameter, for tests.
func listen(name, addr string, h http.Handler, logger *slog.Logger, body time.Duration) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("httpserve: listen on %s: %w", addr, err)
	}
	s := &Server{name: name, logger: logger, ln: ln}
	s.srv = &http.Server{
		Handler:           limitBodyTime(h, body),
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then drains in-flight requests for at most
// ShutdownTimeout. It returns when the server has fully stopped.
func (s *Server) Run(ctx context.Context) error {
	s.logger.Info(s.name+" listening", "addr", s.ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("httpserve: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		s.logger.Warn(s.name+": requests still running at shutdown; closing them", "err", err)
		_ = s.srv.Close()
	}
	<-errc
	s.logger.Info(s.name + " stopped")
	return nil
}

// Close stops the server at once. It is safe to call more than once; calls
// after the first return net.ErrClosed.
func (s *Server) Close() error {
	err := net.ErrClosed
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		_ = s.ln.Close()
		err = s.closeErr
	})
	return err
}
