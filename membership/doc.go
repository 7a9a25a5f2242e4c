// Package membership is the core of Switchboard: it reads and writes Matrix
// call membership in both dialects (Famedly com.famedly.call.member and
// MatrixRTC org.matrix.msc3401.call.member), tracks every call's members with
// timer-driven expiry, and writes the coordinator's own memberships as the
// call supervisor (package calls) tells it, keeping them alive. The other
// packages adapt to it; it imports none of them.
package membership
