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
		return generatedSecret(filepath.Join(cfg.DataDir, secretFileName))
	case len(key) < minProductionSecret && cfg.production():
		return nil, fmt.Errorf("APP_ENV=production needs a signing secret of at least %d bytes, got %d", minProductionSecret, len(key))
	}
	return key, nil
}

// configuredSecret returns JWT_SECRET or the contents of JWT_SECRET_FILE,
// or nil if neither is set.
func configuredSecret(cfg *config) ([]byte, error) {
	switch {
	case cfg.JWTSecret != "":
		return []byte(cfg.JWTSecret), nil
	case cfg.JWTSecretFile != "":
		b, err := os.ReadFile(cfg.JWTSecretFile)
		if err != nil {
			return nil, fmt.Errorf("read JWT_SECRET_FILE: %w", err)
		}
		key := bytes.TrimRight(b, "\r\n")
		if len(key) == 0 {
			return nil, fmt.Errorf("JWT_SECRET_FILE %s is empty", cfg.JWTSecretFile)
		}
		return key, nil
	}
	return nil, nil
}

// generatedSecret reads the secret at path, creating it (256 random bits,
// hex) if it does not exist.
func generatedSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if key := bytes.TrimSpace(b); len(key) > 0 {
			return key, nil
		}
		return nil, fmt.Errorf("signing secret %s is empty", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read signing secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate signing secret: %w", err)
	}
	key := []byte(hex.EncodeToString(raw))
	// Write a temporary file, then link it into place: of two processes
	// starting at once, one links and the other reads the winner's secret.
	tmp, err := os.CreateTemp(filepath.Dir(path), secretFileName+".*")
	if err != nil {
		return nil, fmt.Errorf("create signing secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(key, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write signing secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return generatedSecret(path)
	} else if err != nil {
		return nil, fmt.Errorf("save signing secret: %w", err)
	}
	return key, nil
}
