// Package store persists the framework state: a file (write, fsync,
// rename) by default.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	gproto "github.com/golang/protobuf/proto"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
)

// File keeps the state in dir/state.pb.
type File struct{ dir string }

// NewFile returns a store in dir, creating the directory.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("store: state.dir: required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: state.dir %s: %w", dir, err)
	}
	return &File{dir: dir}, nil
}

func (f *File) path() string { return filepath.Join(f.dir, "state.pb") }

// Load returns the saved state, or nil when there is none yet.
func (f *File) Load() (*proto.State, error) {
	b, err := os.ReadFile(f.path())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	st := &proto.State{}
	if err := gproto.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("store: %s is corrupt: %w", f.path(), err)
	}
	if st.GetSchemaVersion() > 1 {
		return nil, fmt.Errorf("store: %s has schema version %d; this jenkins-mesos reads version 1", f.path(), st.GetSchemaVersion())
	}
	return st, nil
}

// Save writes the state durably: a temporary file, fsync, rename over the
// old one, fsync of the directory.
func (f *File) Save(st *proto.State) error {
	b, err := gproto.Marshal(st)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tmp, err := os.CreateTemp(f.dir, "state-*.tmp")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("store: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path()); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	d, err := os.Open(f.dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// ErrInUse is returned by Lock when another process holds the directory.
var ErrInUse = errors.New("store: state.dir is in use")

// InUseError names the process that holds the directory, as it wrote
// itself into the lock file ("pid 123 on host-a").
type InUseError struct {
	Dir, Holder string
}

func (e *InUseError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another process"
	}
	return fmt.Sprintf("state.dir %s is in use by %s", e.Dir, holder)
}

func (e *InUseError) Unwrap() error { return ErrInUse }

func (f *File) lockPath() string { return filepath.Join(f.dir, "lock") }

// Lock takes the directory for this process until release (or its exit):
// an advisory lock (flock) on dir/lock, which then holds "pid N on HOST".
// A second process on the same directory gets an *InUseError at once.
func (f *File) Lock() (release func(), err error) {
	lf, err := os.OpenFile(f.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(lf)
		lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: f.dir, Holder: holder}
		}
		return nil, fmt.Errorf("store: locking %s: %w", f.lockPath(), err)
	}
	host, _ := os.Hostname()
	if err := lf.Truncate(0); err == nil {
		_, _ = lf.WriteAt([]byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host)), 0)
	}
	return func() {
		_ = lf.Truncate(0)
		_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		lf.Close()
	}, nil
}

// Holder tells whether a process holds the directory's lock, and who it
// says it is; it creates nothing.
func (f *File) Holder() (string, bool) {
	lf, err := os.Open(f.lockPath())
	if err != nil {
		return "", false
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return readHolder(lf), errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return "", false
}

func readHolder(lf *os.File) string {
	b := make([]byte, 256)
	n, _ := lf.ReadAt(b, 0)
	return strings.TrimSpace(string(b[:n]))
}
