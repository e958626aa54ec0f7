package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// noStaleReads runs four readers that call allowed in a loop while change
// runs, and fails the test with what if allowed still reports true in a
// call that started after change returned: the check of a cache that must
// never answer from before a change.
func noStaleReads(t *testing.T, change func(), allowed func() bool, what string) {
	t.Helper()
	var changed atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := changed.Load()
				if allowed() && after {
					t.Error(what)
					return
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	change()
	changed.Store(true)
	time.Sleep(time.Millisecond)
	close(stop)
	wg.Wait()
}
