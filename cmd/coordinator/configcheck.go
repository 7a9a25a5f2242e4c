package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/httpserve"
	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/membership"
)

// validate checks the merged configuration and returns every problem found,
// each tied to its key. It also fills defaults that depend on other keys.
func (c *Config) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &configError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if err := checkBind(c.HTTP.Bind); err != nil {
		bad("http.bind", "%v", err)
	}

	if c.HTTP.RateLimit < 0 {
		bad("http.rate_limit", "must not be negative")
	}
	if c.HTTP.RateLimit > 0 && c.HTTP.RateBurst < 1 {
		bad("http.rate_burst", "must be at least 1 when http.rate_limit is set")
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := httpserve.ParseTrustedProxy(p); err != nil {
			bad("http.trusted_proxies", "%v", err)
		}
	}
	c.validateAdmin(bad)
	c.validateMetrics(bad)

	lk := &c.LiveKit
	if lk.URL == "" {
		bad("livekit.url", "required (LIVEKIT_URL)")
	} else if err := checkURL(lk.URL, "ws", "wss", "http", "https"); err != nil {
		bad("livekit.url", "%v", err)
	}
	if lk.APIURL != "" {
		if err := checkURL(lk.APIURL, "ws", "wss", "http", "https"); err != nil {
			bad("livekit.api_url", "%v", err)
		}
	}
	if lk.Key == "" {
		bad("livekit.key", "required (LIVEKIT_KEY, LIVEKIT_KEY_FROM_FILE or LIVEKIT_KEY_FILE)")
	}
	if lk.Secret.IsZero() {
		bad("livekit.secret", "required (LIVEKIT_SECRET, LIVEKIT_SECRET_FROM_FILE or LIVEKIT_KEY_FILE)")
	}
	if len(lk.FullAccessHomeservers) == 0 && c.Matrix.ServerName != "" {
		lk.FullAccessHomeservers = []string{c.Matrix.ServerName}
	}
	if len(lk.FullAccessHomeservers) == 0 {
		bad("livekit.full_access_homeservers", "required: the server name(s) whose users may create LiveKit rooms, or * for all (LIVEKIT_FULL_ACCESS_HOMESERVERS)")
	}
	if lk.TokenTTL < time.Minute || lk.TokenTTL > 24*time.Hour {
		bad("livekit.token_ttl", "%s is outside 1m..24h", lk.TokenTTL)
	}

	m := &c.Matrix
	if m.OpenIDCacheTTL > time.Hour {
		bad("matrix.openid_cache_ttl", "%s is over 1h", m.OpenIDCacheTTL)
	}
	if m.RequestTimeout < 100*time.Millisecond || m.RequestTimeout > time.Minute {
		bad("matrix.request_timeout", "%s is outside 100ms..1m", m.RequestTimeout)
	}
	for _, name := range sortedKeys(m.HomeserverURLs) {
		if err := checkURL(m.HomeserverURLs[name], "http", "https"); err != nil {
			bad("matrix.homeserver_urls", "%s: %v", name, err)
		}
	}
	if c.botEnabled() {
		if err := checkURL(m.HomeserverURL, "http", "https"); err != nil {
			bad("matrix.homeserver_url", "%v", err)
		}
		if m.ServerName == "" {
			bad("matrix.server_name", "required when matrix.homeserver_url is set")
		}
		if err := checkUserID(m.Bot.UserID, m.ServerName); err != nil {
			bad("matrix.bot.user_id", "%v", err)
		}
		if m.Bot.Password.IsZero() == m.Bot.AccessToken.IsZero() {
			bad("matrix.bot", "set exactly one of password (or password_file) and access_token (or access_token_file)")
		}
		if c.DataDir == "" {
			bad("data_dir", "required when the Matrix bot is configured")
		}
		if len(m.Bot.AcceptInvites) == 0 && m.ServerName != "" {
			m.Bot.AcceptInvites = []string{m.ServerName}
		}
	} else if m.RequireRoomMembership {
		bad("matrix.require_room_membership", "needs the Matrix bot (matrix.homeserver_url and matrix.bot)")
	} else if m.Bot.UserID != "" || !m.Bot.Password.IsZero() || !m.Bot.AccessToken.IsZero() {
		bad("matrix.homeserver_url", "required when matrix.bot is configured")
	}

	if lk.DelegationGrace < 0 {
		bad("livekit.delegation_grace", "must not be negative")
	}
	if lk.SanityCheckInterval < 0 {
		bad("livekit.sanity_check_interval", "must not be negative")
	}
	if lk.DelegationMaxPerUser < 1 {
		bad("livekit.delegation_max_per_user", "must be at least 1, got %d", lk.DelegationMaxPerUser)
	}

	policies := []string{JoinNever, JoinInvited, JoinAll}
	if !slices.Contains(policies, c.Calls.Join) {
		bad("calls.join", "%q is not one of never, invited, all", c.Calls.Join)
	}
	if c.Calls.Join != JoinNever && !c.botEnabled() {
		bad("calls.join", "%q needs the Matrix bot (matrix.homeserver_url and matrix.bot)", c.Calls.Join)
	}
	if !slices.Contains([]string{"auto", "user", "user_device", "device_user"}, c.Calls.FamedlyStateKey) {
		bad("calls.famedly_state_key", "%q is not one of auto, user, user_device, device_user", c.Calls.FamedlyStateKey)
	}
	positive := map[string]time.Duration{
		"calls.famedly_expiry": c.Calls.FamedlyExpiry, "calls.famedly_refresh": c.Calls.FamedlyRefresh,
		"calls.famedly_leave_delay": c.Calls.FamedlyLeaveDelay, "calls.famedly_leave_restart": c.Calls.FamedlyLeaveRestart,
		"calls.matrixrtc_expiry": c.Calls.RTCExpiry, "calls.matrixrtc_refresh": c.Calls.RTCRefresh,
		"calls.matrixrtc_leave_delay": c.Calls.RTCLeaveDelay, "calls.matrixrtc_leave_restart": c.Calls.RTCLeaveRestart,
		"livekit.enforce_grace": c.LiveKit.EnforceGrace, "livekit.enforce_interval": c.LiveKit.EnforceInterval,
		"livekit.health_interval": c.LiveKit.HealthInterval,
	}
	for _, key := range sortedKeys(positive) {
		if positive[key] <= 0 {
			bad(key, "must be positive, got %v", positive[key])
		}
	}
	if c.Calls.FamedlyRefresh >= c.Calls.FamedlyExpiry+membership.FamedlyExpiryGrace {
		bad("calls.famedly_refresh", "%v would let our membership expire between refreshes (expiry %v plus the %v grace)",
			c.Calls.FamedlyRefresh, c.Calls.FamedlyExpiry, membership.FamedlyExpiryGrace)
	}
	seats := map[string]int{"calls.max_seats_per_room": c.Calls.MaxSeatsPerRoom, "calls.max_seats": c.Calls.MaxSeats}
	for _, key := range sortedKeys(seats) {
		if seats[key] < 1 {
			bad(key, "must be at least 1, got %d (calls.join: never turns joining off)", seats[key])
		}
	}
	if c.Calls.RTCRefresh >= c.Calls.RTCExpiry {
		bad("calls.matrixrtc_refresh", "%v would let our membership expire between refreshes (expiry %v)", c.Calls.RTCRefresh, c.Calls.RTCExpiry)
	}
	for _, p := range []struct {
		key            string
		restart, delay time.Duration
	}{
		{"calls.famedly_leave_restart", c.Calls.FamedlyLeaveRestart, c.Calls.FamedlyLeaveDelay},
		{"calls.matrixrtc_leave_restart", c.Calls.RTCLeaveRestart, c.Calls.RTCLeaveDelay},
	} {
		if p.restart >= p.delay {
			bad(p.key, "%v must be shorter than the leave delay %v, or the delayed leave fires while we live", p.restart, p.delay)
		}
	}
	c.validateE2EE(bad)
	c.validateFeatures(bad)
	c.validateMesh(bad)
	for _, room := range sortedKeys(c.Calls.Rooms) {
		if !strings.HasPrefix(room, "!") || !strings.Contains(room, ":") {
			bad("calls.rooms", "%q is not a room id (!opaque:server)", room)
		}
		if p := c.Calls.Rooms[room]; !slices.Contains(policies, p) {
			bad("calls.rooms", "%s: %q is not one of never, invited, all", room, p)
		}
	}
	return errs
}

