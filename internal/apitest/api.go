package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"bitgate/ent"
	"bitgate/ent/auditevent"
	"bitgate/ent/lockout"
	"bitgate/internal/account"
	"bitgate/internal/auth"
	"bitgate/internal/auth/authtest"
)

// Selections of the API's types, each written once.
const (
	userFields    = listedUserFields + ` mfaEnabled`
	sessionFields = `accessToken refreshToken tokenType expiresIn mfaRequired user { ` + userFields + ` }`
	bookFields    = `id title author isbn publishedYear createdAt updatedAt`
	noteFields    = `id title content owner { id email } createdAt updatedAt`
	auditFields   = `action userID actorID clientIP requestID detail createdAt`
	liveFields    = `id createdAt lastUsedAt expiresAt userAgent clientIP current`
	pageArgs      = `($first: Int, $after: String, $last: Int, $before: String)`
	pageParams    = `(first: $first, after: $after, last: $last, before: $before)`
	pageInfo      = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`
	nodeFields    = `__typename id ... on Book { title } ... on Note { title owner { id } } ... on User { email } ... on AuditEvent { action }`

	// listedUserFields are a user's fields that any caller who may list
	// users reads; mfaEnabled is for the user themself and ADMINs.
	listedUserFields = `id firstName lastName email emailVerified permissionLevel permissions createdAt updatedAt`
)

// The contract's operations. Their variables: $id (an ID), $in (the
// field's input object), $email and $password (signin, and the email and
// password of requestPasswordReset, resetPassword and
// requestEmailChange), $token (a mailed link's), $refreshToken, $all
// (signout's allSessions), $ids (nodes), and $first, $after, $last,
// $before on lists.
const (
	OpSignUp  = `mutation($in: SignupInput!) { signup(input: $in) { ` + sessionFields + ` } }`
	OpSignIn  = `mutation($email: String!, $password: String!) { signin(email: $email, password: $password) { ` + sessionFields + ` } }`
	OpRefresh = `mutation($refreshToken: String!) { refresh(refreshToken: $refreshToken) { ` + sessionFields + ` } }`
	OpSignOut = `mutation($all: Boolean) { signout(allSessions: $all) }`

	OpSessions      = `{ sessions { ` + liveFields + ` } }`
	OpUserSessions  = `query($id: ID!) { user(id: $id) { sessions { ` + liveFields + ` } } }`
	OpUsersSessions = `query($first: Int) { users(first: $first) { edges { node { id sessions { id } } } } }`
	OpNodesSessions = `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { sessions { id } } } }`
	OpRevokeSession = `mutation($id: ID!) { revokeSession(id: $id) }`

	OpMe         = `{ me { ` + userFields + ` } }`
	OpUser       = `query($id: ID!) { user(id: $id) { ` + userFields + ` } }`
	OpUsers      = `query` + pageArgs + ` { users` + pageParams + ` { ` + pageInfo + ` edges { cursor node { ` + listedUserFields + ` } } } }`
	OpCreateUser = `mutation($in: CreateUserInput!) { createUser(input: $in) { ` + userFields + ` } }`
	OpUpdateUser = `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { ` + userFields + ` } }`
	OpDeleteUser = `mutation($id: ID!) { deleteUser(id: $id) }`

	OpBook       = `query($id: ID!) { book(id: $id) { ` + bookFields + ` } }`
	OpBooks      = `query` + pageArgs + ` { books` + pageParams + ` { ` + pageInfo + ` edges { cursor node { ` + bookFields + ` } } } }`
	OpCreateBook = `mutation($in: CreateBookInput!) { createBook(input: $in) { ` + bookFields + ` } }`
	OpUpdateBook = `mutation($id: ID!, $in: UpdateBookInput!) { updateBook(id: $id, input: $in) { ` + bookFields + ` } }`
	OpDeleteBook = `mutation($id: ID!) { deleteBook(id: $id) }`

	OpNote       = `query($id: ID!) { note(id: $id) { ` + noteFields + ` } }`
	OpNotes      = `query` + pageArgs + ` { notes` + pageParams + ` { ` + pageInfo + ` edges { cursor node { ` + noteFields + ` } } } }`
	OpCreateNote = `mutation($in: CreateNoteInput!) { createNote(input: $in) { ` + noteFields + ` } }`
	OpUpdateNote = `mutation($id: ID!, $in: UpdateNoteInput!) { updateNote(id: $id, input: $in) { ` + noteFields + ` } }`
	OpDeleteNote = `mutation($id: ID!) { deleteNote(id: $id) }`

	OpNode  = `query($id: ID!) { node(id: $id) { ` + nodeFields + ` } }`
	OpNodes = `query($ids: [ID!]!) { nodes(ids: $ids) { ` + nodeFields + ` } }`

	OpAuditEvents = `query` + pageArgs + ` { auditEvents` + pageParams + ` { ` + pageInfo + ` edges { cursor node { ` + auditFields + ` } } } }`

	OpRequestEmailVerification = `mutation { requestEmailVerification }`
	OpVerifyEmail              = `mutation($token: String!) { verifyEmail(token: $token) { ` + userFields + ` } }`
	OpRequestPasswordReset     = `mutation($email: String!) { requestPasswordReset(email: $email) }`
	OpResetPassword            = `mutation($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) { ` + sessionFields + ` } }`
	OpRequestEmailChange       = `mutation($email: String!, $password: String!) { requestEmailChange(newEmail: $email, currentPassword: $password) }`
	OpConfirmEmailChange       = `mutation($token: String!) { confirmEmailChange(token: $token) { ` + userFields + ` } }`
)

// Permission bits of the contract.
const (
	Free  = account.PermFree
	Paid  = account.PermPaid
	Admin = account.PermAdmin
)

// Permissions are the contract's permission names and their bits.
var Permissions = map[string]int{"FREE": Free, "PAID": Paid, "ADMIN": Admin}

// Password is the password of every user the helpers make.
const Password = "correct horse battery"

// WrongPassword is a password no user the helpers make has.
const WrongPassword = "not the password at all"

// User is a User as the API answers it.
type User struct {
	ID              string    `json:"id"`
	FirstName       string    `json:"firstName"`
	LastName        string    `json:"lastName"`
	Email           string    `json:"email"`
	EmailVerified   bool      `json:"emailVerified"`
	PermissionLevel int       `json:"permissionLevel"`
	Permissions     []string  `json:"permissions"`
	MFAEnabled      bool      `json:"mfaEnabled"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// AuthPayload is an AuthPayload as the API answers it: a signed-in user
