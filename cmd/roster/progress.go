package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressBar shows how far a long command is, on stderr: a bar redrawn in place on a terminal,
// a line for each step when it ends otherwise (a log keeps no carriage returns).
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	step  string
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty}
}

// update reports done of total in step; a step's last update has done == total.
func (p *progressBar) update(step string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if step != p.step {
		p.step, p.start = step, now
	}
	finished := done >= total
	if p.tty && (finished || now.Sub(p.last) >= 100*time.Millisecond) {
		p.last = now
		const width = 30
		fill := width
		if total > 0 {
			fill = int(done * width / total)
		}
		fmt.Fprintf(p.w, "\r%-14s [%s%s] %d/%d", step, strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total)
		if finished {
			fmt.Fprintf(p.w, " in %s\n", now.Sub(p.start).Round(time.Millisecond))
		}
		return
	}
	if !p.tty && finished {
		fmt.Fprintf(p.w, "%s: %d rows in %s\n", step, total, now.Sub(p.start).Round(time.Millisecond))
	}
}
