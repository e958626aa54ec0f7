package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// startupConfig is the command line of forumload startup.
type startupConfig struct {
	forumd, data, grpcAddr, httpAddr string
	username, password, theme        string
	rounds, loadClients, loadRate    int
	loadDuration, settle, timeout    time.Duration
	dropCaches, kill                 bool
	env                              []string
	logFile, format                  string
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func parseStartupArgs(args []string, stderr io.Writer) (startupConfig, error) {
	var c startupConfig
	fs := flag.NewFlagSet("forumload startup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: forumload startup --forumd BIN --data DIR [flags]

Measures how long the forumd binary BIN takes, on the data directory DIR
(fill it with forumload populate), to answer GET /healthz with 200 on
--http-addr, counted from just before the process is started; and its
memory then (VmRSS, RssAnon, RssFile of /proc/PID/status), again --settle
later, the bytes it read from the disk (read_bytes of /proc/PID/io) and its
CPU time.

Each of --rounds rounds starts forumd twice: after a clean stop, then, with
--kill, after a SIGKILL sent while --load-clients members' sessions write
replies at --load-rate calls a second in total (so that the log holds
records to recover). Each start is followed by --load-duration of that load,
then the SIGKILL or a SIGTERM (a clean stop). With --drop-caches the page
cache is dropped before every start (sync; echo 3 >
/proc/sys/vm/drop_caches; it needs root, and the report says whether it
worked). The load logs in as --username (forumload populate creates it).
No other forumd may run on DIR or on the addresses.

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.forumd, "forumd", "forumd", "the forumd binary")
	fs.StringVar(&c.data, "data", "", "the data directory; required")
	fs.StringVar(&c.grpcAddr, "grpc-addr", "127.0.0.1:7191", "forumd's gRPC address")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8191", "forumd's HTTP address (GET /healthz)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds")
	fs.BoolVar(&c.kill, "kill", true, "in every round, also measure a start after a SIGKILL under load")
	fs.BoolVar(&c.dropCaches, "drop-caches", true, "drop the page cache before every start (needs root)")
	fs.StringVar(&c.username, "username", defaultLoadUser, "the member the load writes as")
	fs.StringVar(&c.password, "password", defaultLoadPassword, "its password")
	fs.StringVar(&c.theme, "theme", "themes/knowledge-exchange", "the theme of the thread the load replies to")
	fs.IntVar(&c.loadClients, "load-clients", 8, "concurrent writers of the load")
	fs.IntVar(&c.loadRate, "load-rate", 500, "replies per second the load sends, in total")
	fs.DurationVar(&c.loadDuration, "load-duration", 2*time.Second, "how long the load runs after each start, before the stop")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "when to read the memory a second time, after healthy (0: not)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "the longest wait for healthy or for an exit")
	fs.Var((*stringList)(&c.env), "env", "KEY=VALUE for forumd's environment (repeatable)")
	fs.StringVar(&c.logFile, "log", "", "append forumd's standard error to this file")
	fs.StringVar(&c.format, "o", "text", "report format: text or json")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() != 0:
		return c, usagef("startup takes no arguments, got %q", fs.Args())
	case c.data == "":
		return c, usagef("startup needs --data DIR")
	case c.rounds < 1:
		return c, usagef("--rounds %d: use at least 1", c.rounds)
	case c.loadClients < 1 || c.loadRate < 1:
		return c, usagef("--load-clients and --load-rate must be at least 1")
	case c.loadDuration <= 0 || c.timeout <= 0 || c.settle < 0:
		return c, usagef("--load-duration and --timeout must be positive, --settle not negative")
	case c.format != "text" && c.format != "json":
		return c, usagef("-o %q: use text or json", c.format)
	}
	for _, kv := range c.env {
		if !strings.Contains(kv, "=") {
			return c, usagef("--env %q: use KEY=VALUE", kv)
		}
	}
	return c, nil
}

// runStartup runs forumload startup and returns its exit status.
func runStartup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseStartupArgs(args, stderr)
	if code, done := usageExit("startup", err, stderr); done {
		return code
	}
	rep, err := measureStartups(ctx, c, stderr)
	if rep != nil {
		if werr := rep.write(stdout, c.format); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "forumload startup:", err)
		return 1
	}
	return 0
}

// procMemory is what /proc/PID/status, /proc/PID/io and /proc/PID/stat tell
// of a process, in KiB (CPU in milliseconds).
type procMemory struct {
	VmRSS     int64  `json:"vm_rss_kib"`
	RssAnon   int64  `json:"rss_anon_kib"`
	RssFile   int64  `json:"rss_file_kib"`
	VmHWM     int64  `json:"vm_hwm_kib"`
	ReadBytes int64  `json:"read_kib"` // read_bytes of /proc/PID/io: from the disk
	CPUms     int64  `json:"cpu_ms"`   // user + system
	Threads   int64  `json:"threads"`  // of the process
	ReadErr   string `json:"error,omitempty"`
}

