// Package mesh is the fallback call engine for calls no SFU serves: pion
// peer connections signalled with Famedly mesh group call events
// (com.famedly.call.member.<kind>, sent to one device) and legacy 1:1 call
// events (m.call.<kind> in the room).
//
// This part is the wire layer, pure and fuzzed: Decode and Encode of every
// call event content (Signal, with the group Envelope and a Body per kind),
// the receive-side checks of the Famedly SDK plus membership (Check, a
// Verdict with a bounded set of reasons), who calls whom and glare (Places,
// RoomGlare, MeshGlare), ICE candidate parsing and rebuilding per media line
// (ParseCandidate, Candidate.Rebuild, CandidateFromInit), and the buffers
// for candidates that arrive before the remote description
// (PendingCandidates per call, EarlyCandidates before the invite). Wire
// facts follow famedly-voip.md §4; nothing here does I/O.
package mesh
