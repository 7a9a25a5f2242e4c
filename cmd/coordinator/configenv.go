package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// skipVerifyMagic is the only value of LIVEKIT_INSECURE_SKIP_VERIFY_TLS that
// turns verification off, exactly as lk-jwt-service requires.
const skipVerifyMagic = "YES_I_KNOW_WHAT_I_AM_DOING"

// applyEnv lays the environment over cfg. First the variables of
// lk-jwt-service, with their meaning and quirks, so an existing deployment's
// environment keeps working; then SWITCHBOARD_<KEY> for every key, which wins.
// It returns problems (as configErrors) and warnings for the operator.
func applyEnv(cfg *Config, getenv func(string) string) (errs []error, warnings []string) {
	problem := func(key, msg string) { errs = append(errs, &configError{Key: key, Msg: msg}) }
	warn := func(msg string) { warnings = append(warnings, msg) }

	// Log level: lk-jwt-service falls back to info on a bad value.
	if lvl := getenv("LIVEKIT_LOG_LEVEL"); lvl != "" {
		switch l := strings.ToLower(lvl); l {
		case "debug", "info", "warn", "error":
			cfg.Log.Level = l
		case "warning":
			cfg.Log.Level = "warn"
		default:
			cfg.Log.Level = "info"
			warn("LIVEKIT_LOG_LEVEL=" + strconv.Quote(lvl) + " is not a level; using info")
		}
	}

	// Listen address: LIVEKIT_JWT_BIND, or the deprecated port variables.
	bind, port := getenv("LIVEKIT_JWT_BIND"), getenv("LIVEKIT_JWT_PORT")
	if old := getenv("LK_JWT_PORT"); old != "" {
		warn("LK_JWT_PORT was renamed LIVEKIT_JWT_PORT, which is deprecated too: use LIVEKIT_JWT_BIND")
		if port == "" {
			port = old
		}
	}
	switch {
	case bind != "" && port != "":
		problem("http.bind", "LIVEKIT_JWT_BIND and LIVEKIT_JWT_PORT must not be set together")
	case bind != "":
		cfg.HTTP.Bind = bind
	case port != "":
		warn("LIVEKIT_JWT_PORT is deprecated, use LIVEKIT_JWT_BIND")
		cfg.HTTP.Bind = ":" + port
	}

	setIf(&cfg.LiveKit.URL, getenv("LIVEKIT_URL"))
	setIf(&cfg.LiveKit.Key, getenv("LIVEKIT_KEY"))
	if s := getenv("LIVEKIT_SECRET"); s != "" {
		cfg.LiveKit.Secret = secret.Value(s)
	}
	setIf(&cfg.LiveKit.KeyFile, getenv("LIVEKIT_KEY_FROM_FILE"))
	setIf(&cfg.LiveKit.SecretFile, getenv("LIVEKIT_SECRET_FROM_FILE"))
	if old := getenv("LIVEKIT_SECRET_FILE"); old != "" {
		warn("LIVEKIT_SECRET_FILE was renamed LIVEKIT_SECRET_FROM_FILE in lk-jwt-service v0.2.3")
		if cfg.LiveKit.SecretFile == "" {
			cfg.LiveKit.SecretFile = old
		}
	}
	setIf(&cfg.LiveKit.KeySecretFile, getenv("LIVEKIT_KEY_FILE"))

	full := getenv("LIVEKIT_FULL_ACCESS_HOMESERVERS")
	if local := getenv("LIVEKIT_LOCAL_HOMESERVERS"); local != "" {
		warn("LIVEKIT_LOCAL_HOMESERVERS was removed in lk-jwt-service v0.5.0; use LIVEKIT_FULL_ACCESS_HOMESERVERS")
		if full == "" {
			full = local
		}
	}
	if full != "" {
		cfg.LiveKit.FullAccessHomeservers = splitList(full)
	}

	if v := getenv("LIVEKIT_INSECURE_SKIP_VERIFY_TLS"); v != "" {
		cfg.LiveKit.InsecureSkipVerifyTLS = v == skipVerifyMagic
		if v != skipVerifyMagic {
			warn("LIVEKIT_INSECURE_SKIP_VERIFY_TLS is ignored unless it is exactly " + skipVerifyMagic)
		}
	}
	if s := getenv("LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS"); s != "" {
		secs, err := strconv.Atoi(s)
		if err != nil || secs < 0 {
			problem("livekit.sanity_check_interval", "LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS must be a non-negative integer, got "+strconv.Quote(s))
		} else {
			cfg.LiveKit.SanityCheckInterval = time.Duration(secs) * time.Second
		}
	}
	if s := getenv("LIVEKIT_CS_API_URL_OVERRIDES"); s != "" {
		m, err := parseMap(s)
		if err != nil {
			problem("matrix.homeserver_urls", "LIVEKIT_CS_API_URL_OVERRIDES: "+err.Error())
		} else {
			cfg.Matrix.HomeserverURLs = m
		}
	}
	if getenv("LIVEKIT_REDIS_URL") != "" {
		warn("LIVEKIT_REDIS_URL is ignored: Switchboard keeps its state in SQLite under data_dir")
	}

	for _, f := range configFields() {
		if s := getenv(f.env); s != "" {
			if err := f.setString(cfg, s); err != nil {
				problem(f.key, f.env+": "+err.Error())
			}
		}
	}
	return errs, warnings
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