// validateE2EE checks the e2ee section: known Famedly event types, at
// least one, and a positive hold (the parsers refuse negative durations).
func (c *Config) validateE2EE(bad func(key, format string, args ...any)) {
	e := &c.E2EE
	known := []string{e2ee.FamedlyKeysEventType, e2ee.FamedlyKeysEventTypeAlias}
	if len(e.FamedlyEventTypes) == 0 {
		bad("e2ee.famedly_event_types", "needs at least one of %s", strings.Join(known, ", "))
	}
	for _, t := range e.FamedlyEventTypes {
		if !slices.Contains(known, t) {
			bad("e2ee.famedly_event_types", "%q is not one of %s", t, strings.Join(known, ", "))
		}
	}
	if e.HoldFor <= 0 || e.HoldFor > 10*time.Minute {
		bad("e2ee.hold_for", "%v is outside (0, 10m]", e.HoldFor)
	}
	timings := map[string]time.Duration{
		"e2ee.famedly_reuse_for": e.FamedlyReuseFor, "e2ee.famedly_use_delay": e.FamedlyUseDelay,
		"e2ee.famedly_rotate_delay": e.FamedlyRotateDelay, "e2ee.matrixrtc_reuse_for": e.RTCReuseFor,
		"e2ee.matrixrtc_use_delay": e.RTCUseDelay, "e2ee.matrixrtc_rotate_delay": e.RTCRotateDelay,
	}
	for _, key := range sortedKeys(timings) {
		if timings[key] > time.Minute {
			bad(key, "%v is over 1m", timings[key])
		}
	}
}

// An admin token must be long and varied enough that guessing it, at the
// pace the failed-attempt limit allows, is hopeless: 32 random hex digits
// carry 128 bits.
const (
	minAdminTokenLen      = 32
	minAdminTokenDistinct = 8
)

