package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"bitgate/internal/apiclient"
	"bitgate/internal/apitest"
)

// bearerDoer sends requests with an access token, as a frontend's HTTP
// link does.
type bearerDoer string

func (token bearerDoer) Do(r *http.Request) (*http.Response, error) {
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+string(token))
	}
	return http.DefaultClient.Do(r)
}

// typedClient is the generated client on c's server, signed in with token.
func typedClient(c *apitest.Client, token string) graphql.Client {
	return graphql.NewClient(c.URL+"/graphql", bearerDoer(token))
}

// requireGraphQLError requires err to be the server's GraphQL error with
// code, and returns it.
func requireGraphQLError(t *testing.T, err error, code string) *gqlerror.Error {
	t.Helper()
	var list gqlerror.List
	require.True(t, errors.As(err, &list), "want a GraphQL error %s, got %v", code, err)
	require.Equal(t, code, list[0].Extensions["code"], "%v", list)
	return list[0]
}

// TestTypedGoClient drives the server with the Go client genqlient
// generates from the schema (internal/apiclient), the way a frontend
// would: sign up, sign in, read every page of books, refresh when the
// access token expires, sign out. The client's types come from the schema
// files, so a schema change that breaks them breaks this build.
func TestTypedGoClient(t *testing.T) {
	t.Parallel()
	c := apitest.New(t)
	ctx := context.Background()
	var titles []string
	for i := range 23 {
		titles = append(titles, c.StoreBook(t, fmt.Sprintf("Book %02d", i)).Title)
	}
	email := apitest.Email()

	up, err := apiclient.Signup(ctx, typedClient(c, ""), apiclient.SignupInput{
		FirstName: "Ada", LastName: "Lovelace", Email: email, Password: apitest.Password,
	})
	require.NoError(t, err)
	require.Equal(t, "Bearer", up.Signup.TokenType)
	require.Equal(t, []apiclient.Permission{apiclient.PermissionFree}, up.Signup.User.Permissions)
	require.WithinDuration(t, c.Clock.Now(), up.Signup.User.CreatedAt, time.Minute, "Time decodes as RFC 3339")

	in, err := apiclient.Signin(ctx, typedClient(c, ""), email, apitest.Password)
	require.NoError(t, err)
	session := in.Signin.Session
	require.Equal(t, up.Signup.User.Id, session.User.Id)
	api := typedClient(c, session.AccessToken)

	var seen []string
	var after *string
	for pages := 1; ; pages++ {
		require.LessOrEqual(t, pages, 3, "more pages than 23 books by 10 need")
		page, err := apiclient.Books(ctx, api, 10, after)
		require.NoError(t, err)
		require.Equal(t, 23, page.Books.TotalCount)
		for _, e := range page.Books.Edges {
			seen = append(seen, e.Node.Title)
		}
		if !page.Books.PageInfo.HasNextPage {
			break
		}
		after = page.Books.PageInfo.EndCursor
	}
	require.Equal(t, titles, seen, "every book once, in order")

	// The access token expires: the server says so, the client refreshes.
	c.Clock.Advance(16 * time.Minute)
	_, err = apiclient.Me(ctx, api)
	require.Equal(t, "TOKEN_EXPIRED", requireGraphQLError(t, err, "UNAUTHENTICATED").Extensions["reason"])
	refreshed, err := apiclient.Refresh(ctx, typedClient(c, ""), session.RefreshToken)
	require.NoError(t, err)
	api = typedClient(c, refreshed.Refresh.AccessToken)
	me, err := apiclient.Me(ctx, api)
	require.NoError(t, err)
	require.Equal(t, session.User.Id, me.Me.Id)

	out, err := apiclient.Signout(ctx, api, nil)
	require.NoError(t, err)
	require.True(t, out.Signout)
	_, err = apiclient.Me(ctx, api)
	require.NotContains(t, requireGraphQLError(t, err, "UNAUTHENTICATED").Extensions, "reason", "a signed-out token is not merely expired")
	_, err = apiclient.Refresh(ctx, typedClient(c, ""), refreshed.Refresh.RefreshToken)
	requireGraphQLError(t, err, "UNAUTHENTICATED")
}
