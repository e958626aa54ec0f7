package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/forumhq/forum/server/store/kv"
)

// sweepBatch is how many keys one sweep transaction examines at most, so
// that a sweep never holds the committer (and every writer) for long.
const sweepBatch = 1000

// SweepResult counts what one Sweep deleted.
type SweepResult struct {
	Sessions int // login sessions past their absolute or idle expiry
	Requests int // request_id records older than Options.RequestRetention
}

// Sweep deletes what has outlived its use: login sessions that have expired
// (absolute or idle limit) and request_id records older than the request
// retention. Without it both buckets would grow for as long as the forum
// runs. API tokens are left alone, expired or not: their owners list and
// delete them (ListApiTokens shows the expiry).
//
// Sweep works through the buckets in transactions that each examine at most
// sweepBatch keys, so writers wait at most one such transaction; what is
// written meanwhile is swept next time. A request record from before
// request times were kept is given the current time, so it is forgotten
// one retention period later. forumd runs Sweep periodically.
func (s *Store) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := s.now().UnixNano()
	n, err := s.sweepBucket(ctx, bucketSessions, func(tx kv.Tx, k, v []byte) (bool, error) {
		var r sessionRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return false, fmt.Errorf("store: corrupt session: %w", err)
		}
		if r.Token != 0 || !r.expired(now) {
			return false, nil
		}
		return true, tx.Delete(bucketUserSessions, append(u64(r.User), k...))
	})
	res.Sessions = n
	if err != nil {
		return res, err
	}
	cutoff := now - int64(s.requestRetention)
	res.Requests, err = s.sweepBucket(ctx, bucketRequests, func(tx kv.Tx, k, v []byte) (bool, error) {
		rec := decodeRequestRecord(v)
		if rec.at == 0 {
			rec.at = now
			return false, tx.Put(bucketRequests, k, rec.encode())
		}
		return rec.at < cutoff, nil
	})
	return res, err
}

// sweepBucket calls expired for every key of bucket b, in transactions of at
// most sweepBatch keys, and deletes the keys for which it reports true.
// expired may write other keys (of other buckets, or k itself) in tx. It
// returns how many keys were deleted.
func (s *Store) sweepBucket(ctx context.Context, b kv.Bucket, expired func(tx kv.Tx, k, v []byte) (bool, error)) (int, error) {
	deleted := 0
	var start []byte
	for {
		var n int
		var next []byte
		err := s.update(ctx, func(tx kv.Tx) error {
			// This function may run more than once: start afresh each time.
			n, next = 0, nil
			type entry struct{ k, v []byte }
			var entries []entry
			if err := tx.Scan(b, start, nil, false, func(k, v []byte) bool {
				if len(entries) == sweepBatch {
					next = slices.Clone(k)
					return false
				}
				entries = append(entries, entry{slices.Clone(k), slices.Clone(v)})
				return true
			}); err != nil {
				return err
			}
			for _, e := range entries {
				del, err := expired(tx, e.k, e.v)
				if err != nil {
					return err
				}
				if del {
					if err := tx.Delete(b, e.k); err != nil {
						return err
					}
					n++
				}
			}
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("store: sweep %s: %w", b, err)
		}
		deleted += n
		if next == nil {
			return deleted, nil
		}
		if bytes.Compare(next, start) <= 0 {
			return deleted, fmt.Errorf("store: sweep %s: scan did not advance", b)
		}
		start = next
	}
}
