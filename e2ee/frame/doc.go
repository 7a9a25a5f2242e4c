// Package frame encrypts and decrypts LiveKit media frames in the format that
// livekit-client (Element Call) and the native libwebrtc FrameCryptor
// (FluffyChat, Famedly) exchange: AES-128-GCM over everything after a
// codec-specific clear prefix, followed by a trailer of IV, IV length and key
// index. See shared/reference/frame-e2ee.md.
//
// Concurrency: a [KeyRing] is safe for concurrent use; its slots are
// immutable key sets swapped atomically, so SetKey on one goroutine never
// blocks or tears the frames another goroutine is processing. An [Encryptor]
// or a [Decryptor] belongs to one goroutine (one per track) because it keeps
// an IV counter or a scratch buffer.
package frame
