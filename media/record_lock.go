package media

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// A recorder holds an exclusive flock(2) on its recording's folder from
// before the manifest is first written until Close has finished it. The
// kernel drops the lock when the process dies, so a folder whose manifest
// has no end and whose lock is free was cut off (a crash, a kill), not
// running: RecordingInProgress tells the two apart without trusting a
// process id or a heartbeat's clock.

// lockRecording takes dir's lock; the returned file holds it until closed.
// It waits for the lock: dir is new and ours, and readers hold theirs only
// for a moment.
func lockRecording(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return f, nil
}

// RecordingInProgress reports whether a running recorder, of this process
// or another, holds the recording folder dir.
func RecordingInProgress(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	// A shared lock conflicts only with a recorder's exclusive one, so
	// readers never hold each other up; it is dropped with f.
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	}
	return false, fmt.Errorf("record: lock of %s: %w", dir, err)
}
