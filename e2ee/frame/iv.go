package frame

import (
	"crypto/rand"
	"fmt"
)

const (
	ivSize  = 12
	tagSize = 16
	// trailerSize is IV, IV length byte and key index.
	trailerSize = ivSize + 2
	// ivFloor keeps H.264 IV bytes >= 4, so escaping never inserts a byte
	// into IV ‖ ivLen ‖ kid: native m125 receivers read the IV before
	// unescaping and would fail on a shifted one.
	ivFloor = 4
)

// ivCounter makes GCM nonces: a random 12-byte start, then +1 per frame on
// the last 8 bytes. Unique per encryptor by construction and across
// encryptors sharing a key with overwhelming probability, without a
// getrandom call per frame. Receivers never rebuild the IV, so any unique
// value works (server-sdk-go sends random ones; browsers SSRC‖ts‖counter).
type ivCounter struct {
	iv    [ivSize]byte // the next IV
	out   [ivSize]byte // the IV handed out last; a field so it never escapes per frame
	floor byte         // smallest byte value; each byte counts in base 256-floor
}

func newIVCounter(floor byte) (ivCounter, error) {
	c := ivCounter{floor: floor}
	if _, err := rand.Read(c.iv[:]); err != nil {
		return c, fmt.Errorf("frame: random IV: %w", err)
	}
	if floor > 0 {
		for i, b := range c.iv {
			c.iv[i] = floor + byte(int(b)%(256-int(floor)))
		}
	}
	return c, nil
}

// next returns the next IV, valid until the following call.
func (c *ivCounter) next() []byte {
	c.out = c.iv
	for i := ivSize - 1; i >= 4; i-- {
		if c.iv[i] != 0xff {
			c.iv[i]++
			break
		}
		c.iv[i] = c.floor
	}
	return c.out[:]
}
