// Package membership is the core of Switchboard: it reads and writes Matrix
// call membership in both dialects (Famedly com.famedly.call.member and
// MatrixRTC org.matrix.msc3401.call.member), tracks every call's members with
// timer-driven expiry, keeps the coordinator's own membership alive, and
// decides which calls the coordinator joins. The other packages adapt to it;
// it imports none of them.
package membership
