package seal_test

import (
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/seal"
)

func Example() {
	// In production: seal.ParseKeys(os.Getenv("BULWARK_SEAL_KEYS")) or a
	// key file, never keys in code. Lines are "id:base64key"; the first
	// one seals.
	line, _ := seal.NewKey("2026-11")
	cfg, err := seal.ParseKeys(line)
	if err != nil {
		panic(err)
	}
	keys, err := seal.NewKeyring(cfg)
	if err != nil {
		panic(err)
	}
	defer keys.Close()

	// Bind each value to its table, column and row.
	ad := seal.AD("customers", "phone", "cus_8842")
	stored, _ := keys.SealString("+1 555 0100", ad)

	phone, err := keys.OpenString(stored, ad)
	fmt.Println(phone, err)

	// The same ciphertext copied into another customer's row does not open.
	_, err = keys.OpenString(stored, seal.AD("customers", "phone", "cus_0001"))
	fmt.Println(errors.Is(err, seal.ErrInvalid))
	// Output:
	// +1 555 0100 <nil>
	// true
}
