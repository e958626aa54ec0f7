package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Sizes of TestCrashRecovery. The issue asks for 10 cycles of kill -9 under
// 32 writers; the same sizes run with and without -race (forumd itself is
// built without it, so only the test's own client goroutines are slower).
const (
	crashCycles      = 10
	crashWriters     = 32
	crashJSONWriters = 4 // of crashWriters, these write over JSON
	crashUsers       = 4
	crashThreads     = 10
	crashMinDelay    = 300 * time.Millisecond
	crashMaxDelay    = 2 * time.Second
	// One write in crashThreadEvery is a CreateThread.
	crashThreadEvery = 64
	// Per cycle, this many unacknowledged and acknowledged writes are
	// retried with their request_id.
	crashRetryUnacked = 16
	crashRetryAcked   = 8
	crashTimeout      = 8 * time.Minute
	firstAckTimeout   = 60 * time.Second
)

// attempt is one write a crash-test writer sent.
type attempt struct {
	thread    bool   // CreateThread rather than CreateReply
	user      int    // index into crashState.users
	requestID string // unique
	body      string // unique; the reply body, or the thread title
	parent    string // the thread replied to (replies)
	theme     string // the theme (threads)
	json      bool   // sent over JSON rather than gRPC
	cycle     int

	acked   bool   // the server answered OK
	name    string // the resource it returned, once acked
	err     error  // the error of an unacknowledged attempt
	retried bool
}

// crashState is what the crash test knows across cycles: every write it
// sent, and which the server acknowledged.
type crashState struct {
	users []user

	mu       sync.Mutex
	threads  []string // acknowledged threads, replied to at random
	attempts []*attempt
}

// knownThreads returns a copy of the acknowledged threads.
func (s *crashState) knownThreads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.threads)
}

// TestCrashRecovery kills forumd with SIGKILL under write load ten times,
// then stops it once with SIGTERM under the same load, and checks after each
// restart that every acknowledged write is there exactly once, that
// unacknowledged writes left at most one trace (retrying their request_id
// creates nothing new when they were committed), and that each thread's
// reply_count matches its replies.
func TestCrashRecovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), crashTimeout)
	defer cancel()
	dataDir := t.TempDir()
	for i := range crashUsers {
		name := fmt.Sprintf("writer%d", i)
		mustCreateUserCLI(t, dataDir, name, "Writer "+name, "member", delegatePassword(name))
	}
	s := &crashState{}
	totalAcked := 0
	// Cycles 0-9 end in SIGKILL; cycle 10 ends in SIGTERM under the same
	// load, which must exit 0 and keep every acknowledged write too; the
	// last start only verifies and stops.
	for cycle := range crashCycles + 2 {
		p := startForumd(t, dataDir, noRateLimits)
		g, h := p.dial(t), p.jsonAPI(t)
		if cycle == 0 {
			for i := range crashUsers {
				name := fmt.Sprintf("writer%d", i)
				s.users = append(s.users, loginGRPC(ctx, t, g, name, delegatePassword(name)))
			}
			for i := range crashThreads {
				th := createThreadGRPC(ctx, t, g, s.users[i%crashUsers].token, &forumv1.Thread{
					Theme: demoThemes[i%len(demoThemes)], Title: fmt.Sprintf("Crash test thread %d", i), Body: "Replies land here.",
				}, fmt.Sprintf("crash-setup-thread-%d", i))
				s.threads = append(s.threads, th.GetName())
			}
		} else {
			verifyCrashState(ctx, t, g, s, cycle)
			if t.Failed() {
				return
			}
		}
		if cycle == crashCycles+1 {
			t.Logf("after %d crashes and a graceful stop under load: %d writes acknowledged in all", crashCycles, totalAcked)
			p.stop()
			return
		}
		acked := crashCycle(ctx, t, p, g, h, s, cycle, cycle == crashCycles)
		if acked == 0 {
			t.Fatalf("cycle %d: no write was acknowledged before the kill", cycle)
		}
		totalAcked += acked
	}
}

