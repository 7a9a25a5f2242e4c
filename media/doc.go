// Package media holds the engine-neutral side of our media: the features
// that act on a call's decrypted, encoded frames (echo, record, announce)
// and the small interfaces through which an engine
// (LiveKit in package livekit, the mesh in package mesh) hands them a call.
// Nothing here knows WebRTC, RTP or LiveKit: an engine depacketizes and
// decrypts before a feature sees a frame, and encrypts and packetizes what
// a feature writes. Frames are passed through as they are; nothing is ever
// transcoded.
package media
