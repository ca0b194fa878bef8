// Package store persists the framework state: a file (write, fsync,
// rename) by default.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