// demoThemes are the themes of a new database.
var demoThemes = []string{
	"themes/knowledge-exchange", "themes/reciprocal-volunteering",
	"themes/joint-programmes", "themes/south-south-cooperation",
}

// crashCycle runs the writers against p, kills p with SIGKILL (or, if
// graceful, stops it with SIGTERM and checks that it exits 0) a random
// 300 ms - 2 s after the first acknowledged write, and returns how many
// writes were acknowledged.
func crashCycle(ctx context.Context, t *testing.T, p *forumd, g *api, h *httpAPI, s *crashState, cycle int, graceful bool) int {
	t.Helper()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	var (
		killed    atomic.Bool
		nAcked    atomic.Int64
		nThreads  atomic.Int64
		nFailed   atomic.Int64
		nThrottle atomic.Int64
		firstAck  = make(chan struct{})
		firstOnce sync.Once
		mu        sync.Mutex
		early     []error // errors before the kill
	)
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cycle), uint64(w)))
			for n := 0; !killed.Load() && wctx.Err() == nil; n++ {
				a := &attempt{
					user:      (w + n) % crashUsers,
					requestID: fmt.Sprintf("crash-c%d-w%d-n%d", cycle, w, n),
					json:      w < crashJSONWriters,
					cycle:     cycle,
				}
				if rng.IntN(crashThreadEvery) == 0 {
					a.thread = true
					a.theme = demoThemes[rng.IntN(len(demoThemes))]
					a.body = fmt.Sprintf("Crash thread c%d w%d n%d", cycle, w, n)
				} else {
					threads := s.knownThreads()
					a.parent = threads[rng.IntN(len(threads))]
					a.body = fmt.Sprintf("crash reply c%d w%d n%d: %s", cycle, w, n, strings.Repeat("lorem ipsum ", 8))
				}
				s.mu.Lock()
				s.attempts = append(s.attempts, a)
				s.mu.Unlock()

				name, err := sendAttempt(wctx, g, h, s, a)
				s.mu.Lock()
				if err == nil {
					a.acked, a.name = true, name
					if a.thread {
						s.threads = append(s.threads, name)
					}
				} else {
					a.err = err
				}
				s.mu.Unlock()
				switch {
				case err == nil:
					nAcked.Add(1)
					if a.thread {
						nThreads.Add(1)
					}
					firstOnce.Do(func() { close(firstAck) })
				case throttled(err):
					nThrottle.Add(1)
					nFailed.Add(1)
					time.Sleep(10 * time.Millisecond)
				case !killed.Load():
					mu.Lock()
					early = append(early, fmt.Errorf("%s: %w", a.requestID, err))
					mu.Unlock()
					nFailed.Add(1)
					time.Sleep(10 * time.Millisecond) // no hot loop if forumd is gone
				default:
					nFailed.Add(1)
				}
			}
		})
	}

	select {
	case <-firstAck:
	case <-time.After(firstAckTimeout):
		killed.Store(true)
		wcancel()
		wg.Wait()
		t.Fatalf("cycle %d: no write acknowledged within %v; errors: %v", cycle, firstAckTimeout, early)
	}
	delay := crashMinDelay + rand.N(crashMaxDelay-crashMinDelay)
	time.Sleep(delay)
	killed.Store(true)
	how := "SIGKILL"
	if graceful {
		how = "SIGTERM"
		p.stop()
	} else {
		p.kill()
	}
	wcancel()
	wg.Wait()

	if len(early) > 0 {
		t.Errorf("cycle %d: %d writes failed before the kill, e.g. %v", cycle, len(early), early[:min(len(early), 5)])
	}
	t.Logf("cycle %d: %s %v after the first ack; %d writes acknowledged (%d threads), %d unacknowledged (%d of them rate-limited)",
		cycle, how, delay.Round(time.Millisecond), nAcked.Load(), nThreads.Load(), nFailed.Load(), nThrottle.Load())
	return int(nAcked.Load())
}

