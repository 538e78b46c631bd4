package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// secretFileName is the generated signing secret, kept in the data dir.
const secretFileName = "jwt-secret"

// minProductionSecret is the shortest signing secret production accepts:
// 256 bits, the size of HS256's hash.
const minProductionSecret = 32

// signingSecret returns the HMAC key of access tokens: JWT_SECRET's bytes,
// else the contents of JWT_SECRET_FILE, else a secret generated on first
// start and kept in the data dir with mode 0600. In production the secret
// must be configured, and at least 32 bytes long.
func signingSecret(cfg *config) ([]byte, error) {
	key, err := configuredSecret(cfg)
	switch {
	case err != nil:
		return nil, err
	case key == nil && cfg.production():
		return nil, errors.New("APP_ENV=production needs JWT_SECRET or JWT_SECRET_FILE: a generated secret is not shared between instances nor backed up")
	case key == nil:
		return generatedSecret(filepath.Join(cfg.DataDir, secretFileName), newHexSecret)
	case len(key) < minProductionSecret && cfg.production():
		return nil, fmt.Errorf("APP_ENV=production needs a signing secret of at least %d bytes, got %d", minProductionSecret, len(key))
	}
	return key, nil
}

// configuredSecret returns JWT_SECRET or the contents of JWT_SECRET_FILE,
// or nil if neither is set.
func configuredSecret(cfg *config) ([]byte, error) {
	return envOrFile("JWT_SECRET", cfg.JWTSecret, cfg.JWTSecretFile)
}

// envOrFile returns the secret value of the setting name, else the
// contents of the file name_FILE names (its line ending dropped), or nil if
// neither is set. It returns an error if the file cannot be read or holds
// nothing.
func envOrFile(name, value, file string) ([]byte, error) {
	switch {
	case value != "":
		return []byte(value), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read %s_FILE: %w", name, err)
		}
		key := bytes.TrimRight(b, "\r\n")
		if len(key) == 0 {
			return nil, fmt.Errorf("%s_FILE %s is empty", name, file)
		}
		return key, nil
	}
	return nil, nil
}

// newHexSecret returns 256 random bits, hex-encoded.
func newHexSecret() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate signing secret: %w", err)
	}
	return hex.EncodeToString(raw), nil
}

// generatedSecret reads the secret at path, creating it with generate if it
// does not exist.
func generatedSecret(path string, generate func() (string, error)) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if key := bytes.TrimSpace(b); len(key) > 0 {
			return key, nil
		}
		return nil, fmt.Errorf("secret %s is empty", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	secret, err := generate()
	if err != nil {
		return nil, err
	}
	key := []byte(secret)
	// Write a temporary file, then link it into place: of two processes
	// starting at once, one links and the other reads the winner's secret.
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(key, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write secret %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return generatedSecret(path, generate)
	} else if err != nil {
		return nil, fmt.Errorf("save secret %s: %w", path, err)
	}
	return key, nil
}
