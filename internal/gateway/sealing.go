package gateway

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/seal"
)

// SealerFor builds the seal key ring named by an api_keys section
// (seal_keys_env or seal_keys_file), which encrypts key owners and
// metadata at rest. This is where apikey and seal meet: neither package
// imports the other.
func SealerFor(fc cli.FileConfig) (apikey.Sealer, error) {
	var text string
	switch {
	case fc.SealKeysEnv != "" && fc.SealKeysFile != "":
		return nil, errors.New("set seal_keys_env or seal_keys_file, not both")
	case fc.SealKeysEnv != "":
		text = os.Getenv(fc.SealKeysEnv)
		if text == "" {
			return nil, errors.New("environment variable " + fc.SealKeysEnv + " is empty")
		}
	case fc.SealKeysFile != "":
		path := fc.SealKeysFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(fc.BaseDir, path)
		}
		b, err := os.ReadFile(path) // #nosec G304 -- the operator's config names the key file
		if err != nil {
			return nil, err
		}
		text = string(b)
	default:
		return nil, nil
	}
	cfg, err := seal.ParseKeys(text)
	if err != nil {
		return nil, err
	}
	return seal.NewKeyring(cfg)
}
