package main

import (
	"time"

	"github.com/switchboard-rtc/switchboard/calls"
	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/sfuhealth"
)

// Config is the whole coordinator configuration: one YAML file, then the
// environment on top (see configenv.go). Every leaf carries its own
// documentation in the `doc` tag; `coordinator config-doc` renders the table in
// README.md from these tags, and a test keeps the two equal.
//
// Tags: yaml is the key, doc the meaning, env lists accepted variables besides
// the generated SWITCHBOARD_<KEY> one (the lk-jwt-service names), and req marks
// values that have no default and are required when their section is in use.
type Config struct {
	Log     LogConfig     `yaml:"log"`
	HTTP    HTTPConfig    `yaml:"http"`
	LiveKit LiveKitConfig `yaml:"livekit"`
	Matrix  MatrixConfig  `yaml:"matrix"`
	DataDir string        `yaml:"data_dir" doc:"Directory for persistent state (SQLite databases). Needed when the Matrix bot is configured."`
	Calls   CallsConfig   `yaml:"calls"`
	Mesh    MeshConfig    `yaml:"mesh"`
	E2EE    E2EEConfig    `yaml:"e2ee"`
	Admin   AdminConfig   `yaml:"admin"`
	Metrics MetricsConfig `yaml:"metrics"`
}

// E2EEConfig is the media-key exchange of the calls we take part in. The
// defaults are the references' values (famedly-voip.md 2.6, matrixrtc-js.md 3.3).
type E2EEConfig struct {
	FamedlyEventTypes  []string      `yaml:"famedly_event_types" doc:"To-device types our Famedly keys are sent as (each key once per type): com.famedly.call.member.encryption_keys (what the SDK reads) and/or com.famedly.call.encryption_keys (its README's name). Both are always accepted."`
	AllowPlaintextKeys bool          `yaml:"allow_plaintext_keys" doc:"Accept keys sent unencrypted in rooms without encryption (the Famedly SDK sends them so there). Unencrypted keys are always refused in encrypted rooms."`
	HoldFor            time.Duration `yaml:"hold_for" doc:"How long a received key waits for its sender's membership before it is refused."`
	FamedlyReuseFor    time.Duration `yaml:"famedly_reuse_for" doc:"Famedly calls: a joiner gets our current key while it is younger than this; else a new key goes to everyone."`
	FamedlyUseDelay    time.Duration `yaml:"famedly_use_delay" doc:"Famedly calls: how long after sending a new key we start encrypting with it."`
	FamedlyRotateDelay time.Duration `yaml:"famedly_rotate_delay" doc:"Famedly calls: how long after a member leaves we make a new key (further leaves restart the wait)."`
	RTCReuseFor        time.Duration `yaml:"matrixrtc_reuse_for" doc:"MatrixRTC calls: a joiner gets our current key while it is younger than this; else a new key goes to everyone."`
	RTCUseDelay        time.Duration `yaml:"matrixrtc_use_delay" doc:"MatrixRTC calls: how long after sending a new key we start encrypting with it."`
	RTCRotateDelay     time.Duration `yaml:"matrixrtc_rotate_delay" doc:"MatrixRTC calls: how long after a member leaves we make a new key (0: at once, as the js-sdk does)."`
}

// AdminConfig guards the operators' API (/admin/v1/...).
type AdminConfig struct {
	Token     secret.Value `yaml:"token" doc:"Bearer token for the admin API (/admin/v1/...) and the status page (/admin/, whose login form takes it), at least 32 characters of which at least 8 different (e.g. openssl rand -hex 32); the admin API is off when no token is set."`
	TokenFile string       `yaml:"token_file" doc:"File holding the admin token."`
	Bind      string       `yaml:"bind" doc:"Listen address of the admin API, host:port: its own listener, never http.bind. Keep it on loopback or a private network."`
}

// LogConfig selects the slog handler.
type LogConfig struct {
	Level  string `yaml:"level" env:"LIVEKIT_LOG_LEVEL" doc:"debug, info, warn or error. LIVEKIT_LOG_LEVEL also accepts warning, and falls back to info with a warning on bad values, as lk-jwt-service does."`
	Format string `yaml:"format" doc:"text or json."`
}

// HTTPConfig is the listener for the livekit_service_url, health and admin endpoints.
type HTTPConfig struct {
	Bind      string  `yaml:"bind" env:"LIVEKIT_JWT_BIND" doc:"Listen address, host:port. LIVEKIT_JWT_PORT (deprecated) and LK_JWT_PORT (its old name) give :PORT instead; setting a port together with LIVEKIT_JWT_BIND is an error."`
	RateLimit float64 `yaml:"rate_limit" doc:"Token requests per second allowed per client address (0 = no limit)."`
	RateBurst int     `yaml:"rate_burst" doc:"Requests a client may make at once above rate_limit."`
	// TrustedProxies is read by httpserve.ParseTrustedProxy.
	TrustedProxies []string `yaml:"trusted_proxies" doc:"Reverse proxies whose X-Forwarded-For is believed, as CIDRs or addresses (e.g. 127.0.0.1/32, 10.0.0.0/8). A request from one of them counts, for rate limits, as from the rightmost X-Forwarded-For hop that is not one of them; from any other peer the header is ignored. Empty: the peer address is the client."`
}

