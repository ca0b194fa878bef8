package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// ParseZK reads zk://host:port[,host:port...]/path. Credentials in the
// URL (zk://user:password@…, as Mesos takes them) are refused: they would
// sit in configuration files and logs; they come separately (DialZK).
// Errors show the URL through RedactURL.
func ParseZK(url string) (servers []string, root string, err error) {
	rest, ok := strings.CutPrefix(url, "zk://")
	hosts, p, cut := strings.Cut(rest, "/")
	if strings.Contains(hosts, "@") {
		return nil, "", fmt.Errorf("%q: %w", RedactURL(url), ErrCredentialsInURL)
	}
	if !ok || !cut || hosts == "" || strings.Trim(p, "/") == "" {
		return nil, "", fmt.Errorf("%q: expected zk://host:port[,host:port...]/path", url)
	}
	for _, h := range strings.Split(hosts, ",") {
		if _, port, ok := strings.Cut(h, ":"); !ok || port == "" {
			return nil, "", fmt.Errorf("%q: %q is not host:port", url, h)
		}
	}
	return strings.Split(hosts, ","), "/" + strings.Trim(p, "/"), nil
}

// ErrCredentialsInURL: a zk:// URL carries user:password.
var ErrCredentialsInURL = errors.New("credentials in a zk:// URL are refused (they would show in files and logs); give user:password as a secret instead")

// RedactURL hides the credentials of a URL (zk://user:password@hosts/path,
// http://user:password@host/…): whatever precedes the last @ before the
// path becomes ***. It works on URLs that do not parse, so that an error
// about a malformed URL never shows its password either. A URL without
// credentials comes back unchanged.
func RedactURL(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	hosts, p, slash := strings.Cut(rest, "/")
	i := strings.LastIndex(hosts, "@")
	if i < 0 {
		return url
	}
	out := scheme + "://***" + hosts[i:]
	if slash {
		out += "/" + p
	}
	return out
}

// CheckZKCredentials tells whether creds is ZooKeeper digest credentials,
// user:password; the error never repeats the value.
func CheckZKCredentials(creds string) error {
	if u, p, ok := strings.Cut(creds, ":"); !ok || u == "" || p == "" {
		return fmt.Errorf("expected user:password (ZooKeeper digest credentials)")
	}
	return nil
}

// DialZK opens a ZooKeeper session (the library's own log lines dropped;
// onEvent, when not nil, follows the session) and, with creds
// (user:password), authenticates it with the digest scheme; go-zookeeper
// sends the credentials again after every reconnect.
func DialZK(servers []string, sessionTimeout time.Duration, creds string, onEvent zk.EventCallback) (*zk.Conn, error) {
	conn, _, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(QuietZK{}), zk.WithEventCallback(onEvent)) // a nil callback is never called
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper %v: %w", servers, err)
	}
	if creds != "" {
		if err := conn.AddAuth("digest", []byte(creds)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ZooKeeper %v: digest authentication: %w", servers, err)
		}
	}
	return conn, nil
}

// QuietZK is a go-zookeeper logger that drops the library's own lines
// (every reconnect attempt, at its own format); the callers log what
// matters with their context.
type QuietZK struct{}

func (QuietZK) Printf(string, ...any) {}

// zkDetector finds the leading master the way Mesos publishes it: the
// members of the group are ephemeral sequential json.info_NNNNNNNNNN
// nodes holding MasterInfo JSON, and the lowest sequence leads.
type zkDetector struct {
	conn *zk.Conn
	root string
}

func newZKDetector(servers []string, root, creds string) (*zkDetector, error) {
	conn, err := DialZK(servers, 10*time.Second, creds, nil)
	if err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	return &zkDetector{conn: conn, root: root}, nil
}

func (z *zkDetector) close() { z.conn.Close() }

// leader returns the leader's URL and a channel that is closed when the
// group changes (a new leader may have been elected).
func (z *zkDetector) leader(ctx context.Context) (string, <-chan zk.Event, error) {
	children, _, changed, err := z.conn.ChildrenW(z.root)
	if err != nil {
		return "", nil, fmt.Errorf("driver: ZooKeeper %s: %w", z.root, err)
	}
	var infos []string
	for _, c := range children {
		if strings.HasPrefix(c, "json.info_") {
			infos = append(infos, c)
		}
	}
	if len(infos) == 0 {
		return "", changed, fmt.Errorf("driver: ZooKeeper %s: no master in the group yet", z.root)
	}
	sort.Slice(infos, func(i, j int) bool { return seq(infos[i]) < seq(infos[j]) })
	data, _, err := z.conn.Get(path.Join(z.root, infos[0]))
	if err != nil {
		return "", changed, fmt.Errorf("driver: ZooKeeper %s: %w", infos[0], err)
	}
	var mi mesos.MasterInfo
	if err := json.Unmarshal(data, &mi); err != nil {
		return "", changed, fmt.Errorf("driver: ZooKeeper %s: not MasterInfo JSON: %w", infos[0], err)
	}
	host := mi.GetHostname()
	port := mi.GetPort()
	if a := mi.GetAddress(); a != nil {
		if host == "" {
			host = a.GetHostname()
		}
		if host == "" {
			host = a.GetIP()
		}
		if a.GetPort() != 0 {
			port = uint32(a.GetPort())
		}
	}
	if host == "" || port == 0 {
		return "", changed, fmt.Errorf("driver: ZooKeeper %s: MasterInfo without an address", infos[0])
	}
	return "http://" + host + ":" + strconv.Itoa(int(port)), changed, nil
}

func seq(name string) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(name, "json.info_"), 10, 64)
	return n
}
