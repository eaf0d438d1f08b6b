package sqlstore

import (
	"context"
	"sync"
	"time"
)

// Notifier tells the waiters of the event feed that events may have become visible: at once when
// this process commits a transaction that appended events (the engine calls Wake), and, for
// commits of other processes on the same database, when a poll of the feed's head sees it move.
// The poll runs only while someone waits.
type Notifier struct {
	every time.Duration
	head  func(ctx context.Context) (any, error)

	mu       sync.Mutex
	ch       chan struct{}
	watchers int
	start    sync.Once
	started  bool
	closing  sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// NewNotifier makes a notifier that polls head every interval while someone waits; head returns a
// comparable value that changes when events commit (see Tx.EventHead).
func NewNotifier(every time.Duration, head func(ctx context.Context) (any, error)) *Notifier {
	return &Notifier{every: every, head: head, ch: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
}

// Wake wakes every waiter.
func (n *Notifier) Wake() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// Watch registers a waiter until ctx ends and returns what it waits on: the channel that the
// next change closes. A waiter takes the channel before it reads the feed, so a commit between
// the read and the wait is not missed.
func (n *Notifier) Watch(ctx context.Context) func() <-chan struct{} {
	n.start.Do(func() {
		n.mu.Lock()
		n.started = true
		n.mu.Unlock()
		go n.poll()
	})
	n.mu.Lock()
	n.watchers++
	n.mu.Unlock()
	context.AfterFunc(ctx, func() {
		n.mu.Lock()
		n.watchers--
		n.mu.Unlock()
	})
	return func() <-chan struct{} {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.ch
	}
}

func (n *Notifier) poll() {
	defer close(n.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.quit
		cancel()
	}()
	t := time.NewTicker(n.every)
	defer t.Stop()
	var last any
	known := false
	for {
		select {
		case <-n.quit:
			return
		case <-t.C:
		}
		n.mu.Lock()
		idle := n.watchers == 0
		n.mu.Unlock()
		if idle {
			continue // the head last seen stays: a change while idle wakes the next waiter
		}
		h, err := n.head(ctx)
		if err != nil {
			continue // the next tick tries again; a waiter's own read reports a broken database
		}
		if known && h != last {
			n.Wake()
		}
		last, known = h, true
	}
}

// Close stops the poll.
func (n *Notifier) Close() {
	n.closing.Do(func() {
		close(n.quit)
		n.mu.Lock()
		started := n.started
		n.mu.Unlock()
		if started {
			<-n.done
		}
	})
}
