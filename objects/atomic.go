package objects

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// commitFile gives the temporary file f the mode perm, syncs and closes it,
// renames it to dir/name and syncs dir, so the file appears whole or not at
// all. On error the temporary file is removed.
func commitFile(f *os.File, dir, name string, perm os.FileMode) error {
	if err := commitFileNoDirSync(f, dir, name, perm); err != nil {
		return err
	}
	return SyncDir(dir)
}

// commitFileNoDirSync is commitFile without the directory's fsync: the
// rename is durable only once the caller syncs dir (packs: once, before
// the index file that names them is written).
func commitFileNoDirSync(f *os.File, dir, name string, perm os.FileMode) error {
	tmp := f.Name()
	err := f.Chmod(perm)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// SyncDir fsyncs a directory so that renames into it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory: the file is replaced whole or not at all.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return commitFile(f, dir, name, perm)
}

// MaxFileSize bounds every pack and index file dv reads whole, local or
// remote: a pack holds at most PackTargetSize plus one object and its
// trailer, an index file the entries of its packs. A larger file is not
// one dv wrote, and is refused before it is held in memory.
const MaxFileSize = 1 << 30

// ReadFileMax reads a whole file of at most max bytes; a larger one is a
// *CorruptError naming it (what says what it should be: "pack", "index").
func ReadFileMax(path, what string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Sized by the file's length (a hint: the file may not be regular, or
	// may change): io.ReadAll alone would grow the buffer step by step,
	// allocating and copying a pack about ten times over.
	hint := int64(0)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		hint = min(fi.Size(), max+1)
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if int64(len(b)) > max {
		return nil, corrupt(what, filepath.Base(path), "larger than %d bytes", max)
	}
	return b, nil
}
