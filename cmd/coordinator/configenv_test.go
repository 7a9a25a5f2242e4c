package main

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLKJWTServiceEnvironment pins the meaning, precedence and quirks of every
// lk-jwt-service variable, so its deployments can switch binaries as they are.
func TestLKJWTServiceEnvironment(t *testing.T) {
	keySecret := writeFile(t, "ks", "filekey: filesecret\r\n")
	badKeySecret := writeFile(t, "bad", "a:b:c\n")
	keyOnly := writeFile(t, "k", " keyfromfile\n")
	secretOnly := writeFile(t, "s", "secretfromfile\r\n")

	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c *Config)
		wantErr string // substring of the joined error; "" means success
		warn    string // substring of some warning
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			eq(t, c.HTTP.Bind, ":8080")
			eq(t, c.LiveKit.TokenTTL, time.Hour)
			eq(t, c.Log.Level, "info")
		}},
		{name: "bind", env: map[string]string{"LIVEKIT_JWT_BIND": "[::1]:9090"}, check: func(t *testing.T, c *Config) {
			eq(t, c.HTTP.Bind, "[::1]:9090")
		}},
		{name: "deprecated port", env: map[string]string{"LIVEKIT_JWT_PORT": "9091"}, warn: "LIVEKIT_JWT_PORT is deprecated",
			check: func(t *testing.T, c *Config) { eq(t, c.HTTP.Bind, ":9091") }},
		{name: "renamed LK_JWT_PORT", env: map[string]string{"LK_JWT_PORT": "9092"}, warn: "LK_JWT_PORT was renamed",
			check: func(t *testing.T, c *Config) { eq(t, c.HTTP.Bind, ":9092") }},
		{name: "LIVEKIT_JWT_PORT beats LK_JWT_PORT", env: map[string]string{"LK_JWT_PORT": "1", "LIVEKIT_JWT_PORT": "2"},
			check: func(t *testing.T, c *Config) { eq(t, c.HTTP.Bind, ":2") }},
		{name: "bind and port together", env: map[string]string{"LIVEKIT_JWT_BIND": ":1", "LIVEKIT_JWT_PORT": "2"},
			wantErr: "http.bind: LIVEKIT_JWT_BIND and LIVEKIT_JWT_PORT must not be set together"},
		{name: "key file wins over everything", env: map[string]string{"LIVEKIT_KEY_FILE": keySecret, "LIVEKIT_KEY_FROM_FILE": keyOnly},
			check: func(t *testing.T, c *Config) {
				eq(t, c.LiveKit.Key, "filekey")
				eq(t, c.LiveKit.Secret.Reveal(), "filesecret")
			}},
		{name: "key file needs exactly one colon", env: map[string]string{"LIVEKIT_KEY_FILE": badKeySecret},
			wantErr: "livekit.key_secret_file: file must hold exactly one"},
		{name: "from-file variants override plain and are trimmed", env: map[string]string{"LIVEKIT_KEY_FROM_FILE": keyOnly, "LIVEKIT_SECRET_FROM_FILE": secretOnly},
			check: func(t *testing.T, c *Config) {
				eq(t, c.LiveKit.Key, "keyfromfile")
				eq(t, c.LiveKit.Secret.Reveal(), "secretfromfile")
			}},
		{name: "old LIVEKIT_SECRET_FILE", env: map[string]string{"LIVEKIT_SECRET_FILE": secretOnly}, warn: "renamed LIVEKIT_SECRET_FROM_FILE",
			check: func(t *testing.T, c *Config) { eq(t, c.LiveKit.Secret.Reveal(), "secretfromfile") }},
		{name: "missing key file", env: map[string]string{"LIVEKIT_KEY_FILE": "/nonexistent/ks"}, wantErr: "livekit.key_secret_file:"},
		{name: "missing url key secret", env: map[string]string{"LIVEKIT_URL": "", "LIVEKIT_KEY": "", "LIVEKIT_SECRET": ""},
			wantErr: "livekit.url: required"},
		{name: "full access list split on commas and spaces", env: map[string]string{"LIVEKIT_FULL_ACCESS_HOMESERVERS": " a.org,b.org  c.org,,"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.LiveKit.FullAccessHomeservers, []string{"a.org", "b.org", "c.org"})
			}},
		{name: "full access wildcard kept", env: map[string]string{"LIVEKIT_FULL_ACCESS_HOMESERVERS": "*"},
			check: func(t *testing.T, c *Config) { eq(t, c.LiveKit.FullAccessHomeservers, []string{"*"}) }},
		{name: "full access required", env: map[string]string{"LIVEKIT_FULL_ACCESS_HOMESERVERS": ""},
			wantErr: "livekit.full_access_homeservers: required"},
		{name: "removed LIVEKIT_LOCAL_HOMESERVERS as fallback", env: map[string]string{"LIVEKIT_FULL_ACCESS_HOMESERVERS": "", "LIVEKIT_LOCAL_HOMESERVERS": "x.org"},
			warn: "LIVEKIT_LOCAL_HOMESERVERS was removed", check: func(t *testing.T, c *Config) { eq(t, c.LiveKit.FullAccessHomeservers, []string{"x.org"}) }},
		{name: "skip verify magic", env: map[string]string{"LIVEKIT_INSECURE_SKIP_VERIFY_TLS": skipVerifyMagic},
			check: func(t *testing.T, c *Config) { eq(t, c.LiveKit.InsecureSkipVerifyTLS, true) }},
		{name: "skip verify needs the exact phrase", env: map[string]string{"LIVEKIT_INSECURE_SKIP_VERIFY_TLS": "yes"}, warn: "ignored unless",
			check: func(t *testing.T, c *Config) { eq(t, c.LiveKit.InsecureSkipVerifyTLS, false) }},
		{name: "sanity interval", env: map[string]string{"LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS": "30"},
			check: func(t *testing.T, c *Config) { eq(t, c.LiveKit.SanityCheckInterval, 30*time.Second) }},
		{name: "sanity interval zero", env: map[string]string{"LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS": "0"},
			check: func(t *testing.T, c *Config) { eq(t, c.LiveKit.SanityCheckInterval, time.Duration(0)) }},
		{name: "sanity interval negative", env: map[string]string{"LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS": "-1"},
			wantErr: "must be a non-negative integer"},
		{name: "sanity interval not a number", env: map[string]string{"LIVEKIT_SANITY_CHECK_INTERVAL_SECONDS": "5s"},
			wantErr: "must be a non-negative integer"},
		{name: "cs api overrides", env: map[string]string{"LIVEKIT_CS_API_URL_OVERRIDES": " example.org = http://127.0.0.1:8008 , [::1]:8448=https://[::1]:8448"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.Matrix.HomeserverURLs, map[string]string{"example.org": "http://127.0.0.1:8008", "[::1]:8448": "https://[::1]:8448"})
			}},
		{name: "cs api overrides empty value", env: map[string]string{"LIVEKIT_CS_API_URL_OVERRIDES": "example.org="},
			wantErr: "matrix.homeserver_urls: LIVEKIT_CS_API_URL_OVERRIDES"},
		{name: "cs api overrides empty key", env: map[string]string{"LIVEKIT_CS_API_URL_OVERRIDES": "=http://x"},
			wantErr: "not of the form name=value"},
		{name: "log level warning alias", env: map[string]string{"LIVEKIT_LOG_LEVEL": "WARNING"},
			check: func(t *testing.T, c *Config) { eq(t, c.Log.Level, "warn") }},
		{name: "bad log level falls back", env: map[string]string{"LIVEKIT_LOG_LEVEL": "chatty"}, warn: "using info",
			check: func(t *testing.T, c *Config) { eq(t, c.Log.Level, "info") }},
		{name: "redis ignored with warning", env: map[string]string{"LIVEKIT_REDIS_URL": "redis://127.0.0.1"}, warn: "LIVEKIT_REDIS_URL is ignored"},
		{name: "SWITCHBOARD_ names win", env: map[string]string{"LIVEKIT_JWT_BIND": ":1", "SWITCHBOARD_HTTP_BIND": ":2"},
			check: func(t *testing.T, c *Config) { eq(t, c.HTTP.Bind, ":2") }},
		{name: "SWITCHBOARD_ bad duration", env: map[string]string{"SWITCHBOARD_LIVEKIT_TOKEN_TTL": "soon"},
			wantErr: "livekit.token_ttl: SWITCHBOARD_LIVEKIT_TOKEN_TTL:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := minimalEnv()
			maps.Copy(env, tt.env)
			cfg, warnings, err := loadConfig("", envOf(env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q lack %q", warnings, tt.warn)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func eq[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