// sendAttempt sends a over gRPC or JSON and returns the name of the created
// resource.
func sendAttempt(ctx context.Context, g *api, h *httpAPI, s *crashState, a *attempt) (string, error) {
	token := s.users[a.user].token
	if a.json {
		var path string
		var body map[string]string
		if a.thread {
			path, body = "/v1/threads", map[string]string{"theme": a.theme, "title": a.body, "body": "Opened under load."}
		} else {
			path, body = "/v1/"+a.parent+"/replies", map[string]string{"body": a.body}
		}
		data, err := json.Marshal(body)
		if err != nil {
			return "", err
		}
		cctx, cancel := context.WithTimeout(ctx, httpTimeout)
		defer cancel()
		code, resp, err := h.do(cctx, "POST", path+"?requestId="+url.QueryEscape(a.requestID), token, data)
		if err != nil {
			return "", err
		}
		if code != http.StatusOK {
			return "", &httpError{path: path, status: code, body: resp}
		}
		var out struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(resp, &out); err != nil || out.Name == "" {
			return "", fmt.Errorf("POST %s: response without a name (%v): %.300s", path, err, resp)
		}
		return out.Name, nil
	}
	cctx, cancel := callCtx(ctx, token)
	defer cancel()
	if a.thread {
		th, err := g.threads.CreateThread(cctx, &forumv1.CreateThreadRequest{
			Thread:    &forumv1.Thread{Theme: a.theme, Title: a.body, Body: "Opened under load."},
			RequestId: a.requestID,
		})
		return th.GetName(), err
	}
	r, err := g.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{
		Parent: a.parent, Reply: &forumv1.Reply{Body: a.body}, RequestId: a.requestID,
	})
	return r.GetName(), err
}

// httpError is a JSON call answered with an error status.
type httpError struct {
	path   string
	status int
	body   []byte
}

// Error implements error.
func (e *httpError) Error() string {
	return fmt.Sprintf("POST %s: status %d: %.300s", e.path, e.status, e.body)
}

// throttled reports whether err is a rate limit (RESOURCE_EXHAUSTED, HTTP
// 429): a legitimate refusal under load, which wrote nothing.
func throttled(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		return he.status == http.StatusTooManyRequests
	}
	return status.Code(err) == codes.ResourceExhausted
}

// found is where a body was found.
type found struct {
	name  string // the reply or thread
	count int
}

// crashListing is the whole database as the verifier read it.
type crashListing struct {
	threads map[string]*forumv1.Thread // by name
	bodies  map[string]*found          // reply body or thread title -> where
	replies int
}

// readAll lists every thread and every reply, checking on the way that
// replies are in creation order and each thread's reply_count matches its
// live replies.
func readAll(ctx context.Context, t *testing.T, g *api) crashListing {
	t.Helper()
	l := crashListing{threads: map[string]*forumv1.Thread{}, bodies: map[string]*found{}}
	for _, th := range listAllThreads(ctx, t, g) {
		if _, dup := l.threads[th.GetName()]; dup {
			t.Errorf("ListThreads lists %s twice", th.GetName())
		}
		l.threads[th.GetName()] = th
		note(l.bodies, th.GetTitle(), th.GetName())
		replies := listAllReplies(ctx, t, g, th.GetName(), 100)
		live := int64(0)
		for i, r := range replies {
			if i > 0 && replyID(t, r.GetName()) <= replyID(t, replies[i-1].GetName()) {
				t.Errorf("%s lists %s after %s", th.GetName(), r.GetName(), replies[i-1].GetName())
			}
			if r.GetDeleteTime() == nil {
				live++
			}
			note(l.bodies, r.GetBody(), r.GetName())
		}
		l.replies += len(replies)
		if live != th.GetReplyCount() {
			t.Errorf("%s reply_count = %d, but it lists %d live replies", th.GetName(), th.GetReplyCount(), live)
		}
	}
	return l
}

