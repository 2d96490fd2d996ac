package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwark-go/bulwark/seal"
)

const archiveUsage = `usage: bulwark audit seal   [-keys-file F | -keys-env NAME] FILE   (writes FILE.sealed)
       bulwark audit unseal [-keys-file F | -keys-env NAME] FILE.sealed  (writes the log to stdout)

Encrypts a rotated audit log for archiving with AES-256-GCM (package seal):
an archive copied to a backup or another site is unreadable without the
seal keys, and any change to it is detected when it is unsealed. The file's
name is bound to the ciphertext, so an archive renamed to pass for another
day's does not open. Keys are "id:base64key" lines; the first one seals.
`

// maxArchive bounds what is sealed in one piece (a rotated log).
const maxArchive = 1 << 30

func runArchive(unseal bool, args []string, stdout, stderr io.Writer) int {
	name := "seal"
	if unseal {
		name = "unseal"
	}
	fs := flag.NewFlagSet("bulwark audit "+name, flag.ContinueOnError)
	keysFile := fs.String("keys-file", "", "file holding the seal keys")
	keysEnv := fs.String("keys-env", "", "environment variable holding the seal keys")
	h := sealHelp
	if unseal {
		h = unsealHelp
	}
	if code, ok := parseFlags(fs, args, h, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 || (*keysFile == "") == (*keysEnv == "") {
		fmt.Fprint(stderr, archiveUsage)
		return 2
	}
	text := os.Getenv(*keysEnv)
	if *keysFile != "" {
		b, err := os.ReadFile(*keysFile)
		if err != nil {
			fmt.Fprintf(stderr, "bulwark audit %s: %v\n", name, err)
			return 2
		}
		text = string(b)
	}
	cfg, err := seal.ParseKeys(text)
	if err != nil {
		fmt.Fprintf(stderr, "bulwark audit %s: %v\n", name, err)
		return 2
	}
	ring, err := seal.NewKeyring(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "bulwark audit %s: %v\n", name, err)
		return 2
	}
	defer ring.Close()

	file := fs.Arg(0)
	f, err := os.Open(file) // #nosec G304 -- the operator names the file
	if err != nil {
		fmt.Fprintf(stderr, "bulwark audit %s: %v\n", name, err)
		return 2
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxArchive+1))
	if err != nil || len(data) > maxArchive {
		fmt.Fprintf(stderr, "bulwark audit %s: cannot read %s (at most 1 GiB)\n", name, file)
		return 2
	}
	if !unseal {
		ad := seal.AD("bulwark audit archive", filepath.Base(file))
		out, err := ring.Seal(data, ad)
		if err != nil {
			fmt.Fprintf(stderr, "bulwark audit seal: %v\n", err)
			return 1
		}
		if err := os.WriteFile(file+".sealed", out, 0o600); err != nil { // #nosec G703 -- the operator names the file on the command line
			fmt.Fprintf(stderr, "bulwark audit seal: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s.sealed\n", file)
		return 0
	}
	orig := strings.TrimSuffix(filepath.Base(file), ".sealed")
	plain, err := ring.Open(data, seal.AD("bulwark audit archive", orig))
	if err != nil {
		fmt.Fprintf(stderr, "bulwark audit unseal: %s: %v\n", file, err)
		return 1
	}
	if _, err := stdout.Write(plain); err != nil {
		return 1
	}
	return 0
}
