package membership

// noteRestart shows a delayed-leave restart's outcome in the admin view
// (the status page's "restarted ... ago, N failed").
func (s *slot) noteRestart(err error) {
	now := s.p.clock.Now().UTC()
	s.publish(func(_ SeatKey, st *SeatStatus) {
		if err == nil {
			st.LastRestart = now
		} else {
			st.RestartFailures++
		}
	})
}
