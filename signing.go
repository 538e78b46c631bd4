package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"bitgate/internal/app"
	"bitgate/internal/keys"
)

// kekFileName is the generated key-encryption key of development, kept in
// the data dir beside the SQLite file.
const kekFileName = "jwt-kek"

// signingConfig reads the keys of cfg.JWTAlg: for HS256 the secret and the
// previous one; for EdDSA the KEK.
func signingConfig(cfg *config, log *slog.Logger) (app.Signing, error) {
	if cfg.JWTAlg == "EdDSA" {
		kek, err := keyEncryptionKey(cfg, log)
		return app.Signing{Alg: "EdDSA", KEK: kek}, err
	}
	secret, err := signingSecret(cfg)
	if err != nil {
		return app.Signing{}, err
	}
	previous, err := previousSecret(cfg)
	if err != nil {
		return app.Signing{}, err
	}
	return app.Signing{Alg: "HS256", Secret: secret, PreviousSecret: previous}, nil
}

// previousSecret returns JWT_SECRET_PREVIOUS or the contents of
// JWT_SECRET_PREVIOUS_FILE, or nil if neither is set. In production it must
// be at least 32 bytes, as JWT_SECRET.
func previousSecret(cfg *config) ([]byte, error) {
	key, err := envOrFile("JWT_SECRET_PREVIOUS", cfg.JWTSecretPrevious, cfg.JWTSecretPreviousFile)
	if err != nil {
		return nil, err
	}
	if key != nil && len(key) < minProductionSecret && cfg.production() {
		return nil, fmt.Errorf("APP_ENV=production needs a previous signing secret of at least %d bytes, got %d", minProductionSecret, len(key))
	}
	return key, nil
}

// keyEncryptionKey returns the KEK of the EdDSA private keys:
// JWT_KEY_ENCRYPTION_KEY, else the contents of JWT_KEY_ENCRYPTION_KEY_FILE
// (32 bytes, base64). Without either, production refuses to start, and
// development generates one and keeps it in the data dir beside the SQLite
// file, with a warning: the private keys are then only as safe as that
// file, and instances on other hosts cannot decrypt them.
func keyEncryptionKey(cfg *config, log *slog.Logger) ([]byte, error) {
	b, err := envOrFile("JWT_KEY_ENCRYPTION_KEY", cfg.KEK, cfg.KEKFile)
	switch {
	case err != nil:
		return nil, err
	case b == nil && cfg.production():
		return nil, errors.New("JWT_ALG=EdDSA in production needs JWT_KEY_ENCRYPTION_KEY or JWT_KEY_ENCRYPTION_KEY_FILE (32 bytes, base64: openssl rand -base64 32)")
	case b == nil:
		path := filepath.Join(cfg.DataDir, kekFileName)
		log.Warn("JWT_KEY_ENCRYPTION_KEY is not set: the signing keys in the database are encrypted with a generated key kept in "+path+
			"; anyone who reads that file and the database can sign tokens, and instances on other hosts cannot use the keys",
			slog.String("file", path))
		if b, err = generatedSecret(path, keys.NewKEK); err != nil {
			return nil, err
		}
	}
	kek, err := keys.ParseKEK(string(b))
	if err != nil {
		return nil, fmt.Errorf("JWT_KEY_ENCRYPTION_KEY: %w", err)
	}
	return kek, nil
}
