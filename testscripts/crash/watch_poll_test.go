//go:build !linux

package crash

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// pollCounter counts changes of the watched directories' listings by
// polling (no inotify here): quick steps between two polls are missed.
type pollCounter struct {
	quit chan struct{}
	done chan int
}

func startWatch(spec watchSpec, onEvent func(n int)) (eventCounter, error) {
	w := &pollCounter{quit: make(chan struct{}), done: make(chan int)}
	go func() {
		prev, n := fingerprint(spec), 0
		for {
			select {
			case <-w.quit:
				if fingerprint(spec) != prev {
					n++
				}
				w.done <- n
				return
			default:
			}
			if fp := fingerprint(spec); fp != prev {
				prev = fp
				n++
				onEvent(n)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	return w, nil
}

func (w *pollCounter) stop() int {
	close(w.quit)
	return <-w.done
}

func fingerprint(spec watchSpec) string {
	var b strings.Builder
	for _, d := range spec.flat {
		f, err := os.Open(d)
		if err != nil {
			b.WriteString("!|")
			continue
		}
		names, _ := f.Readdirnames(-1)
		_ = f.Close()
		sort.Strings(names)
		b.WriteString(strings.Join(names, ","))
		b.WriteByte('|')
	}
	for _, t := range spec.allTrees() {
		_ = filepath.WalkDir(t, func(p string, d os.DirEntry, err error) error {
			if err == nil {
				b.WriteString(p)
				b.WriteByte('/')
			}
			return nil
		})
	}
	return b.String()
}
