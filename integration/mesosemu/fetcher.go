package mesosemu

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// The Mesos fetcher, as the agent runs it before a container starts
// (src/slave/containerizer/fetcher.cpp, src/launcher/fetcher.cpp; the
// error texts are Mesos' own, capitals included): every
// CommandInfo.URI is put in the sandbox, named by output_file or the
// URI's basename; executable ones are chmod 755, others extracted when
// they look like an archive. Any failure fails the launch:
//
//	TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED,
//	"Failed to launch container: Failed to fetch all URIs for container
//	'<id>': exited with status 1"
//
// with the fetcher's own "Failed to fetch '<uri>': <why>" in the sandbox's
// stderr. Emulated: local paths and file://, http(s)://; not ftp, hdfs or
// s3 (no client here), nor the cache (cache: true fetches directly).

// fetchClient downloads http(s) URIs; a stalled server cannot hold a
// launch forever.
var fetchClient = &http.Client{Timeout: time.Minute}

// validateURIs is Fetcher::fetch's validation before anything runs; its
// failure is "Could not fetch: …".
func validateURIs(uris []mesos.CommandInfo_URI) error {
	for _, u := range uris {
		if _, err := fetcherBasename(u.Value); err != nil {
			return err
		}
		if u.OutputFile != nil {
			f := u.GetOutputFile()
			if f == "" {
				return errors.New("URI output file path is empty")
			}
			if strings.HasPrefix(f, "/") {
				return errors.New("URI output file must be within the sandbox directory")
			}
		}
	}
	return nil
}

// fetcherBasename is Fetcher::basename: URIs are treated as file paths.
func fetcherBasename(uri string) (string, error) {
	if strings.ContainsAny(uri, "\\'\x00") {
		return "", errors.New("Illegal characters in URI")
	}
	if i := strings.Index(uri, "://"); i > 1 {
		p := uri[i+3:]
		slash := strings.IndexByte(p, '/')
		if slash < 0 || len(p) <= slash+1 {
			return "", errors.New("Malformed URI (missing path): " + uri)
		}
		return p[strings.LastIndexByte(p, '/')+1:], nil
	}
	return path.Base(uri), nil
}

// fetchAll fetches every URI into sandbox, writing the fetcher's log to
// log; the error is the first URI's failure.
func fetchAll(sandbox string, uris []mesos.CommandInfo_URI, log io.Writer) error {
	for _, u := range uris {
		dest, err := fetchOne(sandbox, u)
		if err != nil {
			err = fmt.Errorf("Failed to fetch '%s': %v", u.Value, err)
			fmt.Fprintln(log, err)
			return err
		}
		fmt.Fprintf(log, "Fetched '%s' to '%s'\n", u.Value, dest)
	}
	fmt.Fprintf(log, "Successfully fetched all URIs into '%s'\n", sandbox)
	return nil
}

func fetchOne(sandbox string, u mesos.CommandInfo_URI) (string, error) {
	uri := strings.TrimLeft(u.Value, " \t\r\n")
	name, err := fetcherBasename(uri)
	if err != nil {
		return "", err
	}
	if u.OutputFile != nil {
		name = u.GetOutputFile()
	}
	dest := filepath.Join(sandbox, name)
	if !within(sandbox, dest) {
		return "", fmt.Errorf("emulator: output file '%s' leaves the sandbox", name)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("Unable to create subdirectory %s in sandbox: %v", filepath.Dir(name), err)
	}
	if err := download(uri, dest); err != nil {
		return "", err
	}
	if u.GetExecutable() {
		if err := os.Chmod(dest, 0o755); err != nil {
			return "", fmt.Errorf("Failed to chmod executable '%s': %v", dest, err)
		}
		return dest, nil
	}
	if u.Extract == nil || u.GetExtract() { // extract defaults to true
		if err := extract(dest, sandbox); err != nil {
			return "", err
		}
	}
	return dest, nil
}

// download copies a local file (no scheme, or file://) or GETs an
// http(s) URL; any other scheme goes to the Hadoop client, which the
// emulated agent does not have.
func download(uri, dest string) error {
	local, isFile := strings.CutPrefix(uri, "file://")
	if isFile || !strings.Contains(uri, "://") {
		if isFile {
			local = strings.TrimPrefix(local, "localhost")
		}
		if !strings.HasPrefix(local, "/") {
			if isFile {
				return errors.New("File URI only supports absolute paths")
			}
			return errors.New("A relative path was passed for the resource but the Mesos framework home was not specified. Please either provide this config option or avoid using a relative path")
		}
		return copyFile(local, dest)
	}
	if !strings.HasPrefix(uri, "http://") && !strings.HasPrefix(uri, "https://") {
		return errors.New("HDFS copyToLocal failed: emulator: no Hadoop client for " + uri)
	}
	resp, err := fetchClient.Get(uri)
	if err != nil {
		return fmt.Errorf("Error downloading resource: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Error downloading resource, received HTTP return code %d", resp.StatusCode)
	}
	f, err := os.Create(dest)
	if err != nil {
		return fmt.Errorf("Error downloading resource: %v", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("Error downloading resource: %v", err)
	}
	return f.Close()
}

func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dest)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// extract unpacks an archive into dir, as the fetcher's extract() picks
// them by name; anything else stays as fetched.
func extract(file, dir string) error {
	fail := func(err error) error {
		return fmt.Errorf("Failed to extract archive '%s' to '%s': %v", file, dir, err)
	}
	switch {
	case hasSuffix(file, ".tar"):
		return wrap(fail, untar(file, dir, nil))
	case hasSuffix(file, ".tgz", ".tar.gz"):
		return wrap(fail, untar(file, dir, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }))
	case hasSuffix(file, ".tbz2", ".tar.bz2"):
		return wrap(fail, untar(file, dir, func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil }))
	case hasSuffix(file, ".txz", ".tar.xz"):
		return fail(errors.New("emulator: xz archives are not emulated"))
	case hasSuffix(file, ".zip"):
		return wrap(fail, unzip(file, dir))
	case hasSuffix(file, ".gz"):
		if err := gunzip(file, filepath.Join(dir, filepath.Base(strings.TrimSuffix(file, ".gz")))); err != nil {
			return fmt.Errorf("Failed to extract '%s': 'gunzip -d -c' failed: %v", file, err)
		}
	}
	return nil
}

func hasSuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

func wrap(fail func(error) error, err error) error {
	if err != nil {
		return fail(err)
	}
	return nil
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func untar(file, dir string, decompress func(io.Reader) (io.Reader, error)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if decompress != nil {
		if r, err = decompress(f); err != nil {
			return err
		}
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		dest := filepath.Join(dir, h.Name)
		if !within(dir, dest) {
			return fmt.Errorf("entry '%s' leaves the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dest, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeEntry(dest, os.FileMode(h.Mode).Perm(), tr); err != nil {
				return err
			}
		}
	}
}

func unzip(file, dir string) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, e := range zr.File {
		dest := filepath.Join(dir, e.Name)
		if !within(dir, dest) {
			return fmt.Errorf("entry '%s' leaves the directory", e.Name)
		}
		if e.FileInfo().IsDir() {
			if err := os.MkdirAll(dest, 0o755); err != nil {
				return err
			}
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return err
		}
		err = writeEntry(dest, e.Mode().Perm(), rc)
		_ = rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func gunzip(file, dest string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	return writeEntry(dest, 0o644, zr)
}

func writeEntry(dest string, mode os.FileMode, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
