// Command coordinator is Switchboard: the livekit_service_url for Matrix
// group calls, call membership upkeep and E2EE key exchange beside a
// homeserver and a LiveKit SFU.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "coordinator:", err)
		}
		os.Exit(1)
	}
}

// errUsage means the problem was already explained on stderr.
var errUsage = errors.New("usage")

const usage = `usage: coordinator [command] [flags]

commands:
  serve          run the service (default)         --config FILE (optional: the environment may say enough)
  check-config   load and validate a configuration --config FILE; prints every problem with its key
  register-user  register a Matrix user through the homeserver's shared secret (development)
  doctor         check a deployment as a client walks it  [--config FILE] [--json] [--base URL] SERVER_NAME
  config-doc     print the configuration reference table (markdown)
  version        print the version

Configuration is a YAML file plus environment overrides; SWITCHBOARD_CONFIG may name the file.
The environment variables of lk-jwt-service are understood, so it can replace that service as is.
`

// run is the whole program; main only calls it. args includes the program
// name as os.Args does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "check-config":
		return runCheckConfig(rest, getenv, stdout, stderr)
	case "register-user":
		return runRegisterUser(ctx, rest, getenv, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, rest, getenv, stdout, stderr)
	case "config-doc":
		_, err := io.WriteString(stdout, configDoc())
		return err
	case "version":
		_, err := fmt.Fprintln(stdout, "switchboard coordinator", versionString())
		return err
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	default:
		fmt.Fprintf(stderr, "coordinator: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}

// newFlagSet returns a flag set that reports to stderr instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses and turns flag errors into errUsage (flag printed them).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// configPath is --config, else SWITCHBOARD_CONFIG, else none.
func configPath(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	return getenv("SWITCHBOARD_CONFIG")
}

func runCheckConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check-config", stderr)
	path := fs.String("config", "", "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, warnings, err := loadConfig(configPath(*path, getenv), getenv)
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	if err != nil {
		fmt.Fprintln(stdout, err)
		return errors.New("configuration is not valid")
	}
	mode := "JWT service only (no Matrix bot configured)"
	if cfg.botEnabled() {
		mode = "JWT service and Matrix bot " + cfg.Matrix.Bot.UserID
	}
	if note := delegationStoreNote(cfg); note != "" {
		fmt.Fprintln(stdout, "note:", note)
	}
	fmt.Fprintln(stdout, "configuration OK:", mode)
	return nil
}
