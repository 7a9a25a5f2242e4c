package mesh

import "fmt"

// MaxPendingCandidates bounds the candidates one call keeps before its
// remote description is set (a browser gathers a few dozen at most).
const MaxPendingCandidates = 256

// PendingCandidates keeps the candidates of one call that arrive before
// its remote description, and releases them in order once it is set;
// after that, candidates pass straight through. Not safe for concurrent
// use: the call's owner serializes access. The zero value is ready.
type PendingCandidates struct {
	held     []Candidate
	released bool
}

// Add returns the candidates to apply now: all of cs once the remote
// description is set, none before (they are held). When holding them would
// exceed MaxPendingCandidates, nothing of cs is held and the error (wrapping
// ErrTooLarge) says how many were refused, for the caller to log.
func (p *PendingCandidates) Add(cs ...Candidate) ([]Candidate, error) {
	if p.released {
		return cs, nil
	}
	if len(p.held)+len(cs) > MaxPendingCandidates {
		return nil, fmt.Errorf("%w: %d candidates refused, %d already held before the remote description",
			ErrTooLarge, len(cs), len(p.held))
	}
	p.held = append(p.held, cs...)
	return nil, nil
}

// Release marks the remote description set and returns the held
// candidates in arrival order (once; later calls return nil).
func (p *PendingCandidates) Release() []Candidate {
	p.released = true
	held := p.held
	p.held = nil
	return held
}

// Len is how many candidates are held.
func (p *PendingCandidates) Len() int { return len(p.held) }

// Released says whether the remote description was set.
func (p *PendingCandidates) Released() bool { return p.released }

// MaxEarlyCalls bounds the calls whose candidates EarlyCandidates holds
// at once.
const MaxEarlyCalls = 32

// EarlyCandidates holds candidates for calls not known yet (Check says
// Hold): the SDK's early flushes can send them before the invite. When the
// invite arrives, Take hands them to the new call's PendingCandidates, in
// order. Not safe for concurrent use. The zero value is ready.
type EarlyCandidates struct {
	calls map[earlyKey]*PendingCandidates
}

type earlyKey struct{ sender, callID string }

// Add holds cs for sender's call callID. It refuses (ErrTooLarge) beyond
// MaxEarlyCalls calls or MaxPendingCandidates candidates per call.
func (e *EarlyCandidates) Add(sender, callID string, cs ...Candidate) error {
	k := earlyKey{sender, callID}
	p, ok := e.calls[k]
	if !ok {
		if len(e.calls) >= MaxEarlyCalls {
			return fmt.Errorf("%w: early candidates held for %d calls already", ErrTooLarge, len(e.calls))
		}
		if e.calls == nil {
			e.calls = make(map[earlyKey]*PendingCandidates)
		}
		p = &PendingCandidates{}
		e.calls[k] = p
	}
	_, err := p.Add(cs...)
	return err
}

// Take removes and returns the candidates held for sender's call callID,
// in arrival order.
func (e *EarlyCandidates) Take(sender, callID string) []Candidate {
	k := earlyKey{sender, callID}
	p, ok := e.calls[k]
	if !ok {
		return nil
	}
	delete(e.calls, k)
	return p.Release()
}

// Forget drops what is held for sender (it left the call, or its session
// changed), so the bound is not spent on invites that never come.
func (e *EarlyCandidates) Forget(sender string) {
	for k := range e.calls {
		if k.sender == sender {
			delete(e.calls, k)
		}
	}
}

// Calls is how many calls have candidates held.
func (e *EarlyCandidates) Calls() int { return len(e.calls) }
