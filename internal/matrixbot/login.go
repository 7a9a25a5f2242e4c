package matrixbot

import (
	"context"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"

	"github.com/switchboard-rtc/switchboard/internal/secret"
)

// loginLoop logs in, retrying transient errors with backoff. With
// passwordOnly it skips the stored and configured tokens (they were just
// rejected).
func (b *Bot) loginLoop(ctx context.Context, bo *backoff, passwordOnly bool) (*mautrix.Client, error) {
	for {
		cli, err := b.login(ctx, passwordOnly)
		if err == nil {
			// The Olm device is ready before anyone learns of the login.
			if err := b.ensureOlm(ctx, cli); err != nil {
				return nil, err
			}
			bo.reset()
			b.setClient(cli)
			b.logger.Info("logged in", "device", cli.DeviceID)
			return cli, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrLoginFailed) || errors.Is(err, ErrTokenRejected) {
			return nil, err
		}
		d := bo.next()
		b.logger.Warn("login failed, retrying", "err", err, "retry_in", d)
		if !b.wait(ctx, d, err) {
			return nil, ctx.Err()
		}
	}
}

// login uses, in order: the access token persisted by an earlier run, the
// configured access token, a password login (reusing the persisted device
// id, else Config.DeviceID). The result is persisted.
func (b *Bot) login(ctx context.Context, passwordOnly bool) (*mautrix.Client, error) {
	sess, err := b.db.loadSession(ctx)
	if err != nil {
		return nil, err
	}
	if sess.UserID != "" && sess.UserID != b.cfg.UserID {
		b.logger.Warn("data dir holds a session of another user; ignoring it", "stored_user", sess.UserID)
		sess = session{}
	}
	if !passwordOnly {
		for _, tok := range []secret.Value{sess.AccessToken, b.cfg.AccessToken} {
			if tok.IsZero() {
				continue
			}
			cli, err := b.newClient(tok)
			if err != nil {
				return nil, err
			}
			who, err := cli.Whoami(ctx)
			if errors.Is(err, mautrix.MUnknownToken) {
				b.logger.Info("access token no longer valid", "stored", tok == sess.AccessToken)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("matrixbot: whoami: %w", err)
			}
			if who.UserID != b.cfg.UserID {
				return nil, fmt.Errorf("%w: access token belongs to %s, not %s", ErrLoginFailed, who.UserID, b.cfg.UserID)
			}
			cli.DeviceID = who.DeviceID
			if tok != sess.AccessToken || who.DeviceID != sess.DeviceID {
				if err := b.db.saveSession(ctx, session{UserID: who.UserID, DeviceID: who.DeviceID, AccessToken: tok}, who.DeviceID != sess.DeviceID); err != nil {
					return nil, err
				}
			}
			return cli, nil
		}
	}
	if b.cfg.Password.IsZero() {
		return nil, ErrTokenRejected
	}
	device := sess.DeviceID
	if device == "" {
		device = b.cfg.DeviceID
	}
	cli, err := b.newClient("")
	if err != nil {
		return nil, err
	}
	localpart, _, _ := b.cfg.UserID.Parse()
	resp, err := cli.Login(ctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:                 b.cfg.Password.Reveal(),
		DeviceID:                 device,
		InitialDeviceDisplayName: "switchboard",
		StoreCredentials:         true,
	})
	if err != nil {
		if permanent(err) {
			return nil, fmt.Errorf("%w: %w", ErrLoginFailed, err)
		}
		return nil, fmt.Errorf("matrixbot: login: %w", err)
	}
	if resp.UserID != b.cfg.UserID {
		return nil, fmt.Errorf("%w: logged in as %s, not %s", ErrLoginFailed, resp.UserID, b.cfg.UserID)
	}
	if err := b.db.saveSession(ctx, session{UserID: resp.UserID, DeviceID: resp.DeviceID, AccessToken: secret.Value(resp.AccessToken)}, resp.DeviceID != sess.DeviceID); err != nil {
		return nil, err
	}
	return cli, nil
}
