package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/stretchr/testify/require"
)

func TestFileStoreRoundTripAndRefusals(t *testing.T) {
	dir := t.TempDir()
	f, err := NewFile(dir)
	require.NoError(t, err)
	st, err := f.Load()
	require.NoError(t, err)
	require.Nil(t, st, "a fresh store has no state")
	require.NoError(t, f.Save(&proto.State{SchemaVersion: 1, FrameworkId: "fw-1", FrameworkName: "jenkins-mesos"}))
	again, err := NewFile(dir)
	require.NoError(t, err)
	st, err = again.Load()
	require.NoError(t, err)
	require.Equal(t, "fw-1", st.GetFrameworkId())
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary file is left behind")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.pb"), []byte{0xff, 0xff, 0xff}, 0o600))
	_, err = again.Load()
	require.ErrorContains(t, err, "corrupt")
	require.NoError(t, f.Save(&proto.State{SchemaVersion: 2}))
	_, err = again.Load()
	require.ErrorContains(t, err, "schema version 2")
	_, err = NewFile("")
	require.ErrorContains(t, err, "state.dir")
}

func TestLockKeepsASecondProcessOut(t *testing.T) {
	dir := t.TempDir()
	f, err := NewFile(dir)
	require.NoError(t, err)
	if _, held := f.Holder(); held {
		t.Fatal("a directory nobody locked is held")
	}
	release, err := f.Lock()
	require.NoError(t, err)
	host, _ := os.Hostname()
	me := fmt.Sprintf("pid %d on %s", os.Getpid(), host)
	holder, held := f.Holder()
	require.True(t, held)
	require.Equal(t, me, holder)

	// A second open of the lock file is what a second process does.
	g, err := NewFile(dir)
	require.NoError(t, err)
	_, err = g.Lock()
	var inUse *InUseError
	require.ErrorAs(t, err, &inUse)
	require.ErrorIs(t, err, ErrInUse)
	require.Equal(t, "state.dir "+dir+" is in use by "+me, err.Error())

	release()
	if _, held := f.Holder(); held {
		t.Fatal("still held after release")
	}
	release2, err := g.Lock()
	require.NoError(t, err, "free again after release")
	release2()
}