// readProc reads the memory figures of process pid ("self" for this one).
func readProc(pid string) procMemory {
	var m procMemory
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		m.ReadErr = err.Error()
		return m
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.VmRSS = n
		case "RssAnon":
			m.RssAnon = n
		case "RssFile":
			m.RssFile = n
		case "VmHWM":
			m.VmHWM = n
		case "Threads":
			m.Threads = n
		}
	}
	if b, err := os.ReadFile("/proc/" + pid + "/io"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "read_bytes: "); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				m.ReadBytes = n >> 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil {
		// The fields after the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 13 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				m.CPUms = (ut + st) * 1000 / clockTicks
			}
		}
	}
	return m
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux.
const clockTicks = 100

// loadAvg returns the first three fields of /proc/loadavg, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// dropPageCache writes the dirty pages out and drops the clean ones from
// the page cache, as `sync; echo 3 > /proc/sys/vm/drop_caches`.
func dropPageCache() error {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

// startResult is one start of forumd.
type startResult struct {
	Round        int        `json:"round"`
	After        string     `json:"after"` // "clean stop" or "SIGKILL"
	CacheDropped bool       `json:"cache_dropped"`
	HealthyMs    float64    `json:"healthy_ms"`   // from exec to the first 200 from /healthz
	ListeningMs  float64    `json:"listening_ms"` // from exec to its "listening" log line
	Recovered    int64      `json:"recovered_records"`
	AtHealthy    procMemory `json:"at_healthy"`
	Settled      procMemory `json:"settled"`
	LoadReplies  int64      `json:"load_replies"` // acknowledged by the load after this start
	LoadFailed   int64      `json:"load_failed"`
	StopMs       float64    `json:"stop_ms,omitempty"` // SIGTERM to exit, for a clean stop
	Stop         string     `json:"stop"`              // how this run ended: "SIGKILL" or "SIGTERM"
	Load         string     `json:"loadavg"`           // /proc/loadavg before the start: other work on the machine
	DBBytes      int64      `json:"db_bytes"`
	WALBytes     int64      `json:"wal_bytes"`
}

// startupReport is what forumload startup measured.
type startupReport struct {
	Forumd       string        `json:"forumd"`
	Data         string        `json:"data"`
	Env          []string      `json:"env,omitempty"`
	Starts       []startResult `json:"starts"`
	CacheDropErr string        `json:"cache_drop_error,omitempty"`
}

func (r *startupReport) write(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "forumd %s on %s", r.Forumd, r.Data)
	if len(r.Env) > 0 {
		fmt.Fprintf(&b, " with %s", strings.Join(r.Env, " "))
	}
	b.WriteString("\n")
	if r.CacheDropErr != "" {
		fmt.Fprintf(&b, "page cache NOT dropped: %s\n", r.CacheDropErr)
	}
	mib := func(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }
	fmt.Fprintf(&b, "%-5s %-10s %7s %9s %9s %9s %8s %8s %8s %8s %7s %9s %9s %8s %7s\n", "round", "after", "cache", "healthy", "listen", "recovered",
		"RSS", "anon", "file", "read", "cpu", "settled:", "anon", "file", "stop")
	fmt.Fprintf(&b, "%-5s %-10s %7s %9s %9s %9s %8s %8s %8s %8s %7s %9s %9s %8s %7s\n", "", "", "dropped", "ms", "ms", "records",
		"MiB", "MiB", "MiB", "MiB", "ms", "RSS MiB", "MiB", "MiB", "ms")
	for _, s := range r.Starts {
		stop := s.Stop
		if s.StopMs > 0 {
			stop = fmt.Sprintf("%.0f", s.StopMs)
		}
		load1, _, _ := strings.Cut(s.Load, " ")
		fmt.Fprintf(&b, "%-5d %-10s %7t %9.1f %9.1f %9d %8s %8s %8s %8s %7d %9s %9s %8s %7s %s\n", s.Round, s.After, s.CacheDropped, s.HealthyMs, s.ListeningMs, s.Recovered,
			mib(s.AtHealthy.VmRSS), mib(s.AtHealthy.RssAnon), mib(s.AtHealthy.RssFile), mib(s.AtHealthy.ReadBytes), s.AtHealthy.CPUms,
			mib(s.Settled.VmRSS), mib(s.Settled.RssAnon), mib(s.Settled.RssFile), stop, load1)
	}
	for _, after := range []string{afterClean, afterKill} {
		var healthy, anon, file []float64
		for _, s := range r.Starts {
			if s.After == after {
				healthy = append(healthy, s.HealthyMs)
				anon = append(anon, float64(s.AtHealthy.RssAnon)/1024)
				file = append(file, float64(s.AtHealthy.RssFile)/1024)
			}
		}
		if len(healthy) > 0 {
			fmt.Fprintf(&b, "median after %s (%d starts): healthy %.1f ms, RssAnon %.1f MiB, RssFile %.1f MiB\n", after, len(healthy), median(healthy), median(anon), median(file))
		}
	}
	if n := len(r.Starts); n > 0 {
		last := r.Starts[n-1]
		fmt.Fprintf(&b, "forum.db %s, log %s\n", formatSize(last.DBBytes), formatSize(last.WALBytes))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

const (
	afterClean = "clean stop"
	afterKill  = "SIGKILL"
)

// forumdProc is a running forumd.
type forumdProc struct {
	cmd       *exec.Cmd
	started   time.Time
	listening atomic.Int64 // ns after started; 0 until logged
	recovered atomic.Int64
	exited    chan struct{}
	waitErr   error
	logDone   chan struct{}
}

// startForumd starts forumd serve on c's directory and addresses.
func startForumd(c startupConfig, logw io.Writer) (*forumdProc, error) {
	cmd := exec.Command(c.forumd, "serve", "--data", c.data, "--grpc-addr", c.grpcAddr, "--http-addr", c.httpAddr,
		"--rate-limits", "off", "--log-level", "info")
	cmd.Env = append(os.Environ(), c.env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &forumdProc{cmd: cmd, exited: make(chan struct{}), logDone: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.forumd, err)
	}
	go func() {
		defer close(p.logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if logw != nil {
				logw.Write(append(line, '\n'))
			}
			var rec struct {
				Msg     string `json:"msg"`
				Records int64  `json:"records"`
			}
			if json.Unmarshal(line, &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "listening":
				p.listening.CompareAndSwap(0, int64(time.Since(p.started)))
			case "kv: recovered writes from the log":
				p.recovered.Store(rec.Records)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-p.logDone // Wait closes the pipe: read it to the end first
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitHealthy polls GET /healthz until it answers 200 and returns the time
// since the process was started.
func (p *forumdProc) waitHealthy(ctx context.Context, httpAddr string, timeout time.Duration) (time.Duration, error) {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + httpAddr + "/healthz"
	deadline := p.started.Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.started), nil
			}
		}
		select {
		case <-p.exited:
			return 0, fmt.Errorf("forumd exited before it was healthy: %v", p.waitErr)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("forumd not healthy after %v", timeout)
		}
	}
}

// stop sends sig and waits for the exit.
func (p *forumdProc) stop(sig syscall.Signal, timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		return 0, err
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		return 0, fmt.Errorf("forumd did not exit within %v of %v", timeout, sig)
	}
	d := time.Since(t0)
	if sig == syscall.SIGTERM && p.waitErr != nil {
		return d, fmt.Errorf("forumd after SIGTERM: %v", p.waitErr)
	}
	return d, nil
}

// writeLoad sends replies to forumd at c.loadRate a second.
type writeLoad struct {
	thread string // created by the first load, reused
}

// connect logs in and, the first time, creates the thread to reply to.
func (l *writeLoad) connect(ctx context.Context, c startupConfig) (*client.Client, error) {
	cl, err := client.New(ctx, c.grpcAddr, client.WithUserAgent("forumload startup"))
	if err != nil {
		return nil, err
	}
	if _, err := cl.Login(ctx, c.username, c.password); err != nil {
		cl.Close()
		return nil, fmt.Errorf("log in as %s: %w", c.username, err)
	}
	if l.thread == "" {
		th, err := cl.CreateThread(ctx, &forumv1.Thread{Theme: c.theme, Title: "forumload startup " + time.Now().UTC().Format(time.RFC3339),
			Body: "Replies written by forumload startup between restarts."})
		if err != nil {
			cl.Close()
			return nil, fmt.Errorf("create the load's thread: %w", err)
		}
		l.thread = th.GetName()
	}
	return cl, nil
}

// run writes through cl until ctx is done.
func (l *writeLoad) run(ctx context.Context, c startupConfig, cl *client.Client) (ok, failed int64) {
	body := replyBody(1000)
	interval := time.Duration(int64(time.Second) * int64(c.loadClients) / int64(c.loadRate))
	var nOK, nFailed atomic.Int64
	var wg sync.WaitGroup
	for i := range c.loadClients {
		wg.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			// Spread the clients over the interval.
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval * time.Duration(i) / time.Duration(c.loadClients)):
			}
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if _, err := cl.CreateReply(ctx, l.thread, &forumv1.Reply{Body: body}); err == nil {
					nOK.Add(1)
				} else if ctx.Err() == nil {
					nFailed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return nOK.Load(), nFailed.Load()
}

// measureStartups runs the rounds of forumload startup.
func measureStartups(ctx context.Context, c startupConfig, progress io.Writer) (*startupReport, error) {
	if _, err := os.Stat(filepath.Join(c.data, "forum.db")); err != nil {
		return nil, fmt.Errorf("no database to start on: %w", err)
	}
	var logw io.Writer
	if c.logFile != "" {
		f, err := os.OpenFile(c.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		logw = f
	}
	rep := &startupReport{Forumd: c.forumd, Data: c.data, Env: c.env}
	var load writeLoad
	// start measures one start; stopSig is how that run ends after the load.
	start := func(round int, after string, stopSig syscall.Signal) error {
		res := startResult{Round: round, After: after, Load: loadAvg()}
		if c.dropCaches {
			if err := dropPageCache(); err != nil {
				rep.CacheDropErr = err.Error()
			} else {
				res.CacheDropped = true
			}
		}
		p, err := startForumd(c, logw)
		if err != nil {
			return err
		}
		pid := strconv.Itoa(p.cmd.Process.Pid)
		healthy, err := p.waitHealthy(ctx, c.httpAddr, c.timeout)
		if err != nil {
			p.stop(syscall.SIGKILL, c.timeout)
			return err
		}
		res.AtHealthy = readProc(pid)
		res.HealthyMs = float64(healthy.Microseconds()) / 1000
		// The "listening" line may still be on its way through the pipe.
		for i := 0; i < 1000 && p.listening.Load() == 0; i++ {
			time.Sleep(time.Millisecond)
		}
		res.ListeningMs = float64(time.Duration(p.listening.Load()).Microseconds()) / 1000
		res.Recovered = p.recovered.Load()
		if c.settle > 0 {
			select {
			case <-time.After(c.settle - time.Since(p.started.Add(healthy))):
			case <-ctx.Done():
			}
			res.Settled = readProc(pid)
		}
		// The load, and the stop while it runs.
		cl, err := load.connect(ctx, c)
		if err != nil {
			p.stop(syscall.SIGKILL, c.timeout)
			return err
		}
		defer cl.Close()
		lctx, cancel := context.WithCancel(ctx)
		type loadResult struct{ ok, failed int64 }
		done := make(chan loadResult, 1)
		go func() {
			ok, failed := load.run(lctx, c, cl)
			done <- loadResult{ok, failed}
		}()
		select {
		case <-time.After(c.loadDuration):
		case <-ctx.Done():
		}
		var stopErr error
		var lr loadResult
		res.Stop = map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM"}[stopSig]
		if stopSig == syscall.SIGKILL {
			// The calls in flight are cut, not counted as failures: what
			// they wrote, and up to a checkpoint interval of writes before
			// them, is in the log only.
			cancel()
			_, stopErr = p.stop(syscall.SIGKILL, c.timeout)
			lr = <-done
		} else {
			cancel() // a clean stop waits for calls in flight: end the load first
			lr = <-done
			var d time.Duration
			d, stopErr = p.stop(syscall.SIGTERM, c.timeout)
			res.StopMs = float64(d.Microseconds()) / 1000
		}
		res.LoadReplies, res.LoadFailed = lr.ok, lr.failed
		if fi, err := os.Stat(filepath.Join(c.data, "forum.db")); err == nil {
			res.DBBytes = fi.Size()
		}
		for i := range 2 {
			if fi, err := os.Stat(filepath.Join(c.data, fmt.Sprintf("forum.db-wal.%d", i))); err == nil {
				res.WALBytes += fi.Size()
			}
		}
		rep.Starts = append(rep.Starts, res)
		fmt.Fprintf(progress, "round %d after %s: healthy in %.1f ms, RssAnon %d KiB, RssFile %d KiB, %d records recovered\n",
			round, after, res.HealthyMs, res.AtHealthy.RssAnon, res.AtHealthy.RssFile, res.Recovered)
		if err := ctx.Err(); err != nil {
			return err
		}
		return stopErr
	}
	for r := 1; r <= c.rounds; r++ {
		if !c.kill {
			if err := start(r, afterClean, syscall.SIGTERM); err != nil {
				return rep, err
			}
			continue
		}
		if err := start(r, afterClean, syscall.SIGKILL); err != nil {
			return rep, err
		}
		if err := start(r, afterKill, syscall.SIGTERM); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
