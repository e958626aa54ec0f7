package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) loginCommand() *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in and store the server and token",
		Long: `Log in with a username and password. The server and the token go into the
configuration file (mode 0600), and later commands use them.

The password is read from the terminal without echo, or, when standard input
is not a terminal, from its first line; never from a flag. Without
--username, the username is asked for on the terminal.`,
		Example: `  forumctl login --server forum.example.org:443 --username amina
  forumctl login                      # 127.0.0.1:7070, asks for both
  printf '%s\n' "$PASSWORD" | forumctl login --username ci-bot`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			s, err := a.settings(cmd)
			if err != nil {
				return err
			}
			fd, tty := a.stdinIsTerminal()
			in := bufio.NewReader(a.stdin)
			if username == "" {
				if !tty {
					return usagef("--username is required when standard input is not a terminal")
				}
				fmt.Fprint(a.stderr, "Username: ")
				if username, err = readLine(in); err != nil {
					return fmt.Errorf("read the username: %w", err)
				}
				if username == "" {
					return usagef("no username given")
				}
			}
			var password string
			if tty {
				fmt.Fprintf(a.stderr, "Password for %s on %s: ", username, s.server)
				pw, err := term.ReadPassword(fd)
				fmt.Fprintln(a.stderr)
				if err != nil {
					return fmt.Errorf("read the password: %w", err)
				}
				password = string(pw)
			} else if password, err = readLine(in); errors.Is(err, io.EOF) {
				return usagef("no password on standard input")
			} else if err != nil {
				return fmt.Errorf("read the password from standard input: %w", err)
			}
			if password == "" {
				return usagef("no password given")
			}
			s.token = "" // log in afresh, whatever token there was
			c, err := a.connect(cmd.Context(), s)
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.Login(cmd.Context(), username, password)
			if err != nil {
				var ce *client.Error
				if errors.As(err, &ce) && errors.Is(err, client.ErrUnauthenticated) {
					return fmt.Errorf("%w by %s: %s", errLoginRefused, s.server, oneLine(ce.Message()))
				}
				return err
			}
			cfg := config{Server: s.server, Token: resp.GetToken(), Insecure: s.insecure}
			if err := saveConfig(s.cfgPath, cfg); err != nil {
				return err
			}
			u := resp.GetUser()
			a.printf("Logged in to %s as %s (%s, %s); the token expires %s.\n",
				s.server, u.GetUsername(), u.GetDisplayName(), roleWord(u.GetRole()), timeZoneText(resp.GetExpireTime()))
			return nil
		}),
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "the username (asked for if missing)")
	return cmd
}

// readLine reads one line, without its line ending; the last line of the
// input may lack one.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (a *app) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the token and forget it",
		Long: `Revoke the token on the server and remove it from the configuration file
(the server stays there). A token the server no longer knows is removed too.
If the server cannot be reached, the token is kept so that logout can be run
again; delete the configuration file to forget it anyway.`,
		Example: `  forumctl logout
  FORUM_TOKEN=... forumctl logout     # revoke a token held elsewhere`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			c, s, err := a.dial(cmd, true)
			if err != nil {
				return err
			}
			defer c.Close()
			err = c.Logout(cmd.Context())
			if err != nil && !errors.Is(err, client.ErrUnauthenticated) {
				return err
			}
			if s.cfg.Token != "" && s.cfg.Token == s.token {
				s.cfg.Token = ""
				if err := saveConfig(s.cfgPath, s.cfg); err != nil {
					return err
				}
			}
			if err != nil {
				a.printf("Logged out of %s (the server no longer knew the token).\n", s.server)
			} else {
				a.printf("Logged out of %s.\n", s.server)
			}
			return nil
		}),
	}
}

func (a *app) whoamiCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the logged-in user",
		Example: `  forumctl whoami
  forumctl whoami -o json`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.User, error) {
				return c.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"})
			}, func(_ context.Context, _ *names, u *forumv1.User) error {
				t := newTable(a.stdout)
				row(t, "Server:", a.serverAddr)
				row(t, "User:", u.GetName())
				row(t, "Username:", u.GetUsername())
				row(t, "Name:", u.GetDisplayName())
				row(t, "Role:", roleWord(u.GetRole()))
				return t.Flush()
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}
