package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"bitgate/graph/model"
	"bitgate/internal/account"
)

// permissionBits maps the Permission enum to its bit of permissionLevel.
var permissionBits = map[model.Permission]int{
	model.PermissionFree:  account.PermFree,
	model.PermissionPaid:  account.PermPaid,
	model.PermissionAdmin: account.PermAdmin,
}

// hasPermission implements @hasPermission(level): the caller must be signed
// in (UNAUTHENTICATED), have passed their session's second factor if it
// waits for one (FORBIDDEN, reason MFA_REQUIRED), have a verified email if
// the server requires one (FORBIDDEN, reason EMAIL_NOT_VERIFIED), and hold
// the level's bit or ADMIN now (FORBIDDEN, requiredPermission).
func hasPermission(ctx context.Context, _ any, next graphql.Resolver, level model.Permission) (any, error) {
	if _, err := account.Authorize(ctx, permissionBits[level]); err != nil {
		return nil, err
	}
	return next(ctx)
}

// permissions decodes a permission level into its Permission values.
func permissions(level int) []model.Permission {
	out := []model.Permission{}
	for _, p := range model.AllPermission {
		if level&permissionBits[p] != 0 {
			out = append(out, p)
		}
	}
	return out
}

// holderAnswers are the fields that answer, to whoever called them, the
// user that caller just proved to be, by object and field: an AuthPayload's
// user (signup, signin, refresh, resetPassword, the passkey sign-in and
// the second factor), and what the mailed tokens of verifyEmail and
// confirmEmailChange answer.
var holderAnswers = map[string]map[string]bool{
	"AuthPayload": {"user": true},
	"Mutation":    {"verifyEmail": true, "confirmEmailChange": true},
}

// answersForHolder reports whether the User whose field is being resolved
// is what one of holderAnswers answered: the caller themself, whatever
// token the request carries (none, most often).
func answersForHolder(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Parent == nil || fc.Parent.Field.Field == nil {
		return false
	}
	return holderAnswers[fc.Parent.Object][fc.Parent.Field.Name]
}
