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
