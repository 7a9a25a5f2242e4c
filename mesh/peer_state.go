package mesh

// Connected says whether the peer's call has connected (ICE and DTLS up)
// at least once.
func (p *Peer) Connected() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

// Ended says whether the peer's call has ended (or is being torn down).
func (p *Peer) Ended() bool { return p.ended.Load() }
