// Package mesh is reserved for the planned fallback call engine (pion/webrtc
// peer connections signalled over Famedly to-device call events, for calls no
// SFU serves). It holds no code yet.
package mesh
