package media

import "time"

var _ Muter = (*recordLine)(nil)

// Muted marks a mute or unmute of the line's source in the manifest. The
// line's file is not touched: a muted sender's silence (or its gap, which
// the Opus track fills) is recorded as any other; the manifest says why.
func (l *recordLine) Muted(muted bool, at time.Time) {
	r := l.r
	if at.IsZero() {
		at = r.cfg.Clock.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.stopErr != nil {
		return
	}
	i, open := r.mutes[l]
	switch {
	case muted && !open:
		r.manifest.Mutes = append(r.manifest.Mutes, RecordedMute{Participant: l.src.Participant,
			Source: l.src.ID, Kind: l.src.Kind.String(), FromMS: r.sinceStart(at)})
		r.mutes[l] = len(r.manifest.Mutes) - 1
	case !muted && open:
		r.endMute(i, at)
		delete(r.mutes, l)
	}
}

func (r *recorder) sinceStart(at time.Time) int64 {
	return max(0, at.Sub(r.manifest.Started).Milliseconds())
}

// endMute closes the i-th mute at at. The end is a new pointer, never
// written through: manifest copies share the old one.
func (r *recorder) endMute(i int, at time.Time) {
	to := max(r.sinceStart(at), r.manifest.Mutes[i].FromMS)
	r.manifest.Mutes[i].ToMS = &to
}

// endMutes closes the mutes still open when the recording ends at at.
func (r *recorder) endMutes(at time.Time) {
	for l, i := range r.mutes {
		r.endMute(i, at)
		delete(r.mutes, l)
	}
}
