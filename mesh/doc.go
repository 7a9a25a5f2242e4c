// Package mesh is the fallback call engine: pion/webrtc peer connections
// signalled over Famedly to-device call events, for calls no SFU serves.
package mesh
