package frame

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"sync/atomic"
)

const (
	maxRingSize = 256
	// defaultFailureTolerance is livekit-client's DECRYPTION_FAILURE_TOLERANCE.
	defaultFailureTolerance = 10
)

// RingConfig holds the key-provider options of one participant's ring. The
// zero value is Element Call's setup for raw Matrix keys (HKDF, 256 slots,
// no ratchet window, tolerance 10).
type RingConfig struct {
	// Size is the number of slots, 1..256; 0 means 256. Setting index i
	// stores at slot i mod Size; decrypting a frame whose key index is >=
	// Size fails with ErrNoKey, as in livekit-client and native.
	Size int
	// KDF turns raw material given to SetKey into keys. SetPassphrase always
	// uses PBKDF2, like livekit-client's setKey(string).
	KDF KDF
	// Salt is the ratchetSalt; "" means DefaultSalt.
	Salt string
	// RatchetWindow is how many ratchet steps a decrypt failure tries before
	// giving up (native-style chain m1 = R(m0), m2 = R(m1), ...). A step
	// that authenticates replaces the slot's key. The chain is derived when
	// a key is set, so with PBKDF2 every SetKey costs (1+RatchetWindow) x
	// ~tens of ms. 0 disables it.
	RatchetWindow int
	// FailureTolerance is how many failures in a row a key index may have
	// before its frames are dropped untried (ErrInvalidKey); 0 means 10
	// (livekit-client's default), negative means never.
	FailureTolerance int
	// SIFTrailer is the room's sif_trailer from the JoinResponse. Frames
	// ending with it were injected by the server unencrypted; empty turns
	// the check off.
	SIFTrailer []byte
}

// KeyRing holds the keys of one participant (or one shared key ring). It is
// safe for concurrent use: each slot is an immutable keyEntry behind an
// atomic pointer, so readers never lock.
type KeyRing struct {
	size      int
	kdf       KDF
	salt      string
	window    int
	tolerance int32 // negative: never invalid
	sif       []byte

	current  atomic.Uint32 // slot used by encryptors
	slots    [maxRingSize]atomic.Pointer[keyEntry]
	failures [maxRingSize]atomic.Int32 // consecutive failures per slot
}

// keyEntry is one slot's key set. It is never modified after it is
// published; ratcheting publishes a new entry.
type keyEntry struct {
	kdf      KDF
	material []byte // input to the next ratchet step
	next     []byte // RatchetMaterial(material)
	aead     cipher.AEAD
	chain    []*keyEntry // the next RatchetWindow steps; nil inside a chain
}

// NewKeyRing returns an empty ring configured by cfg.
func NewKeyRing(cfg RingConfig) (*KeyRing, error) {
	if cfg.Size == 0 {
		cfg.Size = maxRingSize
	}
	if cfg.Size < 1 || cfg.Size > maxRingSize {
		return nil, fmt.Errorf("%w: ring size %d not in 1..256", ErrConfig, cfg.Size)
	}
	if cfg.KDF != HKDF && cfg.KDF != PBKDF2 {
		return nil, fmt.Errorf("%w: unknown %v", ErrConfig, cfg.KDF)
	}
	if cfg.RatchetWindow < 0 || cfg.RatchetWindow > maxRingSize {
		return nil, fmt.Errorf("%w: ratchet window %d not in 0..256", ErrConfig, cfg.RatchetWindow)
	}
	if cfg.Salt == "" {
		cfg.Salt = DefaultSalt
	}
	tol := int32(defaultFailureTolerance)
	switch {
	case cfg.FailureTolerance < 0:
		tol = -1
	case cfg.FailureTolerance > 0:
		tol = int32(min(cfg.FailureTolerance, 1<<30))
	}
	return &KeyRing{
		size:      cfg.Size,
		kdf:       cfg.KDF,
		salt:      cfg.Salt,
		window:    cfg.RatchetWindow,
		tolerance: tol,
		sif:       append([]byte(nil), cfg.SIFTrailer...),
	}, nil
}

// SetKey derives a key from raw material with the ring's KDF, stores it at
// index mod Size and makes that slot the one encryptors use.
func (r *KeyRing) SetKey(index uint8, material []byte) error {
	return r.store(index, r.kdf, material, true)
}

// AddKey stores a key like SetKey but leaves the encryptors' index alone:
// announce a new key first, switch to it with SetCurrentIndex later.
func (r *KeyRing) AddKey(index uint8, material []byte) error {
	return r.store(index, r.kdf, material, false)
}

