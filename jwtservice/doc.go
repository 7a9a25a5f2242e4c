// Package jwtservice is the HTTP edge at the livekit_service_url: it verifies
// a Matrix OpenID token and issues LiveKit access tokens, wire-compatible with
// element-hq/lk-jwt-service (/sfu/get, /get_token, /healthz).
//
// It asks about Matrix room membership only through the small interface it
// declares itself; cmd/coordinator plugs the membership tracker in.
package jwtservice
