package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/forumhq/forum/client"
)

// defaultServer is the server used when nothing names one: forumd's default
// gRPC address.
const defaultServer = "127.0.0.1:7070"

// app is one run of forumctl: its standard streams, environment, global
// flags and what it learnt while running.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// Global flags.
	serverFlag, tokenFlag string
	insecure              bool
	timeout               time.Duration

	// started is set when a command's own code starts running: errors
	// before that are usage errors.
	started bool
	// serverAddr and tokenUsed are the server and token of the connection,
	// for error messages.
	serverAddr, tokenUsed string
}

// rootCommand builds the command tree.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "forumctl",
		Short: "forumctl works with a forum server from the command line",
		Long: `forumctl works with a forum server (forumd) from the command line: log in,
list, read and search threads, open follow-ups, reply, resolve and lock
threads, and export a thread with its replies and follow-ups for a report.
Conveners also invite people (invitations) and manage private working groups
(groups); anyone logged in creates API tokens for scripts (tokens):

  forumctl invitations create --expires 7d
  forumctl groups add-member nairobi-2026 moses users/7
  forumctl tokens create --name "reporting job" --scopes read

Notifications tell you of replies to your posts, mentions and new posts in
what you watch ('forumctl notifications list'); 'forumctl watch', 'track',
'mute' and 'unwatch' choose what you hear of a thread or theme.

Everything that changes is in the event log, which anyone follows with
'forumctl events tail', or has POSTed to their own endpoint with
'forumctl webhooks create'.

The server and token come from, in order: the --server and --token flags;
the FORUM_SERVER and FORUM_TOKEN environment variables; the configuration
file that 'forumctl login' writes, forumctl/config.json (mode 0600) in the
user configuration directory ($XDG_CONFIG_HOME, else ~/.config). The token
stored there is sent only to the server stored with it. Without any of them
the server is ` + defaultServer + `.

Loopback servers are reached in plaintext, others over TLS checked against
the system's certificates; --insecure forces plaintext (FORUM_INSECURE=1).

` + exitCodesSummary,
		Example: `  forumctl login --server forum.example.org:443 --username amina
  forumctl threads list --theme reciprocal-volunteering --state open
  forumctl threads show 12
  forumctl search '"host family"' --theme reciprocal-volunteering --newest
  forumctl export 12 --format markdown > report.md
  forumctl invitations create --role member --expires 7d
  forumctl groups create nairobi-2026 --name "Nairobi 2026 follow-up"
  forumctl tokens create --name "reporting job" --scopes read,write`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          groupArgs,
		RunE:          groupRun,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.serverFlag, "server", "", "the forum server's gRPC address, host:port (env FORUM_SERVER)")
	pf.StringVar(&a.tokenFlag, "token", "", "the bearer token to send (env FORUM_TOKEN, which keeps it out of the process list)")
	pf.BoolVar(&a.insecure, "insecure", false, "use plaintext even for a server that is not on loopback (env FORUM_INSECURE=1)")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "how long to wait for each call to the server")

	root.AddCommand(
		a.loginCommand(),
		a.logoutCommand(),
		a.whoamiCommand(),
		a.themesCommand(),
		a.threadsCommand(),
		a.conveningsCommand(),
		a.itemsCommand(),
		a.searchCommand(),
		a.replyCommand(), a.reactCommand(true), a.reactCommand(false), a.historyCommand(),
		a.exportCommand(),
		a.invitationsCommand(),
		a.groupsCommand(),
		a.tokensCommand(),
		a.eventsCommand(),
		a.webhooksCommand(),
		a.notificationsCommand(), a.subscriptionsCommand(), a.watchCommand(), a.trackCommand(), a.muteCommand(), a.unwatchCommand(),
	)
	// Cobra adds the help and completion commands when it runs; add them
	// now, to give them examples too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  forumctl help threads list"
		case "completion":
			c.Example = "  source <(forumctl completion bash)\n  forumctl completion zsh > \"${fpath[1]}/_forumctl\""
			for _, sh := range c.Commands() {
				sh.Example = "  forumctl completion " + sh.Name() + " --help   # how to install it"
			}
		}
	}
	return root
}

