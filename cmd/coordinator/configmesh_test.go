package main

import "testing"

// TestCheckConfigMesh: the mesh ICE keys and the 1:1 call keys are
// checked, every problem named at once.
func TestCheckConfigMesh(t *testing.T) {
	cfg := defaultConfig()
	if cfg.Calls.Direct != DirectEcho || cfg.Calls.DirectMax != defaultDirectMax || cfg.Calls.DirectMaxDuration != defaultDirectMaxDuration {
		t.Errorf("1:1 defaults %q %d %v", cfg.Calls.Direct, cfg.Calls.DirectMax, cfg.Calls.DirectMaxDuration)
	}
	checkConfigRefuses(t, `mesh: {ice_servers: ["stun:stun.example.org:3478", "http://x", "turn:turn.example.org"],
  udp_port_min: 5000, udp_port_max: 4000, nat_1to1_ips: [203.0.113.9, nope]}
calls: {direct: ring, direct_max: 0, direct_max_duration: 0s}`,
		`mesh.ice_servers: "http://x" is not a stun:, stuns:, turn: or turns: URI`,
		`mesh.ice_servers: "turn:turn.example.org" needs mesh.turn_username and mesh.turn_password`,
		"mesh.udp_port_min: 5000 to 4000 is not a port range", `mesh.nat_1to1_ips: "nope" is not an IP address`,
		`calls.direct: "ring" is not one of echo, reject, ignore`, "calls.direct_max: 0 is not between 1 and 1000",
		"calls.direct_max_duration: 0s is not between 1s and 24h")
	checkConfigRefuses(t, `mesh: {udp_port_max: 4000}`, "mesh.udp_port_min: set both")
}