// SetPassphrase stores a key derived from the UTF-8 passphrase with PBKDF2
// (livekit-client's setKey(string), Element Call's shared-password mode)
// and makes it current.
func (r *KeyRing) SetPassphrase(index uint8, passphrase string) error {
	return r.store(index, PBKDF2, []byte(passphrase), true)
}

// SetCurrentIndex makes encryptors use the key at index mod Size.
func (r *KeyRing) SetCurrentIndex(index uint8) error {
	slot := r.slot(index)
	if r.slots[slot].Load() == nil {
		return fmt.Errorf("frame: key index %d: %w", index, ErrNoKey)
	}
	r.current.Store(uint32(slot))
	return nil
}

// CurrentIndex returns the key index encryptors write into frames.
func (r *KeyRing) CurrentIndex() uint8 { return uint8(r.current.Load()) }

// Ratchet replaces the key at index with its ratchet successor and returns
// the new 32-byte material (senders that ratchet, like Famedly's optional
// mode, announce it). Prefer a fresh key at a new index: FluffyChat does not
// follow ratchets.
func (r *KeyRing) Ratchet(index uint8) ([]byte, error) {
	slot := r.slot(index)
	e := r.slots[slot].Load()
	if e == nil {
		return nil, fmt.Errorf("frame: ratchet key index %d: %w", index, ErrNoKey)
	}
	ne, err := r.newEntry(e.kdf, e.next, r.window)
	if err != nil {
		return nil, err
	}
	r.slots[slot].Store(ne)
	r.failures[slot].Store(0)
	return append([]byte(nil), ne.material...), nil
}

func (r *KeyRing) slot(index uint8) int { return int(index) % r.size }

func (r *KeyRing) store(index uint8, kdf KDF, material []byte, makeCurrent bool) error {
	e, err := r.newEntry(kdf, material, r.window)
	if err != nil {
		return fmt.Errorf("frame: set key index %d: %w", index, err)
	}
	slot := r.slot(index)
	r.slots[slot].Store(e)
	r.failures[slot].Store(0)
	if makeCurrent {
		r.current.Store(uint32(slot))
	}
	return nil
}

// newEntry derives the AES key and ratchet successor of material, plus
// `window` chained successors for the decrypt-side ratchet.
func (r *KeyRing) newEntry(kdf KDF, material []byte, window int) (*keyEntry, error) {
	out, err := derive(kdf, r.salt, material, materialSize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(out[:keySize])
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	e := &keyEntry{kdf: kdf, material: append([]byte(nil), material...), next: out, aead: aead}
	if window == 0 {
		return e, nil
	}
	e.chain = make([]*keyEntry, 0, window)
	last := e
	for range window {
		if last, err = r.newEntry(kdf, last.next, 0); err != nil {
			return nil, err
		}
		e.chain = append(e.chain, last)
	}
	return e, nil
}

// adopt replaces old at slot with its chain step j, which just
// authenticated a frame, unless the slot changed meanwhile (a SetKey wins
// over a ratchet, as in livekit-client).
func (r *KeyRing) adopt(slot int, old *keyEntry, j int) {
	step := old.chain[j]
	ne := &keyEntry{kdf: step.kdf, material: step.material, next: step.next, aead: step.aead}
	ne.chain = append(make([]*keyEntry, 0, len(old.chain)), old.chain[j+1:]...)
	last := old.chain[len(old.chain)-1]
	for len(ne.chain) < len(old.chain) {
		var err error
		if last, err = r.newEntry(step.kdf, last.next, 0); err != nil {
			return // cannot happen with a non-empty material; keep the old key
		}
		ne.chain = append(ne.chain, last)
	}
	r.slots[slot].CompareAndSwap(old, ne)
}

// invalid reports whether slot failed more often than the tolerance.
func (r *KeyRing) invalid(slot int) bool {
	return r.tolerance >= 0 && r.failures[slot].Load() > r.tolerance
}

func (r *KeyRing) failed(slot int) {
	if r.tolerance >= 0 && r.failures[slot].Load() <= r.tolerance {
		r.failures[slot].Add(1)
	}
}

func (r *KeyRing) succeeded(slot int) {
	// Load first: a store per frame would bounce the cache line between
	// track goroutines.
	if r.failures[slot].Load() != 0 {
		r.failures[slot].Store(0)
	}
}
