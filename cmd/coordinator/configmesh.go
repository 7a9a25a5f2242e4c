package main

import (
	"net"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/mesh"
)

// MeshConfig is how the calls we carry over pion peer connections (mesh
// group calls and 1:1 calls) reach their peers: ICE servers, ports and
// addresses. One source (iceSource) serves both.
type MeshConfig struct {
	ICEServers         []string     `yaml:"ice_servers" doc:"STUN/TURN server URIs for our peer connections (stun:host:port, turn:host:port?transport=udp, turns:...), besides any from the homeserver."`
	TURNUsername       string       `yaml:"turn_username" doc:"Username for the turn: and turns: URIs of ice_servers."`
	TURNPassword       secret.Value `yaml:"turn_password" doc:"Password (credential) for the turn: and turns: URIs of ice_servers."`
	TURNFromHomeserver bool         `yaml:"turn_from_homeserver" doc:"Also use the TURN servers the homeserver hands the bot (GET /_matrix/client/v3/voip/turnServer), refreshed before their ttl ends."`
	UDPPortMin         int          `yaml:"udp_port_min" doc:"Lowest UDP port our peer connections gather on (0 with udp_port_max 0: any)."`
	UDPPortMax         int          `yaml:"udp_port_max" doc:"Highest UDP port our peer connections gather on."`
	NAT1To1IPs         []string     `yaml:"nat_1to1_ips" doc:"Public IP addresses of a host behind 1:1 NAT, announced as host candidates in place of the interface addresses."`
	LoopbackOnly       bool         `yaml:"loopback_only" doc:"Gather on 127.0.0.1 only, without mDNS (tests)."`
}

// Modes of calls.direct.
const (
	DirectEcho   = "echo"
	DirectReject = "reject"
	DirectIgnore = "ignore"
)

// Defaults of the 1:1 call keys.
const (
	defaultDirectMax         = 50
	defaultDirectMaxDuration = 10 * time.Minute
)

// validateMesh checks the mesh section and the calls.direct keys.
func (c *Config) validateMesh(bad func(key, format string, args ...any)) {
	m := &c.Mesh
	for _, u := range m.ICEServers {
		scheme, _, ok := strings.Cut(u, ":")
		switch {
		case !ok || (scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns"):
			bad("mesh.ice_servers", "%q is not a stun:, stuns:, turn: or turns: URI", u)
		case strings.HasPrefix(scheme, "turn") && (m.TURNUsername == "" || m.TURNPassword.Reveal() == ""):
			bad("mesh.ice_servers", "%q needs mesh.turn_username and mesh.turn_password", u)
		}
	}
	switch {
	case m.UDPPortMin < 0 || m.UDPPortMax > 65535 || m.UDPPortMin > m.UDPPortMax:
		bad("mesh.udp_port_min", "%d to %d is not a port range (0 < min ≤ max ≤ 65535, or both 0)", m.UDPPortMin, m.UDPPortMax)
	case (m.UDPPortMin == 0) != (m.UDPPortMax == 0):
		bad("mesh.udp_port_min", "set both mesh.udp_port_min and mesh.udp_port_max, or neither")
	}
	for _, ip := range m.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			bad("mesh.nat_1to1_ips", "%q is not an IP address", ip)
		}
	}
	if m.TURNFromHomeserver && !c.botEnabled() {
		bad("mesh.turn_from_homeserver", "needs the Matrix bot (matrix.homeserver_url and matrix.bot)")
	}
	d := &c.Calls
	if _, ok := mesh.DirectModes[d.Direct]; !ok {
		bad("calls.direct", "%q is not one of echo, reject, ignore", d.Direct)
	}
	if d.DirectMax < 1 || d.DirectMax > 1000 {
		bad("calls.direct_max", "%d is not between 1 and 1000", d.DirectMax)
	}
	if d.DirectMaxDuration < time.Second || d.DirectMaxDuration > 24*time.Hour {
		bad("calls.direct_max_duration", "%v is not between 1s and 24h", d.DirectMaxDuration)
	}
}
