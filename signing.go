package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"bitgate/internal/app"
	"bitgate/internal/keys"
)

// kekFileName is the generated key-encryption key of development, kept in
// the data dir beside the SQLite file.
const kekFileName = "jwt-kek"

// secrets are the keys of access tokens and of the TOTP secrets. The keys themselves are read from
// the environment only, never from flags, so that neither ps nor -h shows
// them; each may be given in a file instead, whose name is no secret.
type secrets struct {
	JWTSecret     string `env:"JWT_SECRET" help:"HMAC key of access tokens (its bytes), instead of -jwt-secret-file or a generated key"`
	JWTSecretFile string `flag:"jwt-secret-file" env:"JWT_SECRET_FILE" help:"file holding the HMAC key of access tokens, when JWT_SECRET (environment only) is not set"`
	// Previous is the HS256 secret JWTSecret replaced.
	Previous     string `env:"JWT_SECRET_PREVIOUS" help:"the HMAC key JWT_SECRET replaced: verifies for one access-token lifetime from the first start with JWT_SECRET"`
	PreviousFile string `flag:"jwt-secret-previous-file" env:"JWT_SECRET_PREVIOUS_FILE" help:"file holding the HMAC key the current one replaced, when JWT_SECRET_PREVIOUS (environment only) is not set"`
	// KEK encrypts the EdDSA private keys in the database.
	KEK     string `env:"JWT_KEY_ENCRYPTION_KEY" help:"with JWT_ALG=EdDSA: 32 bytes, base64, that encrypt the signing keys in the database"`
	KEKFile string `flag:"jwt-key-encryption-key-file" env:"JWT_KEY_ENCRYPTION_KEY_FILE" help:"file holding the key that encrypts the EdDSA keys, when JWT_KEY_ENCRYPTION_KEY (environment only) is not set"`
	// TOTPKey encrypts the users' TOTP secrets in the database.
	TOTPKey     string `env:"TOTP_ENCRYPTION_KEY" help:"32 bytes, base64, that encrypt the users' TOTP secrets in the database (TOTP is off in production without it)"`
	TOTPKeyFile string `flag:"totp-encryption-key-file" env:"TOTP_ENCRYPTION_KEY_FILE" help:"file holding the key that encrypts the TOTP secrets, when TOTP_ENCRYPTION_KEY (environment only) is not set"`
}

// signingConfig returns cfg's signing configuration with the keys of its
// algorithm read: for HS256 the secret and the previous one; for EdDSA the
// KEK.
func signingConfig(cfg *config, log *slog.Logger) (app.Signing, error) {
	sg := cfg.App.Signing
	var err error
	if sg.Alg == "EdDSA" {
		sg.KEK, err = keyEncryptionKey(cfg, log)
		return sg, err
	}
	if sg.Secret, err = signingSecret(cfg); err != nil {
		return app.Signing{}, err
	}
	if sg.PreviousSecret, err = previousSecret(cfg); err != nil {
		return app.Signing{}, err
	}
	return sg, nil
}

// previousSecret returns JWT_SECRET_PREVIOUS or the contents of
// JWT_SECRET_PREVIOUS_FILE, or nil if neither is set. In production it must
// be at least 32 bytes, as JWT_SECRET.
func previousSecret(cfg *config) ([]byte, error) {
	key, err := envOrFile("JWT_SECRET_PREVIOUS", cfg.Secrets.Previous, cfg.Secrets.PreviousFile)
	if err != nil {
		return nil, err
	}
	if key != nil && len(key) < minProductionSecret && cfg.App.Production() {
		return nil, fmt.Errorf("APP_ENV=production needs a previous signing secret of at least %d bytes, got %d", minProductionSecret, len(key))
	}
	return key, nil
}

// totpKeyFileName is the generated key-encryption key of the TOTP secrets
// in development, kept in the data dir beside the SQLite file.
const totpKeyFileName = "totp-kek"

