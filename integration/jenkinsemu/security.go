package jenkinsemu

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// crumbField is DefaultCrumbIssuer's request field.
const crumbField = "Jenkins-Crumb"

// principal is who a request acts as.
// name is the user as Jenkins names it in causes: "anonymous" without
// credentials (or without security).
func (p principal) name() string {
	if p.user == "" {
		return "anonymous"
	}
	return p.user
}

type principal struct {
	user      string // "" for anonymous
	viaToken  bool   // API-token Basic auth: no crumb needed
	authError string // bad credentials: 401
}

func (j *Jenkins) securityOn() bool { return j.cfg.User != "" }

// sessionCookieName is JSESSIONID.<instance hash>, as Jetty names it.
func (j *Jenkins) sessionCookieName() string {
	h := sha256.Sum256(j.instanceKey)
	return "JSESSIONID." + hex.EncodeToString(h[:4])
}

// authenticate reads Basic auth or the session cookie.
func (j *Jenkins) authenticateLocked(r *http.Request) principal {
	if user, secret, ok := r.BasicAuth(); ok {
		if !j.securityOn() {
			return principal{user: user}
		}
		if user == j.cfg.User && j.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(j.cfg.Token)) == 1 {
			return principal{user: user, viaToken: true}
		}
		if user == j.cfg.User && j.cfg.Password != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(j.cfg.Password)) == 1 {
			return principal{user: user}
		}
		return principal{authError: "Invalid password/token for user: " + user}
	}
	if c, err := r.Cookie(j.sessionCookieName()); err == nil {
		if user, ok := j.sessions[c.Value]; ok {
			return principal{user: user}
		}
	}
	return principal{}
}

// crumbFor is sha256(user + ";" + session + salt), hex.
func (j *Jenkins) crumbFor(user, session string) string {
	h := sha256.Sum256([]byte(user + ";" + session + string(j.instanceKey)))
	return hex.EncodeToString(h[:])
}

// sessionLocked returns the request's session, creating one (and its
// cookie) when there is none.
func (j *Jenkins) sessionLocked(w http.ResponseWriter, r *http.Request, user string) string {
	if c, err := r.Cookie(j.sessionCookieName()); err == nil {
		if _, ok := j.sessions[c.Value]; ok {
			return c.Value
		}
	}
	id := strings.ToLower(randomHex(13))
	j.sessions[id] = user
	http.SetCookie(w, &http.Cookie{Name: j.sessionCookieName(), Value: id, Path: j.cfg.Prefix + "/", HttpOnly: true})
	return id
}

// crumbOK is CrumbFilter: a POST needs the crumb of its session, unless it
// is authenticated with an API token.
func (j *Jenkins) crumbOKLocked(r *http.Request, p principal) bool {
	if p.viaToken {
		return true
	}
	c, err := r.Cookie(j.sessionCookieName())
	if err != nil {
		return false
	}
	if _, ok := j.sessions[c.Value]; !ok {
		return false
	}
	got := r.Header.Get(crumbField)
	if got == "" {
		got = r.URL.Query().Get(crumbField)
	}
	if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		got = r.PostFormValue(crumbField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(j.crumbFor(p.user, c.Value))) == 1
}