// groupArgs accepts the arguments of a command that only groups others:
// none, or a subcommand (cobra routes those before Args is checked).
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// groupRun shows the help of a command that only groups others.
func groupRun(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// runE marks the start of a command's own code (see app.started).
func (a *app) runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.started = true
		return fn(cmd, args)
	}
}

// runNamed is runE for a command whose first argument names a resource:
// name turns it into the resource's name, or a usage error, before fn runs.
func (a *app) runNamed(name func(arg string) (string, error), fn func(cmd *cobra.Command, name string) error) func(*cobra.Command, []string) error {
	return a.runE(func(cmd *cobra.Command, args []string) error {
		n, err := name(args[0])
		if err != nil {
			return err
		}
		return fn(cmd, n)
	})
}

// exactArgs requires the named positional arguments, as a usage error.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == len(names):
			return nil
		case len(names) == 0:
			return usagef("%s takes no arguments; got %q", cmd.CommandPath(), strings.Join(args, " "))
		}
		return usagef("%s takes %s; got %d argument(s)", cmd.CommandPath(), strings.Join(names, " "), len(args))
	}
}

// settings are the server, token and transport a command uses.
type settings struct {
	server   string
	token    string
	insecure bool
	// cfg is the configuration file's content, and cfgPath its path.
	cfg     config
	cfgPath string
}

// settings resolves the server, token and transport: flags, then
// environment, then the configuration file.
func (a *app) settings(cmd *cobra.Command) (settings, error) {
	var s settings
	var err error
	if s.cfgPath, err = configPath(); err != nil {
		return s, err
	}
	if s.cfg, err = loadConfig(s.cfgPath); err != nil {
		return s, err
	}
	flags := cmd.Flags()
	switch {
	case flags.Changed("server"):
		s.server = a.serverFlag
	case a.getenv("FORUM_SERVER") != "":
		s.server = a.getenv("FORUM_SERVER")
	case s.cfg.Server != "":
		s.server = s.cfg.Server
	default:
		s.server = defaultServer
	}
	sameServer := s.cfg.Server != "" && s.cfg.Server == s.server
	switch {
	case flags.Changed("token"):
		s.token = a.tokenFlag
	case a.getenv("FORUM_TOKEN") != "":
		s.token = a.getenv("FORUM_TOKEN")
	case sameServer:
		s.token = s.cfg.Token
	}
	switch {
	case flags.Changed("insecure"):
		s.insecure = a.insecure
	case a.getenv("FORUM_INSECURE") != "":
		s.insecure = a.getenv("FORUM_INSECURE") == "1" || strings.EqualFold(a.getenv("FORUM_INSECURE"), "true")
	case sameServer:
		s.insecure = s.cfg.Insecure
	}
	return s, nil
}

// connect returns a client of the server the settings name, sending the
// token if there is one.
func (a *app) connect(ctx context.Context, s settings) (*client.Client, error) {
	a.serverAddr, a.tokenUsed = s.server, s.token
	opts := []client.Option{
		client.WithUserAgent("forumctl"),
		client.WithTimeout(a.timeout),
	}
	if s.token != "" {
		opts = append(opts, client.WithToken(s.token))
	}
	if s.insecure {
		opts = append(opts, client.WithInsecure())
	}
	return client.New(ctx, s.server, opts...)
}

// dial resolves the settings and connects; with needToken, a missing token
// is an error before any call.
func (a *app) dial(cmd *cobra.Command, needToken bool) (*client.Client, settings, error) {
	s, err := a.settings(cmd)
	if err != nil {
		return nil, s, err
	}
	a.serverAddr = s.server
	if needToken && s.token == "" {
		return nil, s, errNotLoggedIn
	}
	c, err := a.connect(cmd.Context(), s)
	return c, s, err
}

// stdinIsTerminal reports whether standard input is a terminal, and its
// file descriptor.
func (a *app) stdinIsTerminal() (int, bool) {
	f, ok := a.stdin.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// printf writes to standard output.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}
