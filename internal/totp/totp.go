// Package totp makes and checks time-based one-time codes (RFC 6238:
// HMAC-SHA-1, 6 digits, 30-second steps, base32 secrets, the format every
// authenticator app reads) with pquerna/otp, and draws a key's otpauth://
// URI as an SVG QR code that a page can show as it is.
package totp

import (
	"crypto/subtle"
	"fmt"
	"image/color"
	"strings"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Period is the length of a time step.
const Period = 30 * time.Second

// Skew is how many steps either side of the current one a code may be for:
// a phone's clock a little off, or a code typed as it changed.
const Skew = 1

// codeOpts are the parameters of every code: RFC 6238's defaults.
var codeOpts = totp.ValidateOpts{Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Key is a new secret and its otpauth:// URI.
type Key struct {
	// Secret is the shared secret in base32, without padding: what a
	// person types into an authenticator app that cannot scan.
	Secret string
	// URI is the otpauth://totp/… URI an app scans from a QR code.
	URI string
}

// Generate returns a new random 160-bit secret for account (the user's
// email) at issuer (the service's name, shown in the app). It returns an
// error only if reading randomness fails.
func Generate(issuer, account string) (Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account,
		Period: codeOpts.Period, Digits: codeOpts.Digits, Algorithm: codeOpts.Algorithm,
		SecretSize: 20,
	})
	if err != nil {
		return Key{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return Key{Secret: k.Secret(), URI: k.URL()}, nil
}

// Step returns the time step of t: Unix seconds over Period.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code returns the code of secret for the time step step.
func Code(secret string, step int64) (string, error) {
	code, err := totp.GenerateCodeCustom(secret, time.Unix(step*int64(Period/time.Second), 0), codeOpts)
	if err != nil {
		return "", fmt.Errorf("TOTP code: %w", err)
	}
	return code, nil
}

// Match returns the time step, within Skew of now's, whose code of secret
// code is, if that step is later than after (the step of the last code
// accepted: a code is good once, and none older than it). It reports false
// for any other code. It returns an error if secret is not base32.
func Match(secret, code string, now time.Time, after int64) (int64, bool, error) {
	current := Step(now)
	for step := current - Skew; step <= current+Skew; step++ {
		if step <= after {
			continue
		}
		want, err := Code(secret, step)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true, nil
		}
	}
	return 0, false, nil
}

// WellFormed reports whether code has the form of a code: 6 digits.
func WellFormed(code string) bool {
	if len(code) != int(codeOpts.Digits) {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// QRCodeSVG draws text (an otpauth:// URI) as a QR code in an SVG document
// of black squares on white, with the quiet zone the standard asks for,
// scaling to whatever size the page gives it. Returns an error if text is
// too long for a QR code.
func QRCodeSVG(text string) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	const quiet = 4 // modules of white around the code
	b := code.Bounds()
	size := b.Dx() + 2*quiet
	var path strings.Builder
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if code.At(x, y) == color.Black {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+
		`<rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="%s"/></svg>`, size, size, path.String()), nil
}
