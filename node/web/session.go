package web

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// sessionCookie holds a signed-in browser's session ID, never the user's
// token: HttpOnly, SameSite=Strict, Secure behind TLS, Path=/, and a
// Max-Age of the session's absolute lifetime.
const sessionCookie = "nrmnet_session"

// legacyTokenCookie is the cookie earlier versions kept the user's bearer
// token in. It is no longer read; a browser that still sends it is told to
// drop it.
const legacyTokenCookie = "nrmnet_token"

// sessionIDBytes is how much randomness a session ID carries.
const sessionIDBytes = 32

// sessionIDLen is the length of a session ID as the cookie carries it:
// 32 bytes in unpadded base64url.
var sessionIDLen = base64.RawURLEncoding.EncodedLen(sessionIDBytes)

// sessionKey is what the store is keyed by: the SHA-256 of the session ID.
// Looking a session up by the hash, not the ID, means the map's timing can
// say nothing useful about a guessed ID, and the store's memory does not
// hold the IDs the browsers carry.
type sessionKey [sha256.Size]byte

func keyOf(id string) sessionKey { return sha256.Sum256([]byte(id)) }

// session is one signed-in browser: the token it signed in with (checked
// again on every request, so a revoked user is cut at once), when it signed
// in and when it was last used.
type session struct {
	key      sessionKey
	token    string
	created  time.Time
	lastUsed time.Time
}

// sessionStore holds the sessions in memory: they are lost when the node
// restarts, and users then sign in again. It is bounded: at its limit, a
// new session drops the one least recently used. Expired sessions are
// dropped when they are next presented, and all at once by a sweep that a
// sign-in runs when the last was at least sweepEvery ago or the store is
// full.
type sessionStore struct {
	lifetime time.Duration // absolute, from sign-in
	idle     time.Duration // since last use
	max      int
	secure   bool // mark cookies Secure even over plain HTTP (TLS at a proxy)

	mu        sync.Mutex
	byKey     map[sessionKey]*list.Element // of *session
	byUse     *list.List                   // most recently used at the front
	lastSweep time.Time
}

// sweepEvery is how often a sign-in also sweeps out expired sessions.
const sweepEvery = time.Minute

func newSessionStore(lifetime, idle time.Duration, max int, secure bool) *sessionStore {
	return &sessionStore{lifetime: lifetime, idle: idle, max: max, secure: secure, byKey: map[sessionKey]*list.Element{}, byUse: list.New()}
}

// expired says whether se may no longer be used at now: it is older than
// the absolute lifetime, or has been idle for longer than the idle timeout.
func (st *sessionStore) expired(se *session, now time.Time) bool {
	return now.Sub(se.created) > st.lifetime || now.Sub(se.lastUsed) > st.idle
}

// create starts a session for token at now and returns its ID, how many
// expired sessions were swept out and how many live ones were evicted to
// stay within the bound.
func (st *sessionStore) create(token string, now time.Time) (id string, swept, evicted int, err error) {
	raw := make([]byte, sessionIDBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", 0, 0, err
	}
	id = base64.RawURLEncoding.EncodeToString(raw)
	st.mu.Lock()
	defer st.mu.Unlock()
	if now.Sub(st.lastSweep) >= sweepEvery || now.Before(st.lastSweep) || st.byUse.Len() >= st.max {
		swept = st.sweepLocked(now)
		st.lastSweep = now
	}
	for st.byUse.Len() >= st.max {
		st.removeLocked(st.byUse.Back())
		evicted++
	}
	se := &session{key: keyOf(id), token: token, created: now, lastUsed: now}
	st.byKey[se.key] = st.byUse.PushFront(se)
	return id, swept, evicted, nil
}

// use returns the token of the live session id names and marks it used at
// now. An unknown or expired session gives false; an expired one is dropped.
func (st *sessionStore) use(id string, now time.Time) (string, bool) {
	if len(id) != sessionIDLen {
		return "", false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	el, ok := st.byKey[keyOf(id)]
	if !ok {
		return "", false
	}
	se := el.Value.(*session)
	if st.expired(se, now) {
		st.removeLocked(el)
		return "", false
	}
	if now.After(se.lastUsed) {
		se.lastUsed = now
	}
	st.byUse.MoveToFront(el)
	return se.token, true
}

// end drops the session id names, if there is one.
func (st *sessionStore) end(id string) {
	if len(id) != sessionIDLen {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if el, ok := st.byKey[keyOf(id)]; ok {
		st.removeLocked(el)
	}
}

// len is how many sessions the store holds, expired or not.
func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.byUse.Len()
}

func (st *sessionStore) sweepLocked(now time.Time) int {
	n := 0
	for el := st.byUse.Front(); el != nil; {
		next := el.Next()
		if st.expired(el.Value.(*session), now) {
			st.removeLocked(el)
			n++
		}
		el = next
	}
	return n
}

func (st *sessionStore) removeLocked(el *list.Element) {
	se := st.byUse.Remove(el).(*session)
	delete(st.byKey, se.key)
}

// cookieFor is the cookie that carries id for the store's lifetime.
func (st *sessionStore) cookieFor(r *http.Request, id string) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/",
		MaxAge:   int(st.lifetime / time.Second),
		HttpOnly: true, Secure: r.TLS != nil || st.secure, SameSite: http.SameSiteStrictMode,
	}
}

// expiredCookie tells the browser to drop the cookie called name.
func (st *sessionStore) expiredCookie(r *http.Request, name string) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil || st.secure, SameSite: http.SameSiteStrictMode}
}
