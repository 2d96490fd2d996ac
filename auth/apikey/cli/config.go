// Package cli implements `bulwark keys`, the operator's command for API
// keys (create, list, rotate, revoke, delete), as an importable function,
// and the configuration section both that command and the gateway read, so
// that they use the same store, prefix and pepper.
//
// The section sits under auth.api_keys in the gateway's YAML file:
//
//	auth:
//	  api_keys:
//	    store: sqlite:///var/lib/bulwark/keys.db  # or sqlite://keys.db, postgres://user@host/db
//	    prefix: bwk_live                          # the default
//	    header: X-API-Key                         # the default; or Authorization (Bearer)
//	    pepper_env: BULWARK_APIKEY_PEPPER         # the default; or pepper_file: /run/secrets/apikey-pepper
//	    cache_ttl: 10s                            # bound on cross-instance revocation without a channel (at most 5m)
//	    notify: redis://127.0.0.1:6379/0          # optional: how instances hear of changes (see Notify)
//
// Only store is required. Relative paths (a sqlite store, pepper_file) are
// relative to the configuration file's directory. A SQLite store is
// created with mode 0600; a pepper file that group or others may access is
// refused (insecure_pepper_file_permissions: true accepts it). The pepper is never written in the file
// itself: it comes from an environment variable (BULWARK_APIKEY_PEPPER
// unless pepper_env names another) or a file, at least 32 bytes, trailing
// newlines trimmed; make one with `bulwark keys pepper` (32 random bytes in
// base64) or `openssl rand -base64 32`.
package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/redisfeed"
	"github.com/bulwark-go/bulwark/auth/apikey/sqlstore"
	"github.com/bulwark-go/bulwark/internal/duration"
)

// Defaults of [FileConfig], shared with the gateway's configuration.
const (
	DefaultPrefix    = "bwk_live"
	DefaultHeader    = "X-API-Key"
	DefaultPepperEnv = "BULWARK_APIKEY_PEPPER"
)

// FileConfig is the auth.api_keys section of the configuration file.
type FileConfig struct {
	// Store is the store URL: "sqlite://PATH" (also "sqlite:PATH"),
	// "postgres://…" ("postgresql://…"), or "memory" (for tests: keys
	// vanish with the process). Required.
	Store string `yaml:"store"`
	// Prefix of every key, see [apikey.Config.Prefix]. Default bwk_live.
	Prefix string `yaml:"prefix"`
	// PepperEnv names the environment variable holding the pepper.
	// Default BULWARK_APIKEY_PEPPER (unless PepperFile is set).
	PepperEnv string `yaml:"pepper_env"`
	// PepperFile is a file holding the pepper; a relative path is relative
	// to the configuration file's directory. It must not be accessible by
	// group or others (chmod 600, or 400; on Kubernetes, defaultMode: 0400
	// on the secret volume) unless InsecurePepperFilePermissions is set.
	PepperFile string `yaml:"pepper_file"`
	// InsecurePepperFilePermissions accepts a PepperFile that group or
	// others may access. Default false: such a file is refused, since every
	// local user who can read it can check a stolen copy of the store.
	InsecurePepperFilePermissions bool `yaml:"insecure_pepper_file_permissions"`
	// InsecureNoPepper, see [apikey.Config.InsecureNoPepper].
	InsecureNoPepper bool `yaml:"insecure_no_pepper"`
	// Header, see [apikey.Config.Header]. Default X-API-Key.
	Header string `yaml:"header"`
	// InsecureQueryParam, see [apikey.Config.InsecureQueryParam].
	InsecureQueryParam string `yaml:"insecure_query_param"`
	// CacheTTL, see [apikey.Config.CacheTTL]: "10s", "1m", "1d".
	CacheTTL Duration `yaml:"cache_ttl"`
	// CacheSize, see [apikey.Config.CacheSize].
	CacheSize int `yaml:"cache_size"`
	// Notify is how the instances of a fleet hear of keys revoked,
	// rotated, expired or deleted elsewhere (by another instance, or by
	// this command): "" (the default) for the store's own channel
	// (PostgreSQL LISTEN/NOTIFY; SQLite's data_version, read ten times a
	// second; nothing for memory), "redis://…" (or rediss://) for Redis
	// pub/sub, which this command then announces each change on, or
	// "none" for the cache TTL alone. Without a channel, or while it is
	// down, CacheTTL bounds how long a change takes to reach an instance.
	Notify string `yaml:"notify"`

	// Watch, set by the program that serves requests (the gateway, not
	// this command), starts the channel's watcher (see
	// [apikey.Config.Watch]); OnWatch is its [apikey.Config.OnWatch].
	Watch   bool                     `yaml:"-" json:"-"`
	OnWatch func(live bool, e error) `yaml:"-" json:"-"`

	// SealKeysEnv and SealKeysFile name where the seal keys for
	// encrypting owners and metadata at rest are (an environment variable,
	// or a file; seal.ParseKeys's format). Optional. This package only
	// carries them: the program builds the Sealer (see [RunOptions]).
	SealKeysEnv  string `yaml:"seal_keys_env"`
	SealKeysFile string `yaml:"seal_keys_file"`
	// Sealer, set by the program from SealKeysEnv/SealKeysFile, encrypts
	// owners and metadata at rest (see [apikey.Config.Sealer]).
	Sealer apikey.Sealer `yaml:"-"`

	// BaseDir is the directory a relative sqlite path is resolved
	// against: [LoadFile] sets it to the configuration file's directory.
	// Empty means the working directory.
	BaseDir string `yaml:"-"`
}

