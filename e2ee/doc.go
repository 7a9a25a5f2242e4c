// Package e2ee exchanges media keys over Olm-encrypted to-device messages in
// both dialects (Famedly and Element Call), validates and stores them per
// participant, and encrypts and decrypts media frames in LiveKit's format.
//
// A received key travels: to-device event (decrypted by the Matrix client)
// -> ParseKeyEvent (Famedly com.famedly.call.member.encryption_keys or
// MatrixRTC io.element.call.encryption_keys) -> Validator (Olm-encrypted,
// Olm sender device = claimed device, live membership in that room and call;
// keys that beat the membership are held for a bounded time) -> KeyStore
// (one ring of indices per participant and call) -> engines, through
// KeyStore subscriptions. Refusals carry a Reason and go to the KeyStore's
// report for the admin API; nothing here ever logs or reports key bytes.
package e2ee