// totpKey returns the key-encryption key of the users' TOTP secrets:
// TOTP_ENCRYPTION_KEY, else the contents of TOTP_ENCRYPTION_KEY_FILE (32
// bytes, base64). It is a key of its own, not the signing keys' KEK, so
// that either can be rotated or leak without the other. Without either,
// production runs with TOTP off (nil; the app refuses that while a user
// has TOTP on), and development generates one and keeps it in the data
// dir beside the SQLite file, with a warning, as it does the signing KEK.
func totpKey(cfg *config, log *slog.Logger) ([]byte, error) {
	return readKEK(cfg, log, kekSetting{
		env: "TOTP_ENCRYPTION_KEY", value: cfg.Secrets.TOTPKey, file: cfg.Secrets.TOTPKeyFile,
		devFile: totpKeyFileName,
		guards:  "the TOTP secrets",
		exposes: "make a user's codes, and instances on other hosts cannot check them",
	})
}

// keyEncryptionKey returns the KEK of the EdDSA private keys:
// JWT_KEY_ENCRYPTION_KEY, else the contents of JWT_KEY_ENCRYPTION_KEY_FILE
// (32 bytes, base64). Without either, production refuses to start, and
// development generates one and keeps it in the data dir beside the SQLite
// file, with a warning: the private keys are then only as safe as that
// file, and instances on other hosts cannot decrypt them.
func keyEncryptionKey(cfg *config, log *slog.Logger) ([]byte, error) {
	return readKEK(cfg, log, kekSetting{
		env: "JWT_KEY_ENCRYPTION_KEY", value: cfg.Secrets.KEK, file: cfg.Secrets.KEKFile,
		devFile:      kekFileName,
		guards:       "the signing keys",
		exposes:      "sign tokens, and instances on other hosts cannot use the keys",
		inProduction: errors.New("JWT_ALG=EdDSA in production needs JWT_KEY_ENCRYPTION_KEY or JWT_KEY_ENCRYPTION_KEY_FILE (32 bytes, base64: openssl rand -base64 32)"),
	})
}

// kekSetting is a key-encryption key's setting, as readKEK reads it.
type kekSetting struct {
	env, value, file string // the setting's name, its value and its _FILE's
	devFile          string // the generated key's file in the data dir, in development
	guards           string // what the key encrypts in the database, for the warning
	exposes          string // what the generated key's file and the database let a reader do, for the warning
	inProduction     error  // the answer in production without the key; nil runs without it
}

// readKEK returns k's key (32 bytes, base64): its value, else the contents
// of its file. Without either, production answers k.inProduction (and a
// nil key), and development generates one and keeps it in the data dir
// beside the SQLite file, with a warning: what it encrypts is then only as
// safe as that file, and instances on other hosts cannot decrypt it.
func readKEK(cfg *config, log *slog.Logger, k kekSetting) ([]byte, error) {
	b, err := envOrFile(k.env, k.value, k.file)
	switch {
	case err != nil:
		return nil, err
	case b == nil && cfg.App.Production():
		return nil, k.inProduction
	case b == nil:
		path := filepath.Join(cfg.DataDir, k.devFile)
		log.Warn(k.env+" is not set: "+k.guards+" in the database are encrypted with a generated key kept in "+path+
			"; anyone who reads that file and the database can "+k.exposes,
			slog.String("file", path))
		if b, err = generatedSecret(path, keys.NewKEK); err != nil {
			return nil, err
		}
	}
	key, err := keys.ParseKEK(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.env, err)
	}
	return key, nil
}

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
	case key == nil && cfg.App.Production():
		return nil, errors.New("APP_ENV=production needs JWT_SECRET or JWT_SECRET_FILE: a generated secret is not shared between instances nor backed up")
	case key == nil:
		return generatedSecret(filepath.Join(cfg.DataDir, secretFileName), newHexSecret)
	case len(key) < minProductionSecret && cfg.App.Production():
		return nil, fmt.Errorf("APP_ENV=production needs a signing secret of at least %d bytes, got %d", minProductionSecret, len(key))
	}
	return key, nil
}

// configuredSecret returns JWT_SECRET or the contents of JWT_SECRET_FILE,
// or nil if neither is set.
func configuredSecret(cfg *config) ([]byte, error) {
	return envOrFile("JWT_SECRET", cfg.Secrets.JWTSecret, cfg.Secrets.JWTSecretFile)
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
