// Command forumctl is the forum's command line, for conveners who follow up
// a conference from a terminal and for scripts. It talks to forumd's gRPC
// API through the Go client package (github.com/forumhq/forum/client).
//
// Usage:
//
//	forumctl login [--username NAME]        log in; stores server and token
//	forumctl logout                         revoke the token and forget it
//	forumctl whoami                         the logged-in user
//	forumctl themes list
//	forumctl threads list [--theme T] [--kind K] [--state S] [--author A] [--tag T]
//	forumctl threads show THREAD
//	forumctl threads create --theme T --title TITLE [--body TEXT | --body-file FILE|-]
//	forumctl threads follow-up THREAD --title TITLE [--body TEXT | --body-file FILE|-]
//	forumctl threads resolve|lock|reopen THREAD
//	forumctl search QUERY [--theme T] [--author A] [--organization O] [--country CC] [--filter EXPR] [--newest] [--limit N]
//	forumctl reply THREAD [--body TEXT | --body-file FILE|-]
//	forumctl reply edit REPLY [--body TEXT | --body-file FILE|-]
//	forumctl reply delete REPLY
//	forumctl export THREAD --format markdown|json
//	forumctl invitations create [--role member|convener] [--expires DURATION]
//	forumctl invitations list | delete INVITATION
//	forumctl groups list | show GROUP | delete GROUP
//	forumctl groups create SLUG --name NAME [--description TEXT]
//	forumctl groups add-member|remove-member GROUP USER...
//	forumctl tokens create --name NAME --scopes read,write,moderate,admin [--expires DURATION]
//	forumctl tokens list | delete TOKEN
//	forumctl events tail [--from REV] [--filter EXPR]
//	forumctl events list [--from REV] [--filter EXPR]
//	forumctl webhooks create --url URL [--type T]... [--theme T]...
//	forumctl webhooks list | get WEBHOOK | delete WEBHOOK | rotate-secret WEBHOOK
//	forumctl webhooks update WEBHOOK [--url URL] [--type T]... [--theme T]... [--active=false]
//	forumctl webhooks deliveries WEBHOOK | ping WEBHOOK | redeliver DELIVERY
//	forumctl completion bash|zsh|fish|powershell
//
// Reads take -o table|json|yaml; json is the API's own JSON (protojson, as
// the HTTP API returns it), so its field names are the API's. The server and
// token come from --server and --token, else FORUM_SERVER and FORUM_TOKEN,
// else the configuration file that login writes,
// $XDG_CONFIG_HOME/forumctl/config.json (mode 0600), else the server is
// 127.0.0.1:7070. `forumctl --help` lists the exit codes.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run runs forumctl with args and returns its exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code, msg := a.describe(err, cmd.CommandPath())
	io.WriteString(stderr, "forumctl: "+msg+"\n")
	return code
}