// Duration is a duration in the configuration file, in Go's syntax with d
// for a day: "10s", "1m", "1h", "1d", "1d12h". Negative values are refused.
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := duration.FromYAML(n)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// LoadFile reads the auth.api_keys section of the YAML file at path.
// Other sections are ignored; unknown fields inside this one are errors.
func LoadFile(path string) (FileConfig, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the configuration file
	if err != nil {
		return FileConfig{}, err
	}
	var doc struct {
		Auth struct {
			APIKeys yaml.Node `yaml:"api_keys"`
		} `yaml:"auth"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return FileConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Auth.APIKeys.Kind == 0 {
		return FileConfig{}, fmt.Errorf("%s: no auth.api_keys section", path)
	}
	// Re-encode the section to decode it strictly.
	sec, err := yaml.Marshal(&doc.Auth.APIKeys)
	if err != nil {
		return FileConfig{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(sec))
	dec.KnownFields(true)
	var fc FileConfig
	if err := dec.Decode(&fc); err != nil {
		return FileConfig{}, fmt.Errorf("%s: auth.api_keys: %w", path, err)
	}
	fc.BaseDir = filepath.Dir(path)
	return fc, nil
}

// pepper reads the pepper from the environment or a file. It returns nil
// only with insecure_no_pepper.
func (fc *FileConfig) pepper() ([]byte, error) {
	switch {
	case fc.PepperEnv != "" && fc.PepperFile != "":
		return nil, &auth.ConfigError{Field: "pepper_env", Reason: "and pepper_file are exclusive"}
	case fc.InsecureNoPepper && (fc.PepperEnv != "" || fc.PepperFile != ""):
		return nil, &auth.ConfigError{Field: "insecure_no_pepper", Reason: "contradicts pepper_env or pepper_file"}
	case fc.InsecureNoPepper:
		return nil, nil
	case fc.InsecurePepperFilePermissions && fc.PepperFile == "":
		return nil, &auth.ConfigError{Field: "insecure_pepper_file_permissions", Reason: "has no meaning without pepper_file"}
	case fc.PepperFile != "":
		return fc.readPepperFile()
	}
	name := fc.PepperEnv
	if name == "" {
		name = DefaultPepperEnv
	}
	v := strings.TrimRight(os.Getenv(name), "\r\n")
	if v == "" {
		return nil, &auth.ConfigError{Field: "pepper_env", Value: name, Reason: "environment variable is not set: the pepper comes from it (or from pepper_file); " + makePepper}
	}
	if len(v) < apikey.MinPepperLen {
		return nil, &auth.ConfigError{Field: "pepper_env", Value: name, Reason: shortPepper}
	}
	return []byte(v), nil
}

// What a missing or short pepper's error says: its format and how to make
// one. The pepper is the text itself; base64 is only a way to write random
// bytes as text.
const (
	makePepper  = "make one with `bulwark keys pepper` or `openssl rand -base64 32`"
	shortPepper = "the pepper must be at least 32 bytes, e.g. 32 random bytes in base64; " + makePepper
)

// readPepperFile reads the pepper file, relative to BaseDir, refusing one
// that group or others may access. The mode is that of the file opened (a
// symbolic link's target), checked on the open file.
func (fc *FileConfig) readPepperFile() ([]byte, error) {
	path := fc.path(fc.PepperFile)
	f, err := os.Open(path) // #nosec G304 -- the operator names the pepper file
	if err != nil {
		return nil, &auth.ConfigError{Field: "pepper_file", Value: fc.PepperFile, Reason: "cannot be read"}
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, &auth.ConfigError{Field: "pepper_file", Value: fc.PepperFile, Reason: "cannot be read"}
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 && !fc.InsecurePepperFilePermissions && runtime.GOOS != "windows" {
		return nil, &auth.ConfigError{Field: "pepper_file", Value: fc.PepperFile, Reason: fmt.Sprintf(
			"is accessible by group or others (mode %04o): chmod 600 it (on Kubernetes, defaultMode: 0400 on the secret volume), or set insecure_pepper_file_permissions", m)}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPepperFile+1))
	if err != nil || len(b) > maxPepperFile {
		return nil, &auth.ConfigError{Field: "pepper_file", Value: fc.PepperFile, Reason: "cannot be read, or longer than 4 KiB"}
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < apikey.MinPepperLen {
		return nil, &auth.ConfigError{Field: "pepper_file", Value: fc.PepperFile, Reason: shortPepper}
	}
	return b, nil
}

// maxPepperFile bounds what is read from a pepper file.
const maxPepperFile = 4 << 10

// path resolves a path of the section against BaseDir.
func (fc *FileConfig) path(p string) string {
	if p == "" || filepath.IsAbs(p) || fc.BaseDir == "" {
		return p
	}
	return filepath.Join(fc.BaseDir, p)
}

// Open opens the store (storeURL overrides fc.Store when not empty) and
// returns the key manager over it, with last-use tracking as configured by
// lastUsed (see [apikey.Config.LastUsedInterval]; the command passes -1).
// Close the returned closer when done: it closes the manager, then the
// database.
func (fc FileConfig) Open(ctx context.Context, storeURL string, lastUsed time.Duration) (*apikey.Keys, io.Closer, error) {
	if storeURL == "" {
		storeURL = fc.Store
	}
	pepper, err := fc.pepper()
	if err != nil {
		return nil, nil, err
	}
	store, db, err := OpenStore(ctx, storeURL, fc.BaseDir)
	if err != nil {
		return nil, nil, err
	}
	watcher, announcer, rc, err := fc.channel(store)
	if err != nil {
		if db != nil {
			_ = db.Close()
		}
		return nil, nil, err
	}
	prefix, header := fc.Prefix, fc.Header
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if header == "" {
		header = DefaultHeader
	}
	k, err := apikey.New(apikey.Config{
		Store: store, Prefix: prefix, Pepper: pepper, InsecureNoPepper: fc.InsecureNoPepper,
		Header: header, InsecureQueryParam: fc.InsecureQueryParam,
		CacheTTL: time.Duration(fc.CacheTTL), CacheSize: fc.CacheSize, LastUsedInterval: lastUsed,
		Sealer: fc.Sealer, Watch: watcher, Announce: announcer, OnWatch: fc.OnWatch,
	})
	if err != nil {
		if db != nil {
			_ = db.Close()
		}
		if rc != nil {
			_ = rc.Close()
		}
		return nil, nil, err
	}
	return k, closer{k, db, rc}, nil
}

// channel builds what Notify names: the watcher (when Watch is set) and
// the announcer, and the Redis client to close.
func (fc *FileConfig) channel(store apikey.Store) (apikey.Watcher, apikey.Announcer, io.Closer, error) {
	switch n := fc.Notify; {
	case n == "none":
		return nil, nil, nil, nil
	case n == "":
		w, ok := store.(apikey.Watcher)
		if !ok || !fc.Watch {
			return nil, nil, nil, nil // memory, or this command: the store's triggers announce
		}
		return w, nil, nil, nil
	case strings.HasPrefix(n, "redis://"), strings.HasPrefix(n, "rediss://"):
		opts, err := redis.ParseURL(n)
		if err != nil {
			return nil, nil, nil, &auth.ConfigError{Field: "notify", Reason: "not a valid redis:// URL"} // it may hold a password: not echoed
		}
		client := redis.NewClient(opts)
		feed, err := redisfeed.New(redisfeed.Config{Client: client})
		if err != nil {
			_ = client.Close()
			return nil, nil, nil, err
		}
		if !fc.Watch {
			return nil, feed, client, nil
		}
		return feed, feed, client, nil
	}
	return nil, nil, nil, &auth.ConfigError{Field: "notify", Reason: "must be none, redis://… or absent (the store's own channel)"}
}

type closer struct {
	k  *apikey.Keys
	db *sql.DB
	rc io.Closer
}

func (c closer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.k.Close(ctx)
	if c.db != nil {
		err = errors.Join(err, c.db.Close())
	}
	if c.rc != nil {
		err = errors.Join(err, c.rc.Close())
	}
	return err
}

// OpenStore opens the store at url: "sqlite://PATH" or "sqlite:PATH"
// (relative to dir when PATH is relative; the file is created if missing,
// with mode 0600, which SQLite gives its -wal and -shm files too; an
// existing file keeps its mode),
// "postgres://…", or "memory". The SQL schema is migrated. The *sql.DB (nil
// for memory) is returned for the caller to close.
func OpenStore(ctx context.Context, url, dir string) (apikey.Store, *sql.DB, error) {
	if url == "memory" || url == "memory:" {
		return apikey.NewMemoryStore(), nil, nil
	}
	db, postgres, err := OpenDB(url, dir)
	if err != nil {
		return nil, nil, err
	}
	dialect := sqlstore.SQLite
	if postgres {
		dialect = sqlstore.Postgres
	}
	s, err := sqlstore.New(ctx, db, dialect)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return s, db, nil
}

// OpenDB opens the SQL database at url, "sqlite://PATH" (as [OpenStore]
// opens it: WAL, a busy timeout, immediate transactions, a new file made
// 0600) or "postgres://…", and reports whether it is PostgreSQL: for the
// other stores that share the database (the gateway's JWT deny-list).
func OpenDB(url, dir string) (*sql.DB, bool, error) {
	var driver, dsn string
	postgres := false
	switch {
	case url == "":
		return nil, false, &auth.ConfigError{Field: "store", Reason: "required"}
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, false, &auth.ConfigError{Field: "store", Value: url, Reason: "want sqlite://PATH, without '?' or '#'"}
		}
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		if err := createPrivate(path); err != nil {
			return nil, false, err
		}
		driver = "sqlite"
		dsn = "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		driver, dsn, postgres = "pgx", url, true
	default:
		return nil, false, &auth.ConfigError{Field: "store", Reason: "want sqlite://PATH, postgres://… or memory"}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, false, err
	}
	return db, postgres, nil
}

// createPrivate creates the SQLite file at path with mode 0600 if it does
// not exist, before SQLite would create it with 0644: the store holds key
// digests, owners and scopes, and SQLite creates its -wal and -shm files
// with the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator names the store
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return f.Close()
}
