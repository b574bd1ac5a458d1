//go:build linux && !arm

package objects

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing the dirty
// pages of the range, do not wait.
const syncFileRangeWrite = 2

// startWriteback asks the kernel to start writing n bytes of f from off to
// the disk, without waiting; a hint (errors are ignored): durability
// still comes from the fsync that follows.
func startWriteback(f *os.File, off, n int64) {
	c, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = c.Control(func(fd uintptr) {
		_ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	})
}
