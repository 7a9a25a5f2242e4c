package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// loadConfig builds the configuration once: defaults, then the YAML file at
// path (if any), then the environment, then secrets read from files, then
// validation. All problems come back together in one joined error of
// *configError values; warnings are for the operator's log.
func loadConfig(path string, getenv func(string) string) (*Config, []string, error) {
	cfg := defaultConfig()
	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read config: %w", err)
		}
		errs = append(errs, decodeYAML(data, &cfg)...)
	}
	envErrs, warnings := applyEnv(&cfg, getenv)
	errs = append(errs, envErrs...)
	errs = append(errs, resolveSecretFiles(&cfg)...)
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	return &cfg, append(warnings, cfg.metricsWarnings()...), nil
}

// resolveSecretFiles replaces values with the contents of their *_file keys.
// File contents are trimmed of spaces and line ends, as lk-jwt-service does.
func resolveSecretFiles(cfg *Config) []error {
	var errs []error
	read := func(key, path string) (string, bool) {
		if path == "" {
			return "", false
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, &configError{Key: key, Msg: err.Error()})
			return "", false
		}
		return strings.Trim(string(b), " \r\n"), true
	}
	lk := &cfg.LiveKit
	if s, ok := read("livekit.key_secret_file", lk.KeySecretFile); ok {
		// Exactly one colon, as lk-jwt-service demands ("key: secret").
		parts := strings.Split(s, ":")
		if len(parts) != 2 {
			errs = append(errs, &configError{Key: "livekit.key_secret_file", Msg: "file must hold exactly one 'key: secret' pair"})
		} else {
			lk.Key = strings.Trim(parts[0], " \r\n")
			lk.Secret = secret.Value(strings.Trim(parts[1], " \r\n"))
		}
	} else {
		if s, ok := read("livekit.key_file", lk.KeyFile); ok {
			lk.Key = s
		}
		if s, ok := read("livekit.secret_file", lk.SecretFile); ok {
			lk.Secret = secret.Value(s)
		}
	}
	// lk-jwt-service trims the key and secret whatever their source.
	lk.Key = strings.Trim(lk.Key, " \r\n")
	lk.Secret = secret.Value(strings.Trim(lk.Secret.Reveal(), " \r\n"))

	m := &cfg.Matrix
	if s, ok := read("matrix.bot.password_file", m.Bot.PasswordFile); ok {
		m.Bot.Password = secret.Value(s)
	}
	if s, ok := read("matrix.bot.access_token_file", m.Bot.AccessTokenFile); ok {
		m.Bot.AccessToken = secret.Value(s)
	}
	if s, ok := read("matrix.registration_shared_secret_file", m.RegistrationSecretFile); ok {
		m.RegistrationSharedSecret = secret.Value(s)
	}
	if s, ok := read("admin.token_file", cfg.Admin.TokenFile); ok {
		cfg.Admin.Token = secret.Value(s)
	}
	if s, ok := read("metrics.token_file", cfg.Metrics.TokenFile); ok {
		cfg.Metrics.Token = secret.Value(s)
	}
	return errs
}