// and their tokens.
type AuthPayload struct {
	Token        string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	// MFARequired says that the session waits for its second factor.
	MFARequired bool `json:"mfaRequired"`
	User        `json:"user"`
}

// Session is a Session (one sign-in and its refreshes) as the API answers
// it.
type Session struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  string    `json:"userAgent"`
	ClientIP   string    `json:"clientIP"`
	Current    bool      `json:"current"`
}

// Book is a Book as the API answers it.
type Book struct {
	ID            string    `json:"id"`
	Title         string    `json:"title"`
	Author        string    `json:"author"`
	Isbn          *string   `json:"isbn"`
	PublishedYear *int      `json:"publishedYear"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Note is a Note as the API answers it.
type Note struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Content string `json:"content"`
	Owner   struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"owner"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// AuditEvent is an AuditEvent as the API answers it.
type AuditEvent struct {
	Action    string    `json:"action"`
	UserID    *string   `json:"userID"`
	ActorID   *string   `json:"actorID"`
	ClientIP  string    `json:"clientIP"`
	RequestID string    `json:"requestID"`
	Detail    string    `json:"detail"`
	CreatedAt time.Time `json:"createdAt"`
}

// Node is what node and nodes answer: any type's id and the field that
// tells it apart.
type Node struct {
	Typename string `json:"__typename"`
	ID       string `json:"id"`
	Title    string `json:"title"`  // Book, Note
	Email    string `json:"email"`  // User
	Action   string `json:"action"` // AuditEvent
	Owner    *struct {
		ID string `json:"id"`
	} `json:"owner"` // Note
}

// Connection is a Relay connection of T as the API answers it.
type Connection[T any] struct {
	TotalCount int `json:"totalCount"`
	Edges      []struct {
		Cursor string `json:"cursor"`
		Node   T      `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
}

// Nodes returns the connection's nodes in order.
func (c Connection[T]) Nodes() []T {
	out := make([]T, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

var unique atomic.Int64

// Unique returns prefix made unique within the test binary.
func Unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, unique.Add(1)) }

// Email returns an email address no other call returns.
func Email() string { return Unique("user") + "@example.com" }

// SignUpInput is signup's input for email with Password.
func SignUpInput(email string) Vars {
	return Vars{"firstName": "Test", "lastName": "User", "email": email, "password": Password}
}

// Credentials are signin's variables.
func Credentials(email, password string) Vars { return Vars{"email": email, "password": password} }

// SignUp signs up a FREE user with a fresh email and Password through the
// API.
func (c *Client) SignUp(t testing.TB) AuthPayload {
	t.Helper()
	return c.SignUpAs(t, Email())
}

