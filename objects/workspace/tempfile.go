package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Temporary files of checkout, made with fewer system calls than
// os.CreateTemp: os.OpenFile tries to register every regular file with the
// network poller (three fcntl and a failing epoll_ctl per file), a quarter
// of the system calls of checking out 100,000 small files. os.NewFile on a
// descriptor opened in blocking mode skips that.

var (
	tempSeq    atomic.Uint64
	tempPrefix = sync.OnceValue(func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return checkoutTempPrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:]) + "-"
	})
)

// tempOwnerGone reports whether the checkout temporary named name was
// made by a process that no longer exists on this host (its pid is the
// first field after the prefix): a killed checkout's file, which the next
// scan may remove at once instead of waiting TempAge.
func tempOwnerGone(name string) bool {
	rest, ok := strings.CutPrefix(name, checkoutTempPrefix)
	if !ok {
		return false
	}
	f, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(f)
	if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// createTemp creates a new file named checkoutTempPrefix... in dir with
// mode perm (less the umask), open for writing.
func createTemp(dir string, perm os.FileMode) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, tempPrefix()+strconv.FormatUint(tempSeq.Add(1), 36))
		fd, err := syscall.Open(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == nil {
			return os.NewFile(uintptr(fd), name), nil
		}
		if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EEXIST) && try < 100 {
			continue
		}
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
}

// processUmask returns the process's umask, read once.
var processUmask = sync.OnceValue(readUmask)

// fixMode gives f the mode perm when the umask took bits away from it at
// creation (the tree's mode wins, as it did with os.CreateTemp and chmod).
func fixMode(f *os.File, perm os.FileMode) error {
	if perm&^processUmask() == perm {
		return nil
	}
	return f.Chmod(perm)
}

// readUmask returns the process's umask, read from /proc/self/status;
// where it cannot be read, 0o777, so that fixMode always chmods.
func readUmask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return os.FileMode(m)
			}
		}
	}
	return 0o777
}
