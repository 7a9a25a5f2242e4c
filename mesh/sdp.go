package mesh

import (
	"fmt"

	"github.com/pion/sdp/v3"
)

// checkSDP refuses a session description that pion (which will apply it)
// cannot parse, so a bad offer is refused with a reason at the codec
// rather than deep inside a PeerConnection.
func checkSDP(s string) error {
	if s == "" {
		return fmt.Errorf("%w: sdp is empty", ErrMalformed)
	}
	if len(s) > MaxSDPBytes {
		return fmt.Errorf("%w: sdp is %d bytes, limit %d", ErrTooLarge, len(s), MaxSDPBytes)
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return fmt.Errorf("%w: sdp: %v", ErrMalformed, err)
	}
	return nil
}