// LiveKitConfig is the SFU this coordinator issues tokens for and manages.
type LiveKitConfig struct {
	URL                   string        `yaml:"url" env:"LIVEKIT_URL" req:"" doc:"LiveKit URL handed to clients (ws:// or wss://) and used for the server API."`
	APIURL                string        `yaml:"api_url" doc:"LiveKit server API URL if it differs from url (e.g. an internal http:// address); defaults to url."`
	Key                   string        `yaml:"key" env:"LIVEKIT_KEY" req:"" doc:"LiveKit API key."`
	KeyFile               string        `yaml:"key_file" env:"LIVEKIT_KEY_FROM_FILE" doc:"File holding the API key; overrides key."`
	Secret                secret.Value  `yaml:"secret" env:"LIVEKIT_SECRET" req:"" doc:"LiveKit API secret."`
	SecretFile            string        `yaml:"secret_file" env:"LIVEKIT_SECRET_FROM_FILE" doc:"File holding the API secret; overrides secret."`
	KeySecretFile         string        `yaml:"key_secret_file" env:"LIVEKIT_KEY_FILE" doc:"File holding 'key: secret' (exactly one colon); overrides all of the above."`
	FullAccessHomeservers []string      `yaml:"full_access_homeservers" env:"LIVEKIT_FULL_ACCESS_HOMESERVERS" doc:"Server names whose users may make LiveKit rooms exist; a lone * means every server. Required, unless matrix.server_name is set (then it defaults to that)."`
	TokenTTL              time.Duration `yaml:"token_ttl" doc:"Lifetime of issued LiveKit tokens."`
	InsecureSkipVerifyTLS bool          `yaml:"insecure_skip_verify_tls" env:"LIVEKIT_INSECURE_SKIP_VERIFY_TLS" doc:"Skip TLS verification of homeserver calls. The variable must be exactly YES_I_KNOW_WHAT_I_AM_DOING."`
	SanityCheckInterval   time.Duration `yaml:"sanity_check_interval" env:"LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS" doc:"How often a delegated delayed leave checks that its participant is still on LiveKit (one listing per room serves all its jobs); 0 leaves it to webhooks alone. The variable is whole seconds."`
	DelegationGrace       time.Duration `yaml:"delegation_grace" doc:"How long a participant that vanished from LiveKit without leaving may take to reconnect before its delegated leave is sent."`
	DelegationMaxPerUser  int           `yaml:"delegation_max_per_user" doc:"Delegated delayed leaves one Matrix user may hold at once; more are refused with 429 M_LIMIT_EXCEEDED."`
	EnforceMembership     bool          `yaml:"enforce_membership" doc:"Remove LiveKit participants with no valid Matrix call membership, and delete LiveKit rooms with no member left (needs the Matrix bot; only rooms the bot is in are judged)."`
	EnforceGrace          time.Duration `yaml:"enforce_grace" doc:"How long a LiveKit participant may stay without a membership before it is removed."`
	EnforceInterval       time.Duration `yaml:"enforce_interval" doc:"How often LiveKit's rooms are compared with the memberships (webhooks trigger earlier checks)."`
	ServiceURL            string        `yaml:"service_url" doc:"This coordinator's public livekit_service_url, as clients see it (.well-known org.matrix.msc4143.rtc_foci). Calls on it get our participant's token minted here; calls on any other focus are asked over HTTP (/sfu/get) with the bot's OpenID token, as a client does. Empty: every focus is asked over HTTP."`
	HealthInterval        time.Duration `yaml:"health_interval" doc:"How often the coordinator checks that LiveKit's server API answers (a listing bounded to 5 s); GET /healthz?detail=1 shows the result."`
}

