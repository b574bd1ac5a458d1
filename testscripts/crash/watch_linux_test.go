//go:build linux

package crash

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// inotifyCounter counts events with inotify: each one is seen as it
// happens, so a kill can land right after any single step of dv.
type inotifyCounter struct {
	f    *os.File
	fd   int
	spec watchSpec
	mu   sync.Mutex
	dirs map[int32]string
	n    int
	done chan struct{}
}

const watchMask = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
	syscall.IN_CLOSE_WRITE

func startWatch(spec watchSpec, onEvent func(n int)) (eventCounter, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	w := &inotifyCounter{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, spec: spec,
		dirs: map[int32]string{}, done: make(chan struct{})}
	for _, d := range spec.flat {
		w.add(d)
	}
	for _, t := range spec.allTrees() {
		w.addTree(t)
	}
	go w.loop(onEvent)
	return w, nil
}

func (w *inotifyCounter) add(dir string) {
	wd, err := syscall.InotifyAddWatch(w.fd, dir, watchMask|syscall.IN_ONLYDIR)
	if err == nil {
		w.mu.Lock()
		w.dirs[int32(wd)] = dir
		w.mu.Unlock()
	}
}

// addTree watches dir and the directories below it.
func (w *inotifyCounter) addTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			w.add(p)
		}
		return nil
	})
}

func (w *inotifyCounter) inTree(p string) bool {
	for _, t := range w.spec.allTrees() {
		if p == t || strings.HasPrefix(p, t+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (w *inotifyCounter) loop(onEvent func(n int)) {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return // closed, or the final deadline passed
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := ""
			if ev.Len > 0 {
				raw := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
				name = strings.TrimRight(string(raw), "\x00")
			}
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&syscall.IN_Q_OVERFLOW != 0 || ev.Mask&watchMask == 0 {
				continue
			}
			w.mu.Lock()
			dir := w.dirs[ev.Wd]
			w.n++
			count := w.n
			w.mu.Unlock()
			if ev.Mask&syscall.IN_ISDIR != 0 && ev.Mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0 && dir != "" {
				if p := filepath.Join(dir, name); w.inTree(p) {
					w.addTree(p)
				}
			}
			onEvent(count)
		}
	}
}

// stop reads the events still queued, then closes the watch.
func (w *inotifyCounter) stop() int {
	_ = w.f.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	select {
	case <-w.done:
	case <-time.After(time.Second):
	}
	_ = w.f.Close()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}
