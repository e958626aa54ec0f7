package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/server"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// maxPasswordInput bounds how much of the password file or stdin is read.
// The password policy allows at most 256 bytes; reading a little more lets
// the policy report "too long" rather than silently truncating.
const maxPasswordInput = 4096

// createUserConfig is the resolved configuration of
// `forumd admin create-user`.
type createUserConfig struct {
	commonConfig
	// Username is the login name.
	Username string
	// DisplayName is the name shown beside posts; empty means Username.
	DisplayName string
	// Role is the new user's role.
	Role forumv1.Role
	// PasswordFile holds the password on its first line; empty means stdin.
	PasswordFile string
}

// parseCreateUserArgs resolves the configuration of
// `forumd admin create-user` from args (the arguments after "create-user"),
// the environment and the defaults. There is deliberately no password flag:
// command lines are visible to other users in ps and end up in shell history.
func parseCreateUserArgs(args []string, getenv func(string) string, output io.Writer) (createUserConfig, error) {
	var cfg createUserConfig
	fs := flag.NewFlagSet("forumd admin create-user", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: forumd admin create-user --username NAME [--display-name TEXT] [--role member|convener|admin] [--password-file FILE] [flags]\n\n"+
			"Creates a user in the database. The password is the first line of --password-file,\n"+
			"or of standard input when no file is given. forumd must not be running on the same\n"+
			"data directory (the database is locked while it runs).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	common := commonFlags(fs, getenv)
	username := fs.String("username", "", "login `name`: 3-32 characters of a-z, 0-9, _ . -, starting with a letter (required)")
	displayName := fs.String("display-name", "", "the `name` shown beside posts (default: the username)")
	role := fs.String("role", "member", "`role`: member, convener or admin")
	passwordFile := fs.String("password-file", "", "read the password from the first line of this `file` instead of standard input")

	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c, err := common()
	if err != nil {
		return cfg, err
	}
	r, err := parseRole(*role)
	if err != nil {
		return cfg, err
	}
	cfg = createUserConfig{
		commonConfig: c,
		Username:     *username,
		DisplayName:  *displayName,
		Role:         r,
		PasswordFile: *passwordFile,
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = cfg.Username
	}
	if err := server.ValidateNewUser(&forumv1.User{Username: cfg.Username, DisplayName: cfg.DisplayName, Role: cfg.Role}); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// parseRole parses member, convener or admin (any case, with or without the
// ROLE_ prefix).
func parseRole(s string) (forumv1.Role, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	name = strings.TrimPrefix(name, "ROLE_")
	switch name {
	case "MEMBER":
		return forumv1.Role_ROLE_MEMBER, nil
	case "CONVENER":
		return forumv1.Role_ROLE_CONVENER, nil
	case "ADMIN":
		return forumv1.Role_ROLE_ADMIN, nil
	}
	return forumv1.Role_ROLE_UNSPECIFIED, fmt.Errorf("--role %q: must be member, convener or admin", s)
}

// readPassword returns the password: the first line of file, or of stdin
// when file is empty. Only the line ending ("\n" or "\r\n") is stripped;
// other white space is part of the password.
func readPassword(file string, stdin io.Reader) (string, error) {
	if file == "" {
		pw, err := firstLine(stdin)
		if err != nil {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		return pw, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	defer f.Close()
	pw, err := firstLine(f)
	if err != nil {
		return "", fmt.Errorf("read password from %s: %w", file, err)
	}
	return pw, nil
}

// firstLine reads the first line of r without its line ending. A last line
// without a newline counts; an empty first line is an error.
func firstLine(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, maxPasswordInput))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("the password is empty (expected it on the first line)")
	}
	return line, nil
}

// adminCreateUser runs `forumd admin create-user`: it checks and hashes the
// password, opens the database (failing with the store's "locked" error if
// forumd is running on it) and creates the user, printing it as JSON on
// stdout.
func adminCreateUser(ctx context.Context, cfg createUserConfig, stdin io.Reader, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	if cfg.PasswordFile == "" && isTerminal(stdin) {
		fmt.Fprint(stderr, "Password (read from standard input; it is echoed): ")
	}
	password, err := readPassword(cfg.PasswordFile, stdin)
	if err != nil {
		return err
	}
	if err := auth.CheckPasswordPolicy(password); err != nil {
		return fmt.Errorf("password: %w", err)
	}
	user := &forumv1.User{Username: cfg.Username, DisplayName: cfg.DisplayName, Role: cfg.Role}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}

	st, err := app.OpenStore(cfg.DataDir, store.Options{Logger: logger})
	if err != nil {
		return err
	}
	u, err := st.CreateUser(ctx, authz.SystemActor, user, hash, "")
	if cerr := st.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("create user %q: %w", cfg.Username, err)
	}
	out, err := protojson.Marshal(u)
	if err != nil {
		return fmt.Errorf("print user: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// isTerminal reports whether r (a reader or a writer) is a character
// device, such as a terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