// validateAdmin checks the admin API's listener and the strength of its
// token (never echoing the token).
func (c *Config) validateAdmin(bad func(key, format string, args ...any)) {
	if err := checkBind(c.Admin.Bind); err != nil {
		bad("admin.bind", "%v", err)
	}
	if c.Admin.Token.IsZero() {
		return
	}
	if _, port, _ := net.SplitHostPort(c.Admin.Bind); c.Admin.Bind == c.HTTP.Bind && port != "0" {
		bad("admin.bind", "%q is http.bind too; the admin API needs a listener of its own", c.Admin.Bind)
	}
	checkToken("admin.token", c.Admin.Token, bad)
}

// checkToken reports a bearer token too weak to guess-proof (never
// echoing it).
func checkToken(key string, tok secret.Value, bad func(key, format string, args ...any)) {
	token := []rune(tok.Reveal())
	distinct := map[rune]bool{}
	for _, r := range token {
		distinct[r] = true
	}
	switch {
	case len(token) < minAdminTokenLen:
		bad(key, "too weak: %d characters, need at least %d (e.g. openssl rand -hex 32)", len(token), minAdminTokenLen)
	case len(distinct) < minAdminTokenDistinct:
		bad(key, "too weak: only %d different characters, need at least %d (e.g. openssl rand -hex 32)", len(distinct), minAdminTokenDistinct)
	}
}

func checkBind(bind string) error {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", bind)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no valid port", bind)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("%q has no valid host", bind)
	}
	return nil
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("%q must start with %s://", raw, strings.Join(schemes, ":// or "))
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

// checkUserID accepts @localpart:server_name, the bot's own server.
func checkUserID(userID, serverName string) error {
	if userID == "" {
		return fmt.Errorf("required when matrix.homeserver_url is set")
	}
	local, server, ok := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	if !strings.HasPrefix(userID, "@") || !ok || local == "" || server == "" {
		return fmt.Errorf("%q is not a user id (@name:server)", userID)
	}
	if serverName != "" && server != serverName {
		return fmt.Errorf("%q is not on matrix.server_name %q", userID, serverName)
	}
	return nil
}

// knownFeatures are the media features calls.features may name.
var knownFeatures = []string{calls.FeatureEcho, calls.FeatureRecord, calls.FeatureAnnounce}

// validateFeatures checks calls.features, calls.room_features, the echo
// delay and livekit.service_url.
func (c *Config) validateFeatures(bad func(key, format string, args ...any)) {
	check := func(key string, list []string) {
		for _, f := range list {
			if !slices.Contains(knownFeatures, f) {
				bad(key, "%q is not a feature (known: %s)", f, strings.Join(knownFeatures, ", "))
			}
		}
	}
	check("calls.features", c.Calls.Features)
	for _, room := range sortedKeys(c.Calls.RoomFeatures) {
		if !strings.HasPrefix(room, "!") || !strings.Contains(room, ":") {
			bad("calls.room_features", "%q is not a room id (!opaque:server)", room)
		}
		check("calls.room_features", splitList(c.Calls.RoomFeatures[room]))
	}
	if (len(c.Calls.Features) > 0 || len(c.Calls.RoomFeatures) > 0) && !c.botEnabled() {
		bad("calls.features", "needs the Matrix bot (matrix.homeserver_url and matrix.bot)")
	}
	if l := c.Calls.CommandLevel; l < 0 || l > 100 {
		bad("calls.command_level", "%d is not a power level from 0 to 100", l)
	}
	if c.Calls.EchoDelay <= 0 || c.Calls.EchoDelay > 10*time.Second {
		bad("calls.echo_delay", "%v is not between 1ms and 10s (1ms for no delay)", c.Calls.EchoDelay)
	}
	if u := c.LiveKit.ServiceURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		bad("livekit.service_url", "%q is not an http(s) URL", u)
	}
	c.validateRecordDir(bad)
	c.validateSounds(bad)
}

// validateRecordDir fills calls.record_dir from data_dir and, when a call
// may record, checks it is usable: set, and not something other than a
// folder. A missing folder is fine (it is created at start).
func (c *Config) validateRecordDir(bad func(key, format string, args ...any)) {
	if c.Calls.RecordDir == "" && c.DataDir != "" {
		c.Calls.RecordDir = filepath.Join(c.DataDir, "recordings")
	}
	if !c.recordingUsed() {
		return
	}
	dir := c.Calls.RecordDir
	if dir == "" {
		bad("calls.record_dir", "required when a call records (set it or data_dir)")
		return
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		bad("calls.record_dir", "%q is not a folder", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		bad("calls.record_dir", "%v", err)
	}
}

// recordingUsed reports whether calls.features or any room's features
// name record, or a room command may start a recording.
func (c *Config) recordingUsed() bool {
	if slices.Contains(c.Calls.Features, "record") || c.Calls.Commands && c.botEnabled() {
		return true
	}
	for _, list := range c.Calls.RoomFeatures {
		if slices.Contains(splitList(list), "record") {
			return true
		}
	}
	return false
}