// MatrixConfig describes the homeserver and the coordinator's bot account.
type MatrixConfig struct {
	HomeserverURL            string            `yaml:"homeserver_url" doc:"Client-server API base URL of the homeserver the bot lives on. Setting it turns the Matrix bot on."`
	ServerName               string            `yaml:"server_name" doc:"The homeserver's server name (the part after the colon in user ids)."`
	HomeserverURLs           map[string]string `yaml:"homeserver_urls" env:"LIVEKIT_CS_API_URL_OVERRIDES" doc:"Map of server name to base URL, used instead of discovery for those servers (OpenID checks included). The variable's form is server=url,server2=url2."`
	CAFile                   string            `yaml:"ca_file" doc:"PEM bundle of CAs trusted for homeserver TLS instead of the system roots."`
	OpenIDCacheTTL           time.Duration     `yaml:"openid_cache_ttl" doc:"Longest time a verified OpenID token is cached (never past its expires_in)."`
	RequestTimeout           time.Duration     `yaml:"request_timeout" doc:"Bound on each call to a homeserver (OpenID checks, discovery)."`
	RequireRoomMembership    bool              `yaml:"require_room_membership" doc:"Issue LiveKit tokens only to users joined to the Matrix room of the call (the bot must be in the room). Needs the bot."`
	Bot                      BotConfig         `yaml:"bot"`
	RegistrationSharedSecret secret.Value      `yaml:"registration_shared_secret" doc:"Synapse registration shared secret, for development: lets the coordinator register its bot and test users."`
	RegistrationSecretFile   string            `yaml:"registration_shared_secret_file" doc:"File holding the registration shared secret."`
}

// BotConfig is the coordinator's own Matrix account.
type BotConfig struct {
	UserID          string       `yaml:"user_id" doc:"The bot's full user id, e.g. @switchboard:example.org."`
	Password        secret.Value `yaml:"password" doc:"Password to log in with (or use access_token)."`
	PasswordFile    string       `yaml:"password_file" doc:"File holding the password."`
	AccessToken     secret.Value `yaml:"access_token" doc:"Access token to use instead of a password."`
	AccessTokenFile string       `yaml:"access_token_file" doc:"File holding the access token."`
	DeviceID        string       `yaml:"device_id" doc:"Device id to use; by default the one from the first login, kept in data_dir."`
	AcceptInvites   []string     `yaml:"accept_invites_from" doc:"Whose room invites the bot accepts: user ids (@a:example.org), server names (example.org), or * for anyone. Default: users of matrix.server_name."`
}

// CallsConfig is the call policy: which calls the coordinator takes part in.
type CallsConfig struct {
	Join  string            `yaml:"join" doc:"Which calls the coordinator joins: never, invited (calls in rooms it was invited to) or all (every call in joined rooms)."`
	Rooms map[string]string `yaml:"rooms" doc:"Per-room overrides of join, room id to policy, e.g. {\"!abc:example.org\": never}."`

	FamedlyStateKey     string        `yaml:"famedly_state_key" doc:"State-key form of our com.famedly.call.member events: auto (the Famedly SDK's choice: user_device in msc3757 room versions, else user), user, user_device or device_user. Use the form the room's clients use."`
	FamedlyExpiry       time.Duration `yaml:"famedly_expiry" doc:"Our Famedly expires_ts is now plus this."`
	FamedlyRefresh      time.Duration `yaml:"famedly_refresh" doc:"How often our Famedly membership is rewritten."`
	FamedlyLeaveDelay   time.Duration `yaml:"famedly_leave_delay" doc:"MSC4140 delayed-leave delay of our Famedly memberships: how long after the coordinator dies it drops out of the call."`
	FamedlyLeaveRestart time.Duration `yaml:"famedly_leave_restart" doc:"How often the Famedly delayed leave is restarted while we live."`
	RTCExpiry           time.Duration `yaml:"matrixrtc_expiry" doc:"Horizon of our MatrixRTC memberships (expires is kept at about now plus this)."`
	RTCRefresh          time.Duration `yaml:"matrixrtc_refresh" doc:"How often our MatrixRTC membership is rewritten."`
	RTCLeaveDelay       time.Duration `yaml:"matrixrtc_leave_delay" doc:"MSC4140 delayed-leave delay of our MatrixRTC memberships."`
	RTCLeaveRestart     time.Duration `yaml:"matrixrtc_leave_restart" doc:"How often the MatrixRTC delayed leave is restarted while we live."`
	MaxSeatsPerRoom     int           `yaml:"max_seats_per_room" doc:"Most calls (per dialect) we take part in in one room; any member can advertise calls, so more are refused (logged, and listed in the admin API). Seats we hold keep theirs; free places go to the longest-waiting calls."`
	MaxSeats            int           `yaml:"max_seats" doc:"Most calls (per dialect) we take part in across all rooms; each costs a delayed-leave restart every few seconds and state writes."`

	Commands     bool `yaml:"commands" doc:"Answer room commands (!call join, leave, echo on|off, record start|stop, play NAME, status, help) in the rooms the bot is in, plain or encrypted, with an m.notice reply. What they change lasts until the coordinator restarts."`
	CommandLevel int  `yaml:"command_level" doc:"Power level a user needs in the room for the commands that change what we do (join, leave, echo, record, play); status and help are open to all. 0 to 100 (50: moderators; room creators count as above 100 in room version 12)."`

	Features     []string          `yaml:"features" doc:"Media features on in every call we take part in: echo (each participant hears their own audio, and sees their video, back after echo_delay), record (each participant's decrypted audio, and video unless record_video is off, to record_dir), announce (the announce sound, played once as we join). Empty: we join as a silent participant."`
	RoomFeatures map[string]string `yaml:"room_features" doc:"Per-room overrides of features, room id to a comma-separated list (empty: none), e.g. {\"!abc:example.org\": echo}."`
	EchoDelay    time.Duration     `yaml:"echo_delay" doc:"How long the echo feature waits before playing a participant's media back (1ms to 10s)."`
	RecordDir    string            `yaml:"record_dir" doc:"Folder the record feature writes to: one folder per recording, with an Ogg/Opus (audio) or IVF (video) file per participant segment and manifest.json. Default: <data_dir>/recordings (created at start when a call records)."`
	SoundsDir    string            `yaml:"sounds_dir" doc:"Folder of the sounds announce and !call play NAME play: Ogg Opus files named NAME.ogg or NAME.opus (NAME: letters, digits, dots, dashes, underscores). Default: <data_dir>/sounds."`
	Announce     string            `yaml:"announce" doc:"The sound (a NAME in sounds_dir) the announce feature plays once into a call when we join it. Required when a call has announce."`
	RecordVideo  bool              `yaml:"record_video" doc:"Whether the record feature also writes each participant's video (VP8 or VP9, untranscoded, to IVF files) beside the audio."`

	Direct            string        `yaml:"direct" doc:"What the bot does when a user calls it (m.call.invite, plain or encrypted) in a direct room (its joined members: the bot and the caller): echo (answers with the echo test, after echo_delay), reject (declines) or ignore (lets it ring out)."`
	DirectMax         int           `yaml:"direct_max" doc:"Most 1:1 calls to the bot carried at once; further callers are rejected as busy (user_busy)."`
	DirectMaxDuration time.Duration `yaml:"direct_max_duration" doc:"How long a 1:1 call to the bot may last before the bot hangs up (a forgotten echo test ends)."`
}

