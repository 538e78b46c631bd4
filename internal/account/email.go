package account

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"bitgate/ent"
	"bitgate/ent/user"
	"bitgate/internal/apperr"
	"bitgate/internal/mailaddr"
)

var errEmailTaken = apperr.New(apperr.Conflict, "email already in use")

// NormalizeEmail returns the normal form of an email, which is what is
// stored and compared (mailaddr.Normalize: trimmed, NFKC, lower-cased, the
// domain in ASCII). Returns BAD_USER_INPUT on field "email", saying why, for
// an address that is not one plain address or that holds invisible
// characters or mixed scripts.
func NormalizeEmail(email string) (string, error) {
	e, err := mailaddr.Normalize(email)
	if err != nil {
		return "", apperr.Input("email", err.Error())
	}
	return e, nil
}

// emailField is NormalizeEmail in the shape of the other field checks.
func emailField(_, email string) (string, error) { return NormalizeEmail(email) }

// storedForms returns the forms under which the address typed as raw
// (whose normal form is normal) may be stored, the one this input reached
// first: raw trimmed and lower-cased, as rows were stored before Unicode
// normalisation; the normal form; and the normal form with its domain in
// Unicode. For a plain ASCII address that is the normal form alone. New
// rows are always stored in the normal form. Older rows are found, not
// rewritten: rewriting needs this Go code rather than SQL, and two older
// rows that now share a normal form, or one that the new rules refuse,
// need a person to decide.
func storedForms(raw, normal string) []string {
	var out []string
	for _, e := range []string{strings.ToLower(strings.TrimSpace(raw)), normal, mailaddr.UnicodeDomain(normal)} {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// userByEmail returns the user that the email typed as raw (normal form
// normal) names, or nil if there is none: of the rows under its
// storedForms, the first. One query, the same as before for a plain ASCII
// address.
func (s *Service) userByEmail(ctx context.Context, raw, normal string) (*ent.User, error) {
	forms := storedForms(raw, normal)
	users, err := s.client.User.Query().Where(user.EmailIn(forms...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load user by email: %w", err)
	}
	for _, e := range forms {
		if i := slices.IndexFunc(users, func(u *ent.User) bool { return u.Email == e }); i >= 0 {
			return users[i], nil
		}
	}
	return nil, nil
}

// checkOlderForms refuses a new email (typed as raw, normal form normal)
// that a row stored before emails were normalised holds in an older form,
// unless that row is the user's own (except); the unique index checks the
// normal form itself. No query for a plain ASCII address. Returns CONFLICT.
func (s *Service) checkOlderForms(ctx context.Context, raw, normal string, except uuid.UUID) error {
	older := slices.DeleteFunc(storedForms(raw, normal), func(e string) bool { return e == normal })
	if len(older) == 0 {
		return nil
	}
	taken, err := s.client.User.Query().Where(user.EmailIn(older...), user.IDNEQ(except)).Exist(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("look up older forms of an email: %w", err)
	case taken:
		return errEmailTaken
	}
	return nil
}
