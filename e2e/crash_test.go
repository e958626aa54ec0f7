package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
	"github.com/forumhq/forum/internal/testlog"
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
	// auditor is an admin, who reads the whole log: the writers' own
	// notifications are seen only by each (and by admins, without what
	// they say).
	auditor user

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
	crashSetupUsers(t, dataDir)
	s := &crashState{}
	totalAcked := 0
	// Cycles 0-9 end in SIGKILL; cycle 10 ends in SIGTERM under the same
	// load, which must exit 0 and keep every acknowledged write too; the
	// last start only verifies and stops.
	for cycle := range crashCycles + 2 {
		p, g, h := startCrashCycle(ctx, t, dataDir, s, cycle)
		if t.Failed() {
			return
		}
		if cycle == crashCycles+1 {
			t.Logf("after %d crashes and a graceful stop under load: %d writes acknowledged in all", crashCycles, totalAcked)
			p.Stop()
			return
		}
		acked := crashCycle(ctx, t, p, g, h, s, cycle, cycle == crashCycles)
		if acked == 0 {
			t.Fatalf("cycle %d: no write was acknowledged before the kill", cycle)
		}
		totalAcked += acked
	}
}

// crashSetupUsers creates the writers' accounts with the CLI, before forumd
// first starts on dataDir.
func crashSetupUsers(t *testing.T, dataDir string) {
	t.Helper()
	for i := range crashUsers {
		name := fmt.Sprintf("writer%d", i)
		mustCreateUserCLI(t, dataDir, name, "Writer "+name, "member", delegatePassword(name))
	}
	mustCreateUserCLI(t, dataDir, "auditor", "Auditor", "admin", delegatePassword("auditor"))
}

