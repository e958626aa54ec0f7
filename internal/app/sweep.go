package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/forumhq/forum/server/store"
)

// sweeper is the part of *store.Store that sweepLoop uses.
type sweeper interface {
	Sweep(ctx context.Context) (store.SweepResult, error)
	SweepEvents(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// eventSweepBatch is how many events one call of store.SweepEvents (one
// transaction) deletes at most; a sweep calls it until fewer come back.
const eventSweepBatch = 1000

// sweepLoop calls s.Sweep, and deletes the events older than retention
// (s.SweepEvents, in batches until none is left), once at start and then
// every interval until ctx is done, and logs what each sweep deleted. A
// failed sweep is logged and tried again at the next tick.
func sweepLoop(ctx context.Context, s sweeper, interval, retention time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		res, err := s.Sweep(ctx)
		events := 0
		if err == nil {
			events, err = sweepEvents(ctx, s, start.Add(-retention))
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Warn("sweep failed", slog.String("error", err.Error()), slog.Int("events", events))
		default:
			level := slog.LevelDebug
			if res.Sessions+res.Requests+events > 0 {
				level = slog.LevelInfo
			}
			logger.Log(ctx, level, "swept", slog.Int("sessions", res.Sessions), slog.Int("request_ids", res.Requests),
				slog.Int("events", events), slog.Duration("duration", time.Since(start)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepEvents deletes the events committed before cutoff, eventSweepBatch
// at a time, and returns how many it deleted.
func sweepEvents(ctx context.Context, s sweeper, cutoff time.Time) (int, error) {
	total := 0
	for {
		n, err := s.SweepEvents(ctx, cutoff, eventSweepBatch)
		total += n
		if err != nil || n < eventSweepBatch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
