package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/store/kv"
)

// openConfig is the command line of forumload open.
type openConfig struct {
	data         string
	rounds       int
	syncFreelist bool
	useStore     bool
	dropCaches   bool
	child        bool
	format       string
}

func parseOpenArgs(args []string, stderr io.Writer) (openConfig, error) {
	var c openConfig
	fs := flag.NewFlagSet("forumload open", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: forumload open --data DIR [flags]

Opens DIR/forum.db (forumd stopped) --rounds times, each time in a new
child process that opens it, reads its own memory (/proc/self/status,
/proc/self/io) and closes it: with kv.OpenBolt (with bbolt's synced
freelist, as forumd runs it, or with --sync-freelist=false, which rebuilds
it by visiting every page), or with --store through store.Open as forumd
opens it. The first open after switching --sync-freelist on writes the
freelist; opening with it off again drops it.
With --drop-caches the page cache is dropped before every open (root).

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.data, "data", "", "the data directory; required")
	fs.IntVar(&c.rounds, "rounds", 3, "how many opens")
	fs.BoolVar(&c.syncFreelist, "sync-freelist", true, "write the freelist in checkpoints, as forumd does (false sets kv.BoltOptions.NoFreelistSync)")
	fs.BoolVar(&c.useStore, "store", false, "open with store.Open (forumd's options) instead of kv.OpenBolt")
	fs.BoolVar(&c.dropCaches, "drop-caches", true, "drop the page cache before every open (needs root)")
	fs.BoolVar(&c.child, "child", false, "internal: be the child that opens")
	fs.StringVar(&c.format, "o", "text", "report format: text or json")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() != 0:
		return c, usagef("open takes no arguments, got %q", fs.Args())
	case c.data == "":
		return c, usagef("open needs --data DIR")
	case c.rounds < 1:
		return c, usagef("--rounds %d: use at least 1", c.rounds)
	case c.useStore && !c.syncFreelist:
		return c, usagef("--store opens as forumd does, with the freelist synced: --sync-freelist=false needs kv.OpenBolt")
	case c.format != "text" && c.format != "json":
		return c, usagef("-o %q: use text or json", c.format)
	}
	return c, nil
}

// openResult is one open, measured by the child.
type openResult struct {
	Round        int        `json:"round"`
	CacheDropped bool       `json:"cache_dropped"`
	OpenMs       float64    `json:"open_ms"`
	CloseMs      float64    `json:"close_ms"`
	Memory       procMemory `json:"memory"`         // after the open
	HeapInuse    uint64     `json:"heap_inuse_kib"` // Go's, after the open
	Load         string     `json:"loadavg"`        // before the open
	Error        string     `json:"error,omitempty"`
}

// runOpen runs forumload open and returns its exit status.
func runOpen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseOpenArgs(args, stderr)
	if code, done := usageExit("open", err, stderr); done {
		return code
	}
	if c.child {
		r := openOnce(c)
		json.NewEncoder(stdout).Encode(r)
		if r.Error != "" {
			return 1
		}
		return 0
	}
	results, err := openRounds(ctx, c)
	if werr := writeOpenReport(stdout, c, results); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		fmt.Fprintln(stderr, "forumload open:", err)
		return 1
	}
	return 0
}

// openOnce opens the database in this process, as the child.
func openOnce(c openConfig) openResult {
	var r openResult
	path := filepath.Join(c.data, "forum.db")
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t0 := time.Now()
	var closeFn func() error
	if c.useStore {
		st, err := store.Open(path, store.Options{Logger: logger})
		if err != nil {
			r.Error = err.Error()
			return r
		}
		closeFn = st.Close
	} else {
		eng, err := kv.OpenBolt(path, nil, kv.BoltOptions{NoFreelistSync: !c.syncFreelist, Logger: logger})
		if err != nil {
			r.Error = err.Error()
			return r
		}
		closeFn = eng.Close
	}
	r.OpenMs = float64(time.Since(t0).Microseconds()) / 1000
	r.Memory = readProc("self")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuse = ms.HeapInuse >> 10
	t0 = time.Now()
	if err := closeFn(); err != nil {
		r.Error = err.Error()
	}
	r.CloseMs = float64(time.Since(t0).Microseconds()) / 1000
	return r
}

// openRounds runs the children.
func openRounds(ctx context.Context, c openConfig) ([]openResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.data, "forum.db")); err != nil {
		return nil, fmt.Errorf("no database to open: %w", err)
	}
	var results []openResult
	for i := 1; i <= c.rounds; i++ {
		dropped, load := false, loadAvg()
		if c.dropCaches {
			dropped = dropPageCache() == nil
		}
		args := []string{"open", "--child", "--data", c.data, "--sync-freelist=" + strconv.FormatBool(c.syncFreelist), "--store=" + strconv.FormatBool(c.useStore)}
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		var r openResult
		if jerr := json.Unmarshal(out, &r); jerr != nil {
			return results, fmt.Errorf("open %d: %v (output %q)", i, errors.Join(err, jerr), out)
		}
		r.Round, r.CacheDropped, r.Load = i, dropped, load
		results = append(results, r)
		if r.Error != "" {
			return results, fmt.Errorf("open %d: %s", i, r.Error)
		}
	}
	return results, nil
}

func writeOpenReport(w io.Writer, c openConfig, results []openResult) error {
	if c.format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	var b strings.Builder
	how := fmt.Sprintf("kv.OpenBolt, freelist synced %t", c.syncFreelist)
	if c.useStore {
		how = "store.Open"
	}
	fmt.Fprintf(&b, "%s of %s (%s)\n", how, filepath.Join(c.data, "forum.db"), fileSize(filepath.Join(c.data, "forum.db")))
	fmt.Fprintf(&b, "%-5s %7s %9s %8s %8s %8s %8s %8s %7s %8s", "round", "cache", "open ms", "RSS MiB", "anon", "file", "read MiB", "heap", "cpu ms", "close ms")
	b.WriteString("  load\n")
	mib := func(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }
	var open []float64
	for _, r := range results {
		load1, _, _ := strings.Cut(r.Load, " ")
		fmt.Fprintf(&b, "%-5d %7t %9.1f %8s %8s %8s %8s %8s %7d %8.1f  %s\n", r.Round, r.CacheDropped, r.OpenMs, mib(r.Memory.VmRSS), mib(r.Memory.RssAnon), mib(r.Memory.RssFile),
			mib(r.Memory.ReadBytes), mib(int64(r.HeapInuse)), r.Memory.CPUms, r.CloseMs, load1)
		open = append(open, r.OpenMs)
	}
	if len(open) > 0 {
		fmt.Fprintf(&b, "median open %.1f ms\n", median(open))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