// Join policies.
const (
	JoinNever   = "never"
	JoinInvited = "invited"
	JoinAll     = "all"
)

// defaultConfig is the configuration before the file and environment apply.
func defaultConfig() Config {
	famedlyT, rtcT := e2ee.DefaultFamedlyTimings(), e2ee.DefaultMatrixRTCTimings()
	return Config{
		Log:     LogConfig{Level: "info", Format: "text"},
		HTTP:    HTTPConfig{Bind: ":8080", RateBurst: 20},
		Admin:   AdminConfig{Bind: "127.0.0.1:8081"},
		LiveKit: LiveKitConfig{TokenTTL: time.Hour, SanityCheckInterval: 5 * time.Second, DelegationGrace: 3 * time.Second, DelegationMaxPerUser: 8, EnforceMembership: true, EnforceGrace: 30 * time.Second, EnforceInterval: 5 * time.Second, HealthInterval: sfuhealth.DefaultInterval},
		Matrix:  MatrixConfig{OpenIDCacheTTL: 5 * time.Minute, RequestTimeout: 5 * time.Second},
		DataDir: "/var/lib/switchboard",
		Calls: CallsConfig{Join: JoinNever, FamedlyStateKey: "auto",
			FamedlyExpiry: 6 * time.Minute, FamedlyRefresh: 2 * time.Minute,
			FamedlyLeaveDelay: 18 * time.Second, FamedlyLeaveRestart: 4 * time.Second,
			RTCExpiry: 4 * time.Hour, RTCRefresh: time.Hour,
			RTCLeaveDelay: 10 * time.Second, RTCLeaveRestart: 5 * time.Second,
			Commands: true, CommandLevel: calls.DefaultCommandLevel,
			MaxSeatsPerRoom: calls.DefaultMaxSeatsPerRoom, MaxSeats: calls.DefaultMaxSeats, EchoDelay: 500 * time.Millisecond, RecordVideo: true,
			Direct: DirectEcho, DirectMax: defaultDirectMax, DirectMaxDuration: defaultDirectMaxDuration},
		E2EE: E2EEConfig{
			FamedlyEventTypes:  []string{e2ee.FamedlyKeysEventType, e2ee.FamedlyKeysEventTypeAlias},
			AllowPlaintextKeys: true, HoldFor: e2ee.DefaultHoldFor,
			FamedlyReuseFor: famedlyT.ReuseFor, FamedlyUseDelay: famedlyT.UseDelay, FamedlyRotateDelay: famedlyT.RotateDelay,
			RTCReuseFor: rtcT.ReuseFor, RTCUseDelay: rtcT.UseDelay, RTCRotateDelay: rtcT.RotateDelay,
		},
	}
}

// botEnabled reports whether the Matrix side (bot, membership) is configured.
func (c *Config) botEnabled() bool { return c.Matrix.HomeserverURL != "" }
