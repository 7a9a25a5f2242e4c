package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/secret"
	"github.com/switchboard-rtc/switchboard/internal/sharedsecret"
)

// runRegisterUser registers a user through Synapse's shared-secret API. The
// homeserver and secret come from --config (matrix.homeserver_url,
// matrix.registration_shared_secret) or from flags.
func runRegisterUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("register-user", stderr)
	path := fs.String("config", "", "configuration file to take the homeserver and shared secret from")
	hs := fs.String("homeserver", "", "homeserver client API URL (overrides the config)")
	secretFile := fs.String("shared-secret-file", "", "file holding the registration shared secret (overrides the config)")
	user := fs.String("user", "", "localpart of the new user (required)")
	passwordFile := fs.String("password-file", "", "file holding the password; without it a random one is made and printed")
	admin := fs.Bool("admin", false, "make the user a homeserver admin")
	existsOK := fs.Bool("exists-ok", false, "succeed when the user already exists")
	reset := fs.Bool("reset-password", false, "with --exists-ok and --password-file: give an existing user that password (through a throwaway admin; needs matrix.server_name or --server-name)")
	serverName := fs.String("server-name", "", "the homeserver's server name (overrides the config)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *user == "" {
		fmt.Fprintln(stderr, "register-user: --user is required")
		return errUsage
	}

	var shared secret.Value
	if p := configPath(*path, getenv); p != "" {
		cfg, _, err := loadConfig(p, getenv)
		if err != nil {
			return err
		}
		shared = cfg.Matrix.RegistrationSharedSecret
		if *hs == "" {
			*hs = cfg.Matrix.HomeserverURL
		}
		if *serverName == "" {
			*serverName = cfg.Matrix.ServerName
		}
	}
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("register-user: %w", err)
		}
		shared = secret.Value(strings.TrimSpace(string(b)))
	}
	if *hs == "" || shared.IsZero() {
		fmt.Fprintln(stderr, "register-user: need a homeserver URL and a shared secret (--config, or --homeserver and --shared-secret-file)")
		return errUsage
	}

	if *reset && (!*existsOK || *passwordFile == "" || *serverName == "") {
		fmt.Fprintln(stderr, "register-user: --reset-password needs --exists-ok, --password-file and a server name")
		return errUsage
	}
	password, generated := secret.Value(""), false
	if *passwordFile != "" {
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			return fmt.Errorf("register-user: %w", err)
		}
		password = secret.Value(strings.TrimSpace(string(b)))
	} else {
		password, generated = secret.Value(rand.Text()), true
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u, err := sharedsecret.Register(ctx, &http.Client{}, *hs, shared, *user, password, *admin)
	switch {
	case errors.Is(err, sharedsecret.ErrUserInUse) && *existsOK && *reset:
		full := "@" + *user + ":" + *serverName
		if err := sharedsecret.SetPassword(ctx, &http.Client{}, *hs, shared, full, password); err != nil {
			return fmt.Errorf("register-user: %w", err)
		}
		fmt.Fprintf(stdout, "user %s already exists; its password is now the one in %s\n", full, *passwordFile)
		return nil
	case errors.Is(err, sharedsecret.ErrUserInUse) && *existsOK:
		fmt.Fprintf(stdout, "user %s already exists\n", *user)
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "registered %s (device %s)\n", u.UserID, u.DeviceID)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", password.Reveal())
	}
	return nil
}
