// Package mailaddr normalises email addresses, so that addresses a person
// would read as the same become one string, and refuses the addresses that
// could be told apart only by their code points: those holding invisible
// characters, and those mixing scripts within the local part or a domain
// label (a Latin "ops" and one spelt with a Cyrillic "о").
package mailaddr

import (
	"errors"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// MaxLen is the longest normal form accepted, in bytes (RFC 5321's 256-byte
// path less its angle brackets).
const MaxLen = 254

// maxInput bounds the input Normalize reads, so that normalisation, which
// may expand a string, does little work on a hostile one.
const maxInput = 4 * MaxLen

// Reasons Normalize refuses an address.
var (
	ErrForm         = errors.New("email must be one plain address, like name@example.com, of at most 254 bytes")
	ErrInvisible    = errors.New("email must not hold invisible characters or spaces")
	ErrMixedScripts = errors.New("email must not mix scripts, such as Latin and Cyrillic, in its name or in a domain label")
	ErrDomain       = errors.New("email must end in a valid domain name")
)

// domains maps a domain to its ASCII form as UTS #46 and IDNA2008 say for
// lookup (case and width folded, NFC, hyphen, joiner, bidi and length rules
// checked), with RFC 1034's letters, digits and hyphens only.
var domains = idna.New(
	idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true),
	idna.CheckHyphens(true), idna.CheckJoiners(true),
)

// Normalize returns the normal form of an email address: trimmed, in
// Unicode NFKC (so that fullwidth letters, ligatures and decomposed
// accents become their plain forms), lower-cased, and with the domain in
// its ASCII (punycode) form, so that a Unicode domain and its punycode are
// one address and a look-alike domain shows as what it is. Normalising
// twice changes nothing. It returns ErrInvisible for an address holding a
// space, a control, format or private-use character, an unassigned code
// point or a default-ignorable one (zero-width space, joiners, variation
// selectors, Hangul fillers); ErrMixedScripts when the local part or a
// domain label mixes scripts beyond the combinations of UTS #39's highly
// restrictive level (Latin with Han and Japanese kana, Bopomofo or Hangul);
// ErrDomain for a domain that is not a valid internationalised host name
// with at least two labels; and ErrForm for anything else that is not one
// plain address of at most MaxLen bytes.
func Normalize(s string) (string, error) {
	if len(s) > maxInput || !utf8.ValidString(s) {
		return "", ErrForm
	}
	e := norm.NFKC.String(strings.ToLower(norm.NFKC.String(strings.TrimSpace(s))))
	if strings.ContainsFunc(e, invisible) {
		return "", ErrInvisible
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 {
		return "", ErrForm
	}
	local, domain := e[:at], e[at+1:]
	if mixesScripts(local) {
		return "", ErrMixedScripts
	}
	ascii, err := domains.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") {
		return "", ErrDomain
	}
	unicodeForm, err := domains.ToUnicode(ascii)
	if err != nil {
		return "", ErrDomain
	}
	for _, label := range strings.Split(unicodeForm, ".") {
		if mixesScripts(label) {
			return "", ErrMixedScripts
		}
	}
	e = local + "@" + ascii
	if len(e) > MaxLen {
		return "", ErrForm
	}
	if addr, err := mail.ParseAddress(e); err != nil || addr.Address != e || addr.Name != "" {
		return "", ErrForm
	}
	return e, nil
}

// UnicodeDomain returns a normal form with its domain in Unicode (the form
// a person reads), or the address unchanged if its domain is plain ASCII.
func UnicodeDomain(normal string) string {
	at := strings.LastIndexByte(normal, '@')
	if at < 0 {
		return normal
	}
	d, err := domains.ToUnicode(normal[at+1:])
	if err != nil {
		return normal
	}
	return normal[:at+1] + d
}

// invisible reports whether r cannot be seen, or cannot be told from its
// absence: a space, a control, format, private-use, surrogate or
// unassigned code point, or a default-ignorable one.
func invisible(r rune) bool {
	return !unicode.IsGraphic(r) || unicode.IsSpace(r) ||
		unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// allowedScriptSets are the sets of scripts that UTS #39's highly
// restrictive level lets one identifier mix: the writing systems of
// Japanese, Chinese and Korean, each with Latin.
var allowedScriptSets = [][]*unicode.RangeTable{
	{unicode.Latin, unicode.Han, unicode.Hiragana, unicode.Katakana},
	{unicode.Latin, unicode.Han, unicode.Bopomofo},
	{unicode.Latin, unicode.Han, unicode.Hangul},
}

// mixesScripts reports whether s holds characters of more than one script
// (Common and Inherited ones, such as digits, punctuation and combining
// marks, belong to any) in a combination not in allowedScriptSets.
func mixesScripts(s string) bool {
	var scripts []*unicode.RangeTable
	for _, r := range s {
		if slices.ContainsFunc(scripts, func(t *unicode.RangeTable) bool { return unicode.Is(t, r) }) {
			continue // a script already seen: no need to search them all
		}
		t := scriptOf(r)
		if t != nil {
			scripts = append(scripts, t)
		}
	}
	if len(scripts) <= 1 {
		return false
	}
	for _, allowed := range allowedScriptSets {
		if subset(scripts, allowed) {
			return false
		}
	}
	return true
}

// scriptOf returns the script of r, or nil for Common and Inherited.
func scriptOf(r rune) *unicode.RangeTable {
	switch {
	case r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'):
		return unicode.Latin
	case r < utf8.RuneSelf:
		return nil
	}
	for name, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			if name == "Common" || name == "Inherited" {
				return nil
			}
			return t
		}
	}
	return nil
}

// subset reports whether every table of a is in b.
func subset(a, b []*unicode.RangeTable) bool {
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	return true
}