// crashSetup logs the writers in and opens the threads they reply to, at
// forumd's first start.
func crashSetup(ctx context.Context, t *testing.T, g *api, s *crashState) {
	t.Helper()
	for i := range crashUsers {
		name := fmt.Sprintf("writer%d", i)
		s.users = append(s.users, loginGRPC(ctx, t, g, name, delegatePassword(name)))
	}
	s.auditor = loginGRPC(ctx, t, g, "auditor", delegatePassword("auditor"))
	for i := range crashThreads {
		th := createThreadGRPC(ctx, t, g, s.users[i%crashUsers].token, &forumv1.Thread{
			Theme: demoThemes[i%len(demoThemes)], Title: fmt.Sprintf("Crash test thread %d", i), Body: "Replies land here.",
		}, fmt.Sprintf("crash-setup-thread-%d", i))
		s.threads = append(s.threads, th.GetName())
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
		p.Stop()
	} else {
		p.Kill()
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
// writers were told, then retries a sample of request_ids. It returns what
// it read before the retries. mayLack, if not nil, excuses acknowledged
// writes that a repair of the log dropped; those are not retried.
func verifyCrashState(ctx context.Context, t *testing.T, g *api, s *crashState, cycle int, mayLack func(*attempt) bool) crashListing {
	t.Helper()
	l := readAll(ctx, t, g)
	verifyEventLog(ctx, t, g, s.auditor.token, l, cycle)
	verifySearch(ctx, t, g, s.users[0].token, l, cycle)
	s.mu.Lock()
	attempts := slices.Clone(s.attempts)
	s.mu.Unlock()

	ackedN, committedUnacked, dropped, lost := 0, 0, 0, 0
	var unacked, ackedSample []*attempt
	for _, a := range attempts {
		f := l.bodies[a.body]
		if a.acked && f == nil && mayLack != nil && mayLack(a) {
			dropped++
			continue
		}
		switch {
		case a.acked && f == nil:
			lost++
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
			// After a repair, a reply to a thread it dropped cannot be
			// retried.
			if !a.retried && (mayLack == nil || a.thread || l.threads[a.parent] != nil) {
				unacked = append(unacked, a)
			}
		}
	}
	for body, f := range l.bodies {
		if f.count > 1 {
			t.Errorf("body %.60q appears %d times", body, f.count)
		}
	}
	if dropped > 0 || lost > 0 {
		t.Logf("restart %d: %d threads, %d replies; of %d acknowledged writes, %d present, %d dropped by the repair (logged after the damage), %d lost; %d unacknowledged writes were committed anyway",
			cycle, len(l.threads), l.replies, ackedN+dropped, ackedN-lost, dropped, lost, committedUnacked)
	} else {
		t.Logf("restart %d: %d threads, %d replies; all %d acknowledged writes present; %d unacknowledged writes were committed anyway",
			cycle, len(l.threads), l.replies, ackedN, committedUnacked)
	}

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
		l2 := readAll(ctx, t, g)
		for _, a := range retry {
			if f := l2.bodies[a.body]; f == nil || f.count != 1 || (a.acked && f.name != a.name) {
				t.Errorf("after retrying %s: %q found %+v, want once as %s", a.requestID, a.body, f, a.name)
			}
		}
	}
	return l
}

// Sizes of TestCrashDamagedLog, per kind of damage.
const (
	// damageCycles SIGKILL cycles run before the damage, which goes into
	// the log of the last one.
	damageCycles = 3
	// damageExtraCycles more are run, at most, while the log of the last
	// kill cannot take the damage (its newest file has too few records).
	damageExtraCycles = 4
	damageTimeout     = 4 * time.Minute
	// damageSeed seeds the choices of the damage (which byte, which
	// sector, what value); subtest i uses damageSeed, i.
	damageSeed = 11
)

// damageOutcome is what forumd must do on a damaged log.
type damageOutcome int

const (
	mustRefuse    damageOutcome = iota // refuse to start, naming admin repair
	mustStart                          // start, with every acknowledged write
	startOrRefuse                      // either of the two
)

// logDamage is one kind of damage done to the log after the last kill.
type logDamage struct {
	name string
	want damageOutcome
	// apply returns the newest file's bytes damaged, with what it did; or,
	// if f cannot take the damage, why not (and nil).
	apply func(f *walFile, rng *rand.Rand) (damaged []byte, what string)
}

// logDamages are the kinds of damage of TestCrashDamagedLog.
var logDamages = []logDamage{
	{
		// The reproduction: before recovery told damage from
		// torn writes, this dropped the acknowledged replies after it.
		name: "FlipByteAt4KiB", want: startOrRefuse,
		apply: func(f *walFile, rng *rand.Rand) ([]byte, string) {
			const pos = 4096 // a file offset
			off, ok := walStreamOff(pos)
			if !ok {
				return nil, fmt.Sprintf("byte %d is in a sector's stamp, in no record", pos)
			}
			i := f.checkedFrameAt(off)
			if i < 0 {
				return nil, fmt.Sprintf("byte %d (offset %d of the stream) is in no record (the records end at %d)", pos, off, walFileOff(f.end))
			}
			b := slices.Clone(f.raw)
			x := byte(1 + rng.IntN(255))
			b[pos] ^= x
			return b, fmt.Sprintf("flipped byte %d (xor %#02x), offset %d of the stream, in record %d (%s)", pos, x, off, f.frames[i].seq, f.frames[i])
		},
	},
	{
		// The last record is whole: damage in it is damage, not a torn
		// write, since it may have been acknowledged.
		name: "FlipByteInLastRecord", want: mustRefuse,
		apply: func(f *walFile, rng *rand.Rand) ([]byte, string) {
			if len(f.frames) == 0 {
				return nil, "it has no record"
			}
			last := f.frames[len(f.frames)-1]
			pos := walFileOff(last.off + walFrameHeader + rng.Int64N(last.n))
			b := slices.Clone(f.raw)
			x := byte(1 + rng.IntN(255))
			b[pos] ^= x
			return b, fmt.Sprintf("flipped byte %d (xor %#02x), in the payload of the last record %d (%s)", pos, x, last.seq, last)
		},
	},
	{
		// A sector that lost its contents, stamp included, with records
		// after it.
		name: "ZeroSectorMidLog", want: mustRefuse,
		apply: func(f *walFile, rng *rand.Rand) ([]byte, string) {
			if len(f.frames) == 0 {
				return nil, "it has no record"
			}
			// Whole sectors of the file after the header's and before
			// the last record, which stays intact.
			lastOff := f.frames[len(f.frames)-1].fileOff()
			var sectors []int64
			for s := int64(walSector); s+walSector <= lastOff; s += walSector {
				sectors = append(sectors, s)
			}
			rng.Shuffle(len(sectors), func(i, j int) { sectors[i], sectors[j] = sectors[j], sectors[i] })
			for _, s := range sectors {
				b := slices.Clone(f.raw)
				clear(b[s : s+walSector])
				if i := f.firstChanged(b); i >= 0 {
					return b, fmt.Sprintf("zeroed the sector at %d, data and stamp (of %d whole sectors before the last record), changing record %d (%s) first", s, len(sectors), f.frames[i].seq, f.frames[i])
				}
			}
			return nil, fmt.Sprintf("no whole sector before its last record (at %d) holds record bytes", lastOff)
		},
	},
	{
		// A record never acknowledged, whose write a crash cut short:
		// its first sector written (and stamped) as the log writes it,
		// the others as they were before the write, sectors of an
		// earlier generation or zeros, with another stamp than the
		// file's generation.
		name: "TornUnacknowledgedRecord", want: mustStart,
		apply: func(f *walFile, rng *rand.Rand) ([]byte, string) {
			b := slices.Clone(f.raw)
			cur := walStamp(f.gen)
			e := f.end                                      // where the frame starts, in the stream
			n := int64(2*walSector + rng.IntN(2*walSector)) // spans two sectors at least
			end := e + walFrameHeader + n
			first, last := e/walSectorData, (end-1)/walSectorData // its sectors
			if need := (last + 1) * walSector; int64(len(b)) < need {
				b = append(b, make([]byte, need-int64(len(b)))...) // as zero-filled new space
			}
			// Bytes after the records in sectors this generation wrote
			// are a write that the kill itself cut short (between
			// pages), never acknowledged either: in the first sector the
			// frame overwrites them, and the sectors after it are
			// zeroed, stamp included, so that they read as never written.
			overwritten := 0
			firstSec := b[first*walSector : (first+1)*walSector]
			if binary.LittleEndian.Uint64(firstSec[walSectorData:]) == cur {
				in := e - first*walSectorData
				overwritten = int(walSectorData-in) - zeroTailLen(firstSec[in:walSectorData])
			}
			cleared := 0
			for s := (first + 1) * walSector; s+walSector <= int64(len(b)); s += walSector {
				if binary.LittleEndian.Uint64(b[s+walSectorData:]) == cur {
					clear(b[s : s+walSector])
					cleared++
				}
			}
			// The stamps of the sectors the frame spans after its first.
			zeros, stale := 0, map[uint32]int{}
			for i := first + 1; i <= last; i++ {
				st := binary.LittleEndian.Uint64(b[i*walSector+walSectorData:])
				switch {
				case st == 0:
					zeros++
				case uint32(st>>32) == ^uint32(st):
					stale[uint32(st)]++
				default:
					return nil, fmt.Sprintf("sector %d, after the end of its records (at %d), has a stamp of no generation: %#016x", i, walFileOff(e), st)
				}
			}
			// The first sector, as the log writes it: the end of the last
			// record (kept), the frame's header and the first bytes of
			// its payload up to the end of the sector (or of the frame),
			// zeros after them, and the stamp of the file's generation.
			at := first * walSector
			written := min((first+1)*walSectorData, end) // in the stream
			fr := b[at+e-first*walSectorData : at+walSectorData]
			binary.LittleEndian.PutUint32(fr[0:], uint32(n))
			binary.LittleEndian.PutUint32(fr[4:], ^uint32(n))
			for i := int64(8); i < written-e; i++ {
				fr[i] = byte(rng.Uint32())
			}
			clear(fr[written-e:])
			binary.LittleEndian.PutUint64(b[at+walSectorData:], cur)

			left := fmt.Sprintf("%d zero-stamped", zeros)
			for _, g := range slices.Sorted(maps.Keys(stale)) {
				left += fmt.Sprintf(", %d of generation %d (low 32 bits)", stale[g], g)
			}
			what := fmt.Sprintf("appended at %d (the end of the records; %s) a frame of %d bytes (%d of payload) of which only the first %d were written, in its first sector (at %d, stamped with generation %d); the %d other sectors it spans left as they were: %s",
				walFileOff(e), f.lastFrameString(), walFrameHeader+n, n, written-e, at, f.gen, last-first, left)
			if overwritten > 0 || cleared > 0 {
				what += fmt.Sprintf("; the kill had cut a write short there: overwrote %d bytes of it in the first sector, and zeroed the sectors after it stamped with generation %d (%d)", overwritten, f.gen, cleared)
			}
			return b, what
		},
	},
}

// TestCrashDamagedLog is TestCrashRecovery with the write-ahead log damaged
// after the last kill, in several ways, each a subtest (the damage is
// chosen from a fixed seed, and logged). forumd must then either have every
// acknowledged write (answered OK, at the first attempt or at a retry with
// its request_id) and every record of the log, or refuse to start with an
// error that says the log is damaged and names `forumd admin repair`:
// never drop acknowledged writes in silence. After a refusal the test runs
// the repair, which must save the damaged file aside (.broken) and cut it
// where the damaged record starts; forumd must then start with every write
// logged before the damage, and of those after it keep only the ones its
// database already held, whole records, in order.
func TestCrashDamagedLog(t *testing.T) {
	for i, d := range logDamages {
		t.Run(d.name, func(t *testing.T) { testDamagedLog(t, d, uint64(i)) })
	}
}

// testDamagedLog is one subtest of TestCrashDamagedLog.
func testDamagedLog(t *testing.T, d logDamage, index uint64) {
	ctx, cancel := context.WithTimeout(t.Context(), damageTimeout)
	defer cancel()
	dataDir := t.TempDir()
	crashSetupUsers(t, dataDir)
	s := &crashState{}
	rng := rand.New(rand.NewPCG(damageSeed, index))
	t.Logf("damage %s, seed (%d, %d)", d.name, damageSeed, index)

	// SIGKILL cycles until the last one's log can take the damage.
	var (
		newest, other *walFile
		damaged       []byte
		what          string
		lastCycle     int
	)
	for cycle := 0; ; cycle++ {
		p, g, h := startCrashCycle(ctx, t, dataDir, s, cycle)
		if t.Failed() {
			return
		}
		if crashCycle(ctx, t, p, g, h, s, cycle, false) == 0 {
			t.Fatalf("cycle %d: no write was acknowledged before the kill", cycle)
		}
		if cycle+1 < damageCycles {
			continue
		}
		var err error
		newest, other, err = readWAL(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after kill %d: %s; %s", cycle, newest, other)
		damaged, what = d.apply(newest, rng)
		if damaged != nil {
			lastCycle = cycle
			break
		}
		if cycle+1 >= damageCycles+damageExtraCycles {
			t.Fatalf("after %d kills, the newest file of the log still cannot take the damage: %s", cycle+1, what)
		}
		t.Logf("its newest file cannot take the damage (%s): one more cycle", what)
	}
	if err := os.WriteFile(newest.path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("damaged %s: %s", newest.path, what)
	cut := newest.firstChanged(damaged) // the record the damage hits first, if any
	if cut >= 0 {
		t.Logf("the first record it changes is %d (%s)", newest.frames[cut].seq, newest.frames[cut])
	} else {
		t.Logf("it changes no record")
	}
	locs := locateWrites(s, other, newest)

	p, exit, stderr := startOrExit(t, dataDir, noRateLimits)
	if p != nil {
		// It started: every acknowledged write, and every record of the
		// log, must be there.
		t.Logf("forumd started on the damaged log")
		if d.want == mustRefuse {
			t.Errorf("forumd started on a log damaged in a whole record (%s); it must refuse", what)
		}
		if cut >= 0 {
			// Accepted only if nothing is lost: the checks below.
			t.Logf("the damage changed record %d (%s), yet forumd started", newest.frames[cut].seq, newest.frames[cut])
		}
		g := p.dial(t)
		l := verifyCrashState(ctx, t, g, s, lastCycle+1, nil)
		checkLoggedReplies(t, l, locs, nil, 0)
		if d.want == mustStart && !strings.Contains(p.Log(), "torn record") {
			t.Errorf("forumd did not log that it discarded a torn record")
		}
		p.Stop()
		return
	}

	// It refused: the message must say why and name the repair.
	t.Logf("forumd refused to start (%v); stderr:\n%s", exit, stderr)
	if d.want == mustStart {
		t.Fatalf("forumd refused a log whose last record is torn, a write it never acknowledged (%s)", what)
	}
	if exit.ExitCode() == 0 {
		t.Errorf("forumd exited with status 0 without serving")
	}
	if !strings.Contains(stderr, "damaged") && !strings.Contains(stderr, "cannot be read") {
		t.Errorf("forumd's error does not say the log is damaged or cannot be read")
	}
	if want := "forumd admin repair --data " + dataDir; !strings.Contains(stderr, want) {
		t.Errorf("forumd's error does not name %q", want)
	}
	if cut < 0 {
		t.Fatalf("forumd refused a log whose records are all intact (%s)", what)
	}
	wantCut := newest.frames[cut].fileOff() // forumd's offsets count the stamps
	if !strings.Contains(stderr, newest.path) || !strings.Contains(stderr, fmt.Sprintf("offset %d", wantCut)) {
		t.Errorf("forumd's error does not name %s and offset %d, where the damaged record starts", newest.path, wantCut)
	}

	// The repair saves the damaged file aside and cuts it before the
	// damaged record.
	out, err := runRepair(dataDir)
	t.Logf("forumd admin repair --data %s:\n%s", dataDir, out)
	if err != nil {
		t.Fatalf("forumd admin repair: %v", err)
	}
	m := regexp.MustCompile(`(?m)^(.+): .*; saved as (.+), cut to (\d+) bytes$`).FindAllStringSubmatch(out, -1)
	if len(m) != 1 || m[0][1] != newest.path || m[0][2] != newest.path+".broken" || m[0][3] != strconv.FormatInt(wantCut, 10) {
		t.Errorf("forumd admin repair reported %q, want %s saved as %s.broken and cut to %d bytes", m, newest.path, newest.path, wantCut)
	}
	if saved, err := os.ReadFile(newest.path + ".broken"); err != nil {
		t.Errorf("the saved copy: %v", err)
	} else if !bytes.Equal(saved, damaged) {
		t.Errorf("%s.broken (%d bytes) differs from the damaged file (%d bytes)", newest.path, len(saved), len(damaged))
	}
	if fi, err := os.Stat(newest.path); err != nil || fi.Size() != wantCut {
		t.Errorf("after the repair, %s: %v, size %d, want %d", newest.path, err, fi.Size(), wantCut)
	}

	// forumd starts again, with every write logged before the damage.
	p = startForumd(t, dataDir, noRateLimits)
	g := p.dial(t)
	dropped := func(a *attempt) bool {
		loc, ok := locs[a.requestID]
		return ok && loc.file == newest && loc.frame >= cut
	}
	l := verifyCrashState(ctx, t, g, s, lastCycle+1, dropped)
	checkLoggedReplies(t, l, locs, newest, cut)
	p.Stop()
}

// Layout of the log's files, format version 2
// (server/store/kv/wal/format.go): a file is a sequence of sectors, each
// holding walSectorData bytes of the log's stream, then the stamp of the
// generation that wrote it. The stream is a header, then 8-aligned frames.
const (
	walVersion     = 2
	walHeader      = 64
	walFrameHeader = 24
	walSector      = 512
	walStampSize   = 8
	walSectorData  = walSector - walStampSize // bytes of the stream in a sector
)

var walCRC = crc32.MakeTable(crc32.Castagnoli)

// walFileOff returns the offset in a file of the log of offset off of its
// stream.
func walFileOff(off int64) int64 { return off/walSectorData*walSector + off%walSectorData }

// walStreamOff returns the offset in the stream of byte pos of a file of
// the log, or false if pos is in a sector's stamp.
func walStreamOff(pos int64) (int64, bool) {
	if pos%walSector >= walSectorData {
		return 0, false
	}
	return pos/walSector*walSectorData + pos%walSector, true
}

// walStamp returns the stamp of the sectors that generation gen writes:
// its low 32 bits, then their complement (little endian).
func walStamp(gen uint64) uint64 {
	g := uint32(gen)
	return uint64(g) | uint64(^g)<<32
}

// walDestamp returns the stream of raw, the bytes of a file of the log:
// the data of its sectors, without their stamps. A last partial sector
// gives its bytes up to where its stamp would start.
func walDestamp(raw []byte) []byte {
	stream := make([]byte, 0, len(raw))
	for s := 0; s < len(raw); s += walSector {
		stream = append(stream, raw[s:min(len(raw), s+walSectorData)]...)
	}
	return stream
}

// walFile is a file of forumd's write-ahead log, as the test reads it.
type walFile struct {
	path   string
	raw    []byte // the file's bytes, stamps included
	stream []byte // the log's stream: raw without the stamps
	gen    uint64 // 0: unused (its header is zeros)
	frames []walFrame
	end    int64 // where its valid frames end, in the stream
}

// walFrame is one valid frame of a walFile.
type walFrame struct {
	off int64 // where it starts, in the stream
	n   int64 // its payload's length
	seq uint64
}

// String describes fr by its offset in the file (stamps counted, as
// forumd's messages give it) and its length in the stream.
func (fr walFrame) String() string {
	return fmt.Sprintf("at %d, %d bytes", fr.fileOff(), walFrameHeader+fr.n)
}

// fileOff returns the offset in the file where fr starts.
func (fr walFrame) fileOff() int64 { return walFileOff(fr.off) }

// len returns the length of the frame in the stream, padding included.
func (fr walFrame) len() int64 { return (walFrameHeader + fr.n + 7) &^ 7 }

// String describes f: its generation, and its records and where they end
// in the file.
func (f *walFile) String() string {
	if f.gen == 0 {
		return fmt.Sprintf("%s: unused (%d bytes)", filepath.Base(f.path), len(f.raw))
	}
	return fmt.Sprintf("%s: generation %d, %d records in its first %d bytes of %d (%s)", filepath.Base(f.path), f.gen, len(f.frames), walFileOff(f.end), len(f.raw), f.lastFrameString())
}

// lastFrameString describes f's last frame.
func (f *walFile) lastFrameString() string {
	if len(f.frames) == 0 {
		return "no record"
	}
	last := f.frames[len(f.frames)-1]
	return fmt.Sprintf("last record %d %s", last.seq, last)
}

// readWAL reads both files of the log in dataDir and returns the newest
// (of the higher generation) and the other.
func readWAL(dataDir string) (newest, other *walFile, err error) {
	var files [2]*walFile
	for i := range files {
		if files[i], err = readWALFile(filepath.Join(dataDir, fmt.Sprintf("forum.db-wal.%d", i))); err != nil {
			return nil, nil, err
		}
	}
	if files[1].gen > files[0].gen {
		return files[1], files[0], nil
	}
	if files[0].gen == 0 {
		return nil, nil, fmt.Errorf("neither file of the log in %s has a header", dataDir)
	}
	return files[0], files[1], nil
}

// readWALFile reads a file of the log, of format version 2, and finds the
// valid frames of its stream: from the header on, each 8-aligned, with its
// length and the length's complement, its seq the one before's plus one,
// and its CRC-32C (salted with the database's identity and the file's
// generation) right. They end at the first frame that is not valid: the
// file is reused without being cleared, so what follows may be frames of
// earlier generations, which fail their salted CRC, or zeros. It does not
// look at the stamps.
func readWALFile(path string) (*walFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := &walFile{path: path, raw: raw, stream: walDestamp(raw)}
	data := f.stream
	if len(data) < walHeader || allZeroBytes(data[:walHeader]) {
		return f, nil
	}
	if string(data[:8]) != "forumWAL" {
		return nil, fmt.Errorf("%s: no log header: %q", path, data[:8])
	}
	if v := binary.LittleEndian.Uint32(data[8:12]); v != walVersion {
		return nil, fmt.Errorf("%s: format version %d; this test reads version %d only", path, v, walVersion)
	}
	if crc32.Checksum(data[:60], walCRC) != binary.LittleEndian.Uint32(data[60:64]) {
		return nil, fmt.Errorf("%s: its header's CRC does not match", path)
	}
	f.gen = binary.LittleEndian.Uint64(data[32:40])
	next := binary.LittleEndian.Uint64(data[40:48])
	var saltIn [24]byte
	copy(saltIn[:16], data[16:32])
	copy(saltIn[16:], data[32:40])
	salt := crc32.Checksum(saltIn[:], walCRC)
	off := int64(walHeader)
	for off+walFrameHeader <= int64(len(data)) {
		n := binary.LittleEndian.Uint32(data[off:])
		if n == 0 || n != ^binary.LittleEndian.Uint32(data[off+4:]) || off+walFrameHeader+int64(n) > int64(len(data)) {
			break
		}
		fr := data[off : off+walFrameHeader+int64(n)]
		c := crc32.Update(salt, walCRC, fr[0:4])
		c = crc32.Update(c, walCRC, fr[12:]) // [4:8] is ^n, [8:12] the CRC
		seq := binary.LittleEndian.Uint64(fr[16:24])
		if c != binary.LittleEndian.Uint32(fr[8:12]) || seq != next {
			break
		}
		f.frames = append(f.frames, walFrame{off: off, n: int64(n), seq: seq})
		next++
		off += f.frames[len(f.frames)-1].len()
	}
	f.end = off
	return f, nil
}

// checked reports whether byte pos of the stream is a byte of frame fr
// that a reader checks: any but the zero word [12:16] and the padding.
func (fr walFrame) checked(pos int64) bool {
	rel := pos - fr.off
	return rel >= 0 && rel < walFrameHeader+fr.n && (rel < 12 || rel >= 16)
}

// checkedFrameAt returns the index of the frame of which byte pos of the
// stream is a checked byte, or -1.
func (f *walFile) checkedFrameAt(pos int64) int {
	for i, fr := range f.frames {
		if fr.checked(pos) {
			return i
		}
	}
	return -1
}

// firstChanged returns the index of the first frame of f a checked byte
// of which differs in the stream of b (the file's bytes, damaged), or -1.
func (f *walFile) firstChanged(b []byte) int {
	stream := walDestamp(b)
	for i, fr := range f.frames {
		for pos := fr.off; pos < fr.off+walFrameHeader+fr.n; pos++ {
			if fr.checked(pos) && (pos >= int64(len(stream)) || stream[pos] != f.stream[pos]) {
				return i
			}
		}
	}
	return -1
}

// allZeroBytes reports whether every byte of b is zero.
func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// zeroTailLen returns how many bytes at the end of b are zero.
func zeroTailLen(b []byte) int {
	i := len(b)
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return len(b) - i
}

// writeLoc is where the record that created a write lies in the log.
type writeLoc struct {
	a     *attempt
	file  *walFile
	frame int // index in file.frames
}

// logMarks are what locateWrites looks for in the records: the start of a
// reply's body, up to its colon, and a thread's title.
var (
	logMarks    = regexp.MustCompile(`crash reply c\d+ w\d+ n\d+:|Crash thread c\d+ w\d+ n\d+`)
	threadTitle = regexp.MustCompile(`^Crash thread c\d+ w\d+ n\d+$`)
)

// locateWrites finds, in the valid frames of the log's files (oldest
// first), the records that created the replies and threads the writers
// sent, and returns them by request_id. The valid frames hold only the
// records of forumd's last run (it starts the log anew at each start; a
// file it reuses keeps, after its records, frames of earlier generations,
// but those fail their CRC, salted with the generation, and readWALFile
// stops at the first frame that fails, so they are never read as records),
// and only some of them: the writes of the last cycle, and of retries at
// its start, that the last checkpoints had not emptied from it yet. A
// reply's body and a thread's title are in the record of their creation
// only (replies change the thread's counters, not the thread); should a
// title be in later ones too, the first record holding it is the creation.
func locateWrites(s *crashState, files ...*walFile) map[string]writeLoc {
	first := map[string]writeLoc{} // by mark
	// Newest record first, so that the oldest one holding a mark wins.
	for _, f := range slices.Backward(files) {
		for i := len(f.frames) - 1; i >= 0; i-- {
			fr := f.frames[i]
			payload := f.stream[fr.off+walFrameHeader : fr.off+walFrameHeader+fr.n]
			for _, m := range logMarks.FindAllIndex(payload, -1) {
				mark := string(payload[m[0]:m[1]])
				if mark[0] == 'C' {
					// A title, as protobuf stores it: its length (one
					// byte, under 128) before it. "n1" may be the start
					// of "n12".
					n := int(payload[max(m[0]-1, 0)])
					if m[0] == 0 || m[0]+n > len(payload) || !threadTitle.Match(payload[m[0]:m[0]+n]) {
						continue
					}
					mark = string(payload[m[0] : m[0]+n])
				}
				first[mark] = writeLoc{file: f, frame: i}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	locs := map[string]writeLoc{}
	for _, a := range s.attempts {
		mark := a.body
		if !a.thread {
			mark = mark[:strings.IndexByte(mark, ':')+1]
		}
		if loc, ok := first[mark]; ok {
			loc.a = a
			locs[a.requestID] = loc
		}
	}
	return locs
}

// checkLoggedReplies checks the replies whose creation is in the log
// (locs) against the listing l of the restarted forumd. If damaged is nil,
// every one must be present. Otherwise the repair cut damaged at its frame
// cut: every reply logged before must be present; from cut on, the repair
// dropped the records the database did not hold yet, so each record's
// replies must be all present or all absent, and the records present must
// come before those absent.
func checkLoggedReplies(t *testing.T, l crashListing, locs map[string]writeLoc, damaged *walFile, cut int) {
	t.Helper()
	type frameState struct{ present, absent int }
	before, missing, after := 0, 0, map[int]*frameState{}
	for id, loc := range locs {
		if loc.a.thread {
			continue
		}
		present := l.bodies[loc.a.body] != nil
		if damaged == nil || loc.file != damaged || loc.frame < cut {
			before++
			if !present {
				missing++
				t.Errorf("reply %s (acknowledged %v), logged in record %d of %s (%s), is missing", id, loc.a.acked, loc.file.frames[loc.frame].seq, filepath.Base(loc.file.path), loc.file.frames[loc.frame])
			}
			continue
		}
		fs := after[loc.frame]
		if fs == nil {
			fs = &frameState{}
			after[loc.frame] = fs
		}
		if present {
			fs.present++
		} else {
			fs.absent++
		}
	}
	if damaged == nil {
		t.Logf("replies found in the log's records: %d, of which %d missing", before, missing)
		return
	}
	frames := slices.Sorted(maps.Keys(after))
	keptRecs, droppedRecs, keptReplies, droppedReplies := 0, 0, 0, 0
	for _, i := range frames {
		fs := after[i]
		fr := damaged.frames[i]
		switch {
		case fs.present > 0 && fs.absent > 0:
			t.Errorf("record %d (%s) is half applied: %d of its replies present, %d absent", fr.seq, fr, fs.present, fs.absent)
		case fs.present > 0 && droppedRecs > 0:
			t.Errorf("record %d (%s) is present, but a record before it was dropped", fr.seq, fr)
		}
		if fs.absent > 0 {
			droppedRecs++
		} else {
			keptRecs++
		}
		keptReplies += fs.present
		droppedReplies += fs.absent
	}
	t.Logf("replies found in the log: %d before the damage, %d of them missing; %d after it in %d records: %d present (in %d records the database held already), %d dropped (in %d)",
		before, missing, keptReplies+droppedReplies, len(frames), keptReplies, keptRecs, droppedReplies, droppedRecs)
}

// startCrashCycle starts forumd for cycle of a crash test: the first sets
// up the users and threads, every later one first checks what the crashes
// before it left (the caller stops if that failed).
func startCrashCycle(ctx context.Context, t *testing.T, dataDir string, s *crashState, cycle int) (*forumd, *api, *httpAPI) {
	t.Helper()
	p := startForumd(t, dataDir, noRateLimits)
	g, h := p.dial(t), p.jsonAPI(t)
	if cycle == 0 {
		crashSetup(ctx, t, g, s)
	} else {
		verifyCrashState(ctx, t, g, s, cycle, nil)
	}
	return p, g, h
}

// startOrExit is startForumd for a start that may be refused: if forumd
// exits before it listens, it returns a nil *forumd, how forumd exited and
// what it wrote to its standard error.
func startOrExit(t *testing.T, dataDir string, args ...string) (*forumd, *os.ProcessState, string) {
	t.Helper()
	stderr := &testlog.Buffer{}
	s, err := forumdtest.LaunchProcess(t, forumdBin, dataDir, serveOptions(nil, stderr, args))
	if err != nil {
		return nil, s.ProcessState(), stderr.Tail(maxLogDumpSize)
	}
	return &forumd{s}, nil, ""
}

// runRepair runs `forumd admin repair --data dataDir` and returns its
// output (standard output, then standard error).
func runRepair(dataDir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, forumdBin, "admin", "repair", "--data", dataDir)
	cmd.Env = forumdtest.Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String() + stderr.String(), err
}
