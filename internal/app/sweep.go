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
}

// sweepLoop calls s.Sweep once at start and then every interval until ctx
// is done, and logs what each sweep deleted. A failed sweep is logged and
// tried again at the next tick.
func sweepLoop(ctx context.Context, s sweeper, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		res, err := s.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Warn("sweep failed", slog.String("error", err.Error()))
		default:
			level := slog.LevelDebug
			if res.Sessions+res.Requests > 0 {
				level = slog.LevelInfo
			}
			logger.Log(ctx, level, "swept", slog.Int("sessions", res.Sessions), slog.Int("request_ids", res.Requests),
				slog.Duration("duration", time.Since(start)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