// SignUpAs signs up a FREE user with email and Password through the API.
func (c *Client) SignUpAs(t testing.TB, email string) AuthPayload {
	t.Helper()
	return Data[AuthPayload](t, c.Do(t, "", OpSignUp, Vars{"in": SignUpInput(email)}), "signup")
}

// SignIn signs in through the API and requires success.
func (c *Client) SignIn(t testing.TB, email, password string) AuthPayload {
	t.Helper()
	return Data[AuthPayload](t, c.Do(t, "", OpSignIn, Credentials(email, password)), "signin")
}

// FailSignIn signs in to email n times with WrongPassword, and requires
// each to be UNAUTHENTICATED.
func (c *Client) FailSignIn(t testing.TB, email string, n int) {
	t.Helper()
	for range n {
		RequireCode(t, c.Do(t, "", OpSignIn, Credentials(email, WrongPassword)), "UNAUTHENTICATED")
	}
}

// FailedSignIns returns the stored run of failed sign-ins of email (its
// lockout's count), 0 if none.
func (c *Client) FailedSignIns(t testing.TB, email string) int {
	t.Helper()
	l, err := c.DB.Lockout.Query().Where(lockout.Email(strings.ToLower(email))).Only(context.Background())
	if ent.IsNotFound(err) {
		return 0
	}
	require.NoError(t, err, "load lockout")
	return l.Failures
}

// RequireLocked requires a sign-in of email with password to answer
// RATE_LIMITED within the 15-minute lock, and returns the error.
func (c *Client) RequireLocked(t testing.TB, email, password string) Error {
	t.Helper()
	e := RequireCode(t, c.Do(t, "", OpSignIn, Credentials(email, password)), "RATE_LIMITED")
	require.LessOrEqual(t, e.Extensions["retryAfter"], float64(900), "retryAfter of %+v", e)
	return e
}

// passwordHash is Password's argon2id hash, made once per test binary, so
// that the users NewUser stores cost no hashing of their own.
var passwordHash = sync.OnceValues(func() (string, error) { return auth.HashPassword(Password) })

// NewUser stores a user with a fresh email, Password and permission level
// straight in the database (the API lets nobody choose their own level),
// and signs them in through the API.
func (c *Client) NewUser(t testing.TB, level int) AuthPayload {
	t.Helper()
	hash, err := passwordHash()
	require.NoError(t, err, "hash Password")
	email := Email()
	err = c.DB.User.Create().SetFirstName("Test").SetLastName("User").SetEmail(email).
		SetPasswordHash(hash).SetPermissionLevel(level).Exec(context.Background())
	require.NoError(t, err, "store user %s", email)
	return c.SignIn(t, email, Password)
}

// Refresh rotates refreshToken through the API and requires a new pair.
func (c *Client) Refresh(t testing.TB, refreshToken string) AuthPayload {
	t.Helper()
	s := Data[AuthPayload](t, c.Do(t, "", OpRefresh, Vars{"refreshToken": refreshToken}), "refresh")
	require.NotEmpty(t, s.Token, "refresh without an access token")
	require.NotEmpty(t, s.RefreshToken, "refresh without a refresh token")
	return s
}

// Me asks me with token and requires an answer.
func (c *Client) Me(t testing.TB, token string) User {
	t.Helper()
	me := Data[User](t, c.Do(t, token, OpMe, nil), "me")
	require.NotEmpty(t, me.ID, "me without id")
	return me
}

// Sessions lists the live sessions of token's user through the API.
func (c *Client) Sessions(t testing.TB, token string) []Session {
	t.Helper()
	return Data[[]Session](t, c.Do(t, token, OpSessions, nil), "sessions")
}

// SessionID returns the id of the session s signed in to (its token's sid).
func SessionID(t testing.TB, s AuthPayload) string {
	t.Helper()
	return authtest.ClaimsOf(t, s.Token).SessionID
}

// JWKS fetches /.well-known/jwks.json.
func (c *Client) JWKS(t testing.TB) *Response {
	t.Helper()
	return c.Raw(t, http.MethodGet, "/.well-known/jwks.json", nil, nil)
}

// KeySet fetches the JWKS and decodes it with go-jose, a JOSE library
// other than the one that signs, as another service would.
func (c *Client) KeySet(t testing.TB) jose.JSONWebKeySet {
	t.Helper()
	r := c.JWKS(t)
	require.Equal(t, http.StatusOK, r.Status)
	var set jose.JSONWebKeySet
	require.NoError(t, json.Unmarshal(r.Body, &set), "decode %s", r.Body)
	return set
}

