package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/search"
	"github.com/forumhq/forum/server/store"
)

// reindexConfig is the resolved configuration of `forumd admin reindex`.
type reindexConfig struct {
	commonConfig
}

// parseReindexArgs resolves the configuration of `forumd admin reindex`
// from args (the arguments after "reindex"), the environment and the
// defaults.
func parseReindexArgs(args []string, getenv func(string) string, output io.Writer) (reindexConfig, error) {
	fs := flag.NewFlagSet("forumd admin reindex", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: forumd admin reindex [--data DIR]\n\n"+
			"Rebuilds the search index (DIR/search) from the database: every thread and reply,\n"+
			"then the index follows the event log from there. forumd must be stopped. forumd\n"+
			"rebuilds a missing or outdated index by itself when it starts; this does it ahead,\n"+
			"with a progress bar.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	common := commonFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return reindexConfig{}, err
	}
	if fs.NArg() > 0 {
		return reindexConfig{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c, err := common()
	return reindexConfig{commonConfig: c}, err
}

// adminReindex runs `forumd admin reindex`: it counts the posts, then
// rebuilds the index, drawing a bar on stderr as it goes (a line per step
// when stderr is not a terminal).
func adminReindex(ctx context.Context, cfg reindexConfig, stdout, stderr io.Writer) (err error) {
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: max(cfg.LogLevel, slog.LevelWarn)}))
	st, err := app.OpenStore(cfg.DataDir, store.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("open database (is forumd running? stop it first): %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
	}()
	total, err := countPosts(ctx, st)
	if err != nil {
		return fmt.Errorf("count posts: %w", err)
	}
	idx, err := search.Open(filepath.Join(cfg.DataDir, app.SearchDirName))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := idx.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close search index: %w", cerr)
		}
	}()
	bar := progressBar{w: stderr, tty: isTerminal(stderr), total: total}
	bar.draw(0)
	head, err := search.NewIndexer(st, idx, logger).Rebuild(ctx, bar.draw)
	bar.done()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "indexed %d posts, up to revision %d of the event log\n", bar.last, head)
	return err
}

// countPosts counts the threads and replies that are not deleted.
func countPosts(ctx context.Context, st *store.Store) (int, error) {
	n := 0
	for token := ""; ; {
		threads, next, err := st.ListThreads(ctx, authz.SystemActor, store.ThreadQuery{Order: store.ByCreation, PageSize: 100, PageToken: token})
		if err != nil {
			return 0, err
		}
		for _, t := range threads {
			n += 1 + int(t.ReplyCount)
		}
		if next == "" {
			return n, nil
		}
		token = next
	}
}

// progressBar draws `[#####.....]  50%  5,000/10,000 posts` on a terminal
// (redrawn in place), or a line per call elsewhere.
type progressBar struct {
	w     io.Writer
	tty   bool
	total int
	last  int
}

const barWidth = 30

func (b *progressBar) draw(done int) {
	b.last = done
	pct := 100
	if b.total > 0 {
		pct = min(100, done*100/b.total)
	}
	filled := pct * barWidth / 100
	line := fmt.Sprintf("[%s%s] %3d%%  %d/%d posts", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), pct, done, b.total)
	if b.tty {
		fmt.Fprintf(b.w, "\r%s", line)
		return
	}
	fmt.Fprintln(b.w, line)
}

// done ends the bar's line on a terminal.
func (b *progressBar) done() {
	if b.tty {
		fmt.Fprintln(b.w)
	}
}
