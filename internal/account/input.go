package account

import (
	"strings"
	"unicode/utf8"

	"bitgate/internal/apperr"
)

// Password length limits of the contract: at least 8 characters, at most
// 1024 bytes (argon2id reads every byte, so the bound caps its input).
const (
	minPasswordChars = 8
	maxPasswordBytes = 1024
	maxNameChars     = 100
)

// SignupInput is the input of signup.
type SignupInput struct {
	FirstName string
	LastName  string
	Email     string
	Password  string
}

// CreateUserInput is the input of createUser.
type CreateUserInput struct {
	FirstName       string
	LastName        string
	Email           string
	Password        string
	PermissionLevel *int
}

// UpdateUserInput is the input of updateUser: nil fields are left alone.
type UpdateUserInput struct {
	FirstName       *string
	LastName        *string
	Email           *string
	Password        *string
	CurrentPassword *string
	PermissionLevel *int
}

// checkPassword enforces the contract's password length on the input field
// named field. Returns BAD_USER_INPUT.
func checkPassword(field, password string) error {
	switch {
	case len(password) > maxPasswordBytes:
		return apperr.Input(field, "password must be at most 1024 bytes")
	case !utf8.ValidString(password):
		return apperr.Input(field, "password must be valid UTF-8")
	case utf8.RuneCountInString(password) < minPasswordChars:
		return apperr.Input(field, "password must be at least 8 characters")
	}
	return nil
}

// cleanName trims a first or last name and checks it is 1 to 100 printable
// characters. Returns BAD_USER_INPUT on field.
func cleanName(field, name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || utf8.RuneCountInString(n) > maxNameChars || !utf8.ValidString(n) ||
		strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", apperr.Input(field, field+" must be 1 to 100 printable characters")
	}
	return n, nil
}

// checkLevel checks that a permission level holds only known bits. Returns
// BAD_USER_INPUT on field "permissionLevel".
func checkLevel(level int) error {
	if level < 0 || level&^permAll != 0 {
		return apperr.Input("permissionLevel", "permissionLevel must combine FREE (1), PAID (4) and ADMIN (2048)")
	}
	return nil
}

// CheckPassword checks a new password against the contract's length rules.
// Returns BAD_USER_INPUT on field "password".
func CheckPassword(password string) error { return checkPassword("password", password) }
