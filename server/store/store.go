// Package store keeps the forum's data: themes, threads, replies, users and
// sessions. Its API speaks forum (CreateReply, ListReplies); underneath, the
// kv package is the only code that touches the bbolt file.
//
// Each method is one transaction. Writes are group-committed by the kv engine
// and return only once durable. The store enforces the data's invariants:
// existence, etags, states, counters, uniqueness, the last admin. Who may do
// what is decided by package authz: the server asks it before calling the
// store, and the store asks it, inside its transactions, the rules that
// need stored data (authors, who deleted a post, a theme's groups and their
// members). Requests are validated for shape by the caller (package server)
// before they get here.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Options configures Open.
type Options struct {
	// Logger receives the store's logs; nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds the wait for the file lock held by another process;
	// 0 means 1 second.
	Timeout time.Duration
	// NoSync disables fsync. Only benchmarks that say so set it: with it, an
	// acknowledged write can be lost in a crash.
	NoSync bool
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// NoDemoThemes leaves a new database without the demo themes.
	NoDemoThemes bool
	// BenchmarkWithoutEventLog makes no event for any change: the event
	// log stays empty and its readers see nothing. It exists only so that
	// benchmarks measure what the log costs the write path against the
	// same build (docs/PERFORMANCE.md); forumd never sets it.
	BenchmarkWithoutEventLog bool
	// RequestRetention is how long a request_id is remembered at least:
	// a retry within it returns the first call's result. Sweep forgets
	// older ones. Zero means DefaultRequestRetention.
	RequestRetention time.Duration
}

// DefaultRequestRetention is the default Options.RequestRetention.
const DefaultRequestRetention = 24 * time.Hour

// Store is the forum's data store. It is safe for concurrent use.
type Store struct {
	kv       kv.Engine
	log      *slog.Logger
	now      func() time.Time
	tokenKey []byte // HMAC key for page tokens
	gates    gateCache
	creds    credCache
	changes  notifier // wakes the readers of the event log (events.go)
	// writes counts the commits of the store's own writes (update): the
	// calls that change the forum, not what its readers derive
	// (DeriveNotifications).
	writes atomic.Uint64
	queued notifier // wakes webhook delivery when a delivery is queued (webhooks.go)

	benchmarkWithoutEventLog bool // Options.BenchmarkWithoutEventLog
	feed                     feed // the event log's live subscribers (feed.go)

	requestRetention time.Duration
}

// DemoThemes are the themes a new database starts with.
var DemoThemes = []*forumv1.Theme{
	{Name: "themes/knowledge-exchange", DisplayName: "Knowledge exchange", Description: "Share what worked, what did not, and what you learnt doing it."},
	{Name: "themes/reciprocal-volunteering", DisplayName: "Reciprocal volunteering", Description: "Volunteers serving in each other's countries: placements, hosting, recognition."},
	{Name: "themes/joint-programmes", DisplayName: "Joint programmes", Description: "Programmes run together by several volunteer organisations."},
	{Name: "themes/south-south-cooperation", DisplayName: "South-South cooperation", Description: "Cooperation between countries of the Global South."},
}

