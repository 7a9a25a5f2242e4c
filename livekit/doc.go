// Package livekit is the LiveKit side of the coordinator. The Engine
// (calls.Engine) takes part in each call it carries as an E2EE media
// participant: it joins the call's LiveKit room with a token from the
// call's focus (FocusTokens), decrypts every remote track with its sender's
// keys, runs the call's media features on those frames and publishes their
// output encrypted with our key. The Enforcer enforces Matrix call
// membership on the SFU: a participant of a LiveKit room that belongs to a
// Matrix room the bot is in, and that has no valid call membership there
// past a grace period, is removed, and a room with no member left is
// deleted.
package livekit