// note records that body was found in the resource name.
func note(bodies map[string]*found, body, name string) {
	if f, ok := bodies[body]; ok {
		f.count++
		return
	}
	bodies[body] = &found{name: name, count: 1}
}

// verifyCrashState checks the restarted forumd against everything the
// writers were told, then retries a sample of request_ids.
func verifyCrashState(ctx context.Context, t *testing.T, g *api, s *crashState, cycle int) {
	t.Helper()
	l := readAll(ctx, t, g)
	s.mu.Lock()
	attempts := slices.Clone(s.attempts)
	s.mu.Unlock()

	ackedN, committedUnacked := 0, 0
	var unacked, ackedSample []*attempt
	for _, a := range attempts {
		f := l.bodies[a.body]
		switch {
		case a.acked && f == nil:
			t.Errorf("acknowledged write %s (%s, cycle %d) is lost after the crash", a.requestID, a.name, a.cycle)
		case a.acked && f.name != a.name:
			t.Errorf("acknowledged write %s was answered %s but is stored as %s", a.requestID, a.name, f.name)
		case a.acked && !a.thread && !strings.HasPrefix(f.name, a.parent+"/replies/"):
			t.Errorf("acknowledged reply %s landed in the wrong thread: %s", a.requestID, f.name)
		}
		if a.acked {
			ackedN++
			if a.cycle == cycle-1 {
				ackedSample = append(ackedSample, a)
			}
		} else {
			if f != nil {
				committedUnacked++
			}
			if !a.retried {
				unacked = append(unacked, a)
			}
		}
	}
	for body, f := range l.bodies {
		if f.count > 1 {
			t.Errorf("body %.60q appears %d times", body, f.count)
		}
	}
	t.Logf("restart %d: %d threads, %d replies; all %d acknowledged writes present; %d unacknowledged writes were committed anyway",
		cycle, len(l.threads), l.replies, ackedN, committedUnacked)

	// Retrying an unacknowledged write with its request_id must give
	// exactly one copy; retrying an acknowledged one must return it again.
	rng := rand.New(rand.NewPCG(uint64(cycle), 99))
	rng.Shuffle(len(unacked), func(i, j int) { unacked[i], unacked[j] = unacked[j], unacked[i] })
	rng.Shuffle(len(ackedSample), func(i, j int) { ackedSample[i], ackedSample[j] = ackedSample[j], ackedSample[i] })
	retry := append(unacked[:min(len(unacked), crashRetryUnacked)], ackedSample[:min(len(ackedSample), crashRetryAcked)]...)
	for _, a := range retry {
		before := l.bodies[a.body]
		a.json = false
		name, err := sendAttempt(ctx, g, nil, s, a)
		for try := 0; err != nil && throttled(err) && try < 50; try++ {
			time.Sleep(100 * time.Millisecond)
			name, err = sendAttempt(ctx, g, nil, s, a)
		}
		if err != nil {
			t.Errorf("retry of %s (acked %v): %v (code %v)", a.requestID, a.acked, err, status.Code(err))
			continue
		}
		if before != nil && name != before.name {
			t.Errorf("retry of %s created %s, but the first attempt had committed %s", a.requestID, name, before.name)
		}
		s.mu.Lock()
		a.retried = true
		if !a.acked {
			a.acked, a.name, a.err = true, name, nil
			if a.thread {
				s.threads = append(s.threads, name)
			}
		}
		s.mu.Unlock()
	}
	if len(retry) > 0 {
		l = readAll(ctx, t, g)
		for _, a := range retry {
			if f := l.bodies[a.body]; f == nil || f.count != 1 || (a.acked && f.name != a.name) {
				t.Errorf("after retrying %s: %q found %+v, want once as %s", a.requestID, a.body, f, a.name)
			}
		}
	}
}
