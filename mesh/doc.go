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
//
// Peer is one pion PeerConnection to one remote device, transport-agnostic:
// the engine hands it the device's decoded signals (Deliver) and carries
// the signals it makes (PeerConfig.Send); remote tracks become
// media.Sources given to PeerConfig.OnSource, and AddOutput sends our
// streams. It places the call or auto-answers (the polite side), resolves
// mesh glare, expires its invite, trickles candidates (the first batch
// right after the invite or answer, then every 100 ms, never before it;
// failures retried after 500·2ⁿ ms, ice_timeout after more than 5),
// holds remote candidates until the remote description is set, restarts
// ICE up to 3 times in a row, and renegotiates with perfect negotiation. Media is
// DTLS-SRTP only. ICEConfig sets servers, ports, 1:1 NAT addresses and a
// loopback-only mode for tests; ICESource is the one source of it, with the
// homeserver's TURN servers merged in while their credentials last.
//
// Direct answers legacy 1:1 calls to the bot (m.call.invite in a direct
// room) with a Peer in the Room dialect and a media feature (the echo
// test), after the batch rules of FilterBatch; its limits bound how many
// such calls run and for how long.
//
// Engine is the calls.Engine of Famedly mesh group calls: per carried call
// one owner goroutine with a Peer per remote member device (Places decides
// who calls; a changed membershipID is hung up and called again), the
// devices' to-device signals checked (Check) and routed to their peers,
// and the call's media features over the peers through the media seam.
package mesh