// KIDs returns the kids of a key set, in order: set is a JWKS in JSON, or
// a value that marshals to one (jose.JSONWebKeySet, keys.JWKS).
func KIDs(t testing.TB, set any) []string {
	t.Helper()
	js, ok := set.([]byte)
	if !ok {
		var err error
		js, err = json.Marshal(set)
		require.NoError(t, err, "encode %T", set)
	}
	var kids struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(js, &kids), "decode %s", js)
	var out []string
	for _, k := range kids.Keys {
		out = append(out, k.KID)
	}
	return out
}

// KIDOf returns the kid in the header of token.
func KIDOf(t testing.TB, token string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(token, &auth.Claims{})
	require.NoError(t, err)
	kid, _ := parsed.Header["kid"].(string)
	return kid
}

// Readyz asks /readyz.
func (c *Client) Readyz(t testing.TB) *Response {
	t.Helper()
	return c.Raw(t, http.MethodGet, "/readyz", nil, nil)
}

// RequireServes requires a plain query to answer normally: what a test
// checks after it sent something that might have hurt the server.
func (c *Client) RequireServes(t testing.TB) {
	t.Helper()
	r := c.Do(t, "", OpBook, Vars{"id": uuid.NewString()})
	require.Equal(t, http.StatusOK, r.Status, "follow-up query: %s", r.Body)
	require.Nil(t, Data[*Book](t, r, "book"), "follow-up query: %s", r.Body)
}

// Audited returns how many audit events of action are stored.
func (c *Client) Audited(t testing.TB, action string) int {
	t.Helper()
	n, err := c.DB.AuditEvent.Query().Where(auditevent.Action(action)).Count(context.Background())
	require.NoError(t, err, "count %s events", action)
	return n
}

// AuditDetails returns the details of the audit events of action, oldest
// first.
func (c *Client) AuditDetails(t testing.TB, action string) []string {
	t.Helper()
	details, err := c.DB.AuditEvent.Query().Where(auditevent.Action(action)).
		Order(auditevent.ByID()).Select(auditevent.FieldDetail).Strings(context.Background())
	require.NoError(t, err, "details of %s events", action)
	return details
}

// RequireRefreshRefused requires refreshToken to be refused
// (UNAUTHENTICATED).
func (c *Client) RequireRefreshRefused(t testing.TB, refreshToken string) {
	t.Helper()
	RequireCode(t, c.Do(t, "", OpRefresh, Vars{"refreshToken": refreshToken}), "UNAUTHENTICATED")
}

// RequireEnded requires that neither token of s works any more: the access
// token is UNAUTHENTICATED on me, the refresh token on refresh.
func (c *Client) RequireEnded(t testing.TB, s AuthPayload) {
	t.Helper()
	RequireCode(t, c.Do(t, s.Token, OpMe, nil), "UNAUTHENTICATED")
	c.RequireRefreshRefused(t, s.RefreshToken)
}

// StoreBook stores a book straight in the database, without the API.
func (c *Client) StoreBook(t testing.TB, title string) *ent.Book {
	t.Helper()
	b, err := c.DB.Book.Create().SetTitle(title).SetAuthor("Author").Save(context.Background())
	require.NoError(t, err, "store book")
	return b
}

// StoreNote stores a note of owner (a user id) straight in the database.
func (c *Client) StoreNote(t testing.TB, owner string) *ent.Note {
	t.Helper()
	n, err := c.DB.Note.Create().SetTitle(Unique("note")).SetContent("content").
		SetOwnerID(uuid.MustParse(owner)).Save(context.Background())
	require.NoError(t, err, "store note")
	return n
}

// StoreSession stores a live session of user (an id) straight in the
// database, last used at lastUsed, and returns its id; nobody holds its
// tokens.
func (c *Client) StoreSession(t testing.TB, user string, lastUsed time.Time) string {
	t.Helper()
	s, err := c.DB.Session.Create().SetUserID(uuid.MustParse(user)).SetRefreshHash(Unique("stored session")).
		SetCreatedAt(lastUsed).SetLastUsedAt(lastUsed).SetExpiresAt(c.Clock.Now().Add(time.Hour)).Save(context.Background())
	require.NoError(t, err, "store session")
	return s.ID.String()
}

// StoreUser stores a user with level straight in the database, with an
// unusable password hash (no hashing: fast), so they cannot sign in.
func (c *Client) StoreUser(t testing.TB, level int) *ent.User {
	t.Helper()
	u, err := c.DB.User.Create().SetFirstName("Stored").SetLastName("User").
		SetEmail(Email()).SetPasswordHash("!").SetPermissionLevel(level).Save(context.Background())
	require.NoError(t, err, "store user")
	return u
}
