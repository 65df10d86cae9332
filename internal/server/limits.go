package server

import (
	"context"
	"time"
)

// A gate bounds how many requests are answered at once. A request that finds
// every slot taken waits up to wait for one, then is refused (429): a short
// queue absorbs bursts, and a long one cannot build up behind a slow table.
type gate struct {
	slots chan struct{}
	wait  time.Duration
}

func newGate(n int, wait time.Duration) *gate {
	return &gate{slots: make(chan struct{}, n), wait: wait}
}

// enter takes a slot, waiting at most g.wait (or until ctx ends); it reports
// whether it got one. Call leave after a successful enter.
func (g *gate) enter(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	if g.wait <= 0 {
		return false
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (g *gate) leave() { <-g.slots }
