package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// waitDelay is how long a command has to exit after it is interrupted
// before it is killed.
const waitDelay = 10 * time.Second

// lockedWriter serialises writes from the stdout and stderr copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// execute runs argv in dir with env added to the process's environment.
// Its stdout and stderr go to stdout and stderr (when not nil) and both to
// log. It returns the exit status (128+N for a signal N); an error means
// the command could not start or ctx was cancelled.
func execute(ctx context.Context, dir string, argv, env []string, stdout, stderr, log io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	lw := &lockedWriter{w: log}
	cmd.Stdout, cmd.Stderr = tee(stdout, lw), tee(stderr, lw)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], unwrapExec(err))
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", argv[0], err)
	}
	return 0, nil
}

func tee(w io.Writer, log io.Writer) io.Writer {
	if w == nil {
		return log
	}
	return io.MultiWriter(w, log)
}

// unwrapExec drops exec.Error's quoting of the name, which the caller
// already says.
func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}