// Open opens (or creates) the database file at path and its write-ahead log
// (path+"-wal.0" and path+"-wal.1", see kv.OpenBolt). A new file gets the
// schema version stamp, a page-token key and, unless opts.NoDemoThemes, the
// demo themes. A file with an older schema version is migrated, in one
// transaction; one with a newer version is refused.
func Open(path string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	eng, err := kv.OpenBolt(path, allBuckets, kv.BoltOptions{Timeout: opts.Timeout, NoSync: opts.NoSync, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return OpenEngine(eng, opts)
}

// Buckets returns the buckets an Engine given to OpenEngine must be opened
// with.
func Buckets() []kv.Bucket { return slices.Clone(allBuckets) }

// OpenEngine is Open on an engine the caller has opened with the store's
// buckets (Buckets): tests wrap the bbolt engine to inject storage faults.
// The Store owns eng from then on and closes it, also when OpenEngine
// fails. opts.Timeout and opts.NoSync do not apply (they configure
// kv.OpenBolt).
func OpenEngine(eng kv.Engine, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RequestRetention <= 0 {
		opts.RequestRetention = DefaultRequestRetention
	}
	s := &Store{kv: eng, log: opts.Logger, now: opts.Now, requestRetention: opts.RequestRetention, benchmarkWithoutEventLog: opts.BenchmarkWithoutEventLog}
	if err := s.init(!opts.NoDemoThemes); err != nil {
		eng.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(demo bool) error {
	key := make([]byte, 32)
	rand.Read(key)
	err := s.update(context.Background(), func(tx kv.Tx) error {
		v, err := tx.Get(bucketMeta, metaSchemaVersion)
		if err != nil {
			return err
		}
		if v != nil {
			got := readU64(v)
			if got > SchemaVersion {
				return fmt.Errorf("store: the database has schema version %d, newer than this forumd's %d: upgrade forumd", got, SchemaVersion)
			}
			if got < SchemaVersion {
				migrated, err := migrate(tx, got)
				if err != nil {
					return fmt.Errorf("store: migrating from schema version %d: %w", got, err)
				}
				s.log.Info("store: migrated the database", "from_schema", got, "to_schema", SchemaVersion, "records", migrated)
			}
			return nil
		}
		// A new database.
		if err := tx.Put(bucketMeta, metaSchemaVersion, u64(SchemaVersion)); err != nil {
			return err
		}
		if err := tx.Put(bucketMeta, metaPageTokenKey, key); err != nil {
			return err
		}
		if !demo {
			return nil
		}
		now := timestamppb.New(s.now())
		for _, t := range DemoThemes {
			t := proto.CloneOf(t)
			t.CreateTime, t.UpdateTime = now, now
			t.Etag = etag(now)
			if err := putTheme(tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.kv.View(context.Background(), func(tx kv.Tx) error {
		s.tokenKey, err = tx.Get(bucketMeta, metaPageTokenKey)
		if err == nil && len(s.tokenKey) != 32 {
			err = errors.New("store: the page token key is missing")
		}
		return err
	})
}

// Close closes the database after pending writes finish; the event log's
// subscriptions end first.
func (s *Store) Close() error {
	s.feed.close()
	return s.kv.Close()
}

// Err returns nil while the store writes. Once a storage error (a failed
// fsync of the log, a failed checkpoint: a full disk, an I/O error) has
// stopped its engine writing, it returns that error, which wraps
// kv.ErrFailed and the cause (syscall.ENOSPC, syscall.EIO, ...; match them
// with errors.Is) and may name files. Every later write returns it too,
// nothing is acknowledged any more, and reads go on answering from what
// was durable. It stays so until the database is reopened, which recovers
// every acknowledged write.
func (s *Store) Err() error { return s.kv.Err() }

// Failed returns a channel that is closed when a storage error stops the
// store writing, that is when Err becomes non-nil. It is never closed
// otherwise, not even by Close.
func (s *Store) Failed() <-chan struct{} { return s.kv.Failed() }

// Stats returns the storage engine's write counters (see kv.Stats).
func (s *Store) Stats() kv.Stats { return s.kv.Stats() }

// Check verifies the database file's internal consistency.
func (s *Store) Check(ctx context.Context) error { return s.kv.Check(ctx) }

// timestamp returns the current time, strictly after prev if prev is set, so
// update times (and the etags made from them) change on every write.
func (s *Store) timestamp(prev *timestamppb.Timestamp) *timestamppb.Timestamp {
	now := s.now()
	if prev != nil && !now.After(prev.AsTime()) {
		now = prev.AsTime().Add(time.Nanosecond)
	}
	return timestamppb.New(now)
}

// etag derives a resource's etag from its update time (AIP-154 quoting).
func etag(updateTime *timestamppb.Timestamp) string {
	return `"` + strconv.FormatInt(updateTime.AsTime().UnixNano(), 36) + `"`
}

// checkEtag returns errs.Aborted if want is set and differs from have.
func checkEtag(field, want, have string) error {
	if want != "" && want != have {
		return fmt.Errorf("%w: %s %s does not match the current %s; read the resource again", errs.Aborted, field, want, have)
	}
	return nil
}

func getProto[M proto.Message](tx kv.Tx, b kv.Bucket, key []byte, m M) (bool, error) {
	v, err := tx.Get(b, key)
	if err != nil || v == nil {
		return false, err
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return false, fmt.Errorf("store: corrupt record in %s: %w", b, err)
	}
	return true, nil
}

func putProto(tx kv.Tx, b kv.Bucket, key []byte, m proto.Message) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("store: marshal %s: %w", b, err)
	}
	return tx.Put(b, key, v)
}

// request identifies a create call for request_id replay (AIP-155): the
// method, the client's request id, a fingerprint of what was asked and when.
type request struct {
	method, id string
	fp         string
	at         int64 // unix ns
}

// newRequest returns the request of a call to method with requestID whose
// input is parts (strings, thread names and proto messages). A thread name
// is hashed as its string, so the fingerprint is the one the string gave.
func (s *Store) newRequest(method, requestID string, parts ...any) request {
	r := request{method: method, id: requestID}
	if requestID == "" {
		return r
	}
	r.at = s.now().UnixNano()
	h := sha256.New()
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			h.Write([]byte(p))
		case resname.Thread:
			var buf [28]byte // threads/ and 20 digits
			name, _ := p.AppendText(buf[:0])
			h.Write(name)
		case proto.Message:
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(p)
			h.Write(b)
		}
		h.Write([]byte{0})
	}
	r.fp = hex.EncodeToString(h.Sum(nil)[:16])
	return r
}

// requestRecord is the value stored under a requestKey: the name of what the
// first call created, its fingerprint and when it was made (unix ns, in
// decimal). Records written before the time was kept have no third part.
type requestRecord struct {
	name, fp string
	at       int64 // 0 if unknown
}

func (r requestRecord) encode() []byte {
	return []byte(r.name + "\x00" + r.fp + "\x00" + strconv.FormatInt(r.at, 10))
}

func decodeRequestRecord(v []byte) requestRecord {
	name, rest, _ := strings.Cut(string(v), "\x00")
	fp, at, _ := strings.Cut(rest, "\x00")
	n, _ := strconv.ParseInt(at, 10, 64)
	return requestRecord{name: name, fp: fp, at: n}
}

// replay looks up a request id. It returns the resource name the first call
// with that id created, or "". Reusing an id for a different request is
// INVALID_ARGUMENT.
func replay(tx kv.Tx, actor authz.Actor, r request) (string, error) {
	if r.id == "" {
		return "", nil
	}
	v, err := tx.Get(bucketRequests, requestKey(actor.User, r.method, r.id))
	if err != nil || v == nil {
		return "", err
	}
	rec := decodeRequestRecord(v)
	if rec.fp != r.fp {
		return "", errs.InvalidField("request_id", "%q was already used for a different request; use a new id for each request", r.id)
	}
	return rec.name, nil
}

// remember records the resource a request id created.
func remember(tx kv.Tx, actor authz.Actor, r request, name string) error {
	if r.id == "" {
		return nil
	}
	return tx.Put(bucketRequests, requestKey(actor.User, r.method, r.id), requestRecord{name: name, fp: r.fp, at: r.at}.encode())
}

// Digest returns a SHA-256 checksum of every key and value in the database,
// bucket by bucket. Two databases with the same logical content have the same
// digest, whatever their file layout; tests use it to prove that a refused
// request wrote nothing.
func (s *Store) Digest(ctx context.Context) (string, error) {
	h := sha256.New()
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		for _, b := range allBuckets {
			h.Write([]byte(b))
			var n [8]byte
			if err := tx.Scan(b, nil, nil, false, func(k, v []byte) bool {
				binary.BigEndian.PutUint64(n[:], uint64(len(k)))
				h.Write(n[:])
				h.Write(k)
				binary.BigEndian.PutUint64(n[:], uint64(len(v)))
				h.Write(n[:])
				h.Write(v)
				return true
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// WriteTo writes a consistent copy of the database file to w while the
// store keeps serving (a hot backup), and returns the bytes written.
func (s *Store) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	return s.kv.WriteTo(ctx, w)
}
