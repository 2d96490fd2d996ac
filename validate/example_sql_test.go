package validate_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/http"

	"github.com/bulwark-go/bulwark/validate"
)

type newUser struct {
	Name  string `json:"name" validate:"required,min=1,max=64"`
	Email string `json:"email" validate:"required,email"`
	Sort  string `json:"sort" validate:"omitempty,oneof=name created"`
}

// createUser does injection defence right: the validated values travel as
// query arguments, never inside the SQL text; the only variable SQL text
// (the sort column) is picked from constants by a switch over a value the
// "oneof" rule already narrowed.
func createUser(db *sql.DB) func(http.ResponseWriter, *http.Request, newUser) {
	return func(w http.ResponseWriter, r *http.Request, u newUser) {
		if _, err := db.ExecContext(r.Context(),
			"INSERT INTO users (name, email) VALUES ($1, $2)", u.Name, u.Email); err != nil {
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		order := "created_at"
		switch u.Sort {
		case "name":
			order = "name"
		}
		if _, err := db.ExecContext(r.Context(),
			"SELECT id FROM users WHERE email = $1 ORDER BY "+order, u.Email); err != nil {
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}
}

// A handler with database/sql that keeps input out of the SQL text. The
// database here is a stand-in that prints what it receives; with a real
// driver the code is the same.
func ExampleDecoder_Handler_parameterizedSQL() {
	v, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	d, err := validate.NewDecoder[newUser](v)
	if err != nil {
		panic(err)
	}
	db := sql.OpenDB(printConnector{})
	defer func() { _ = db.Close() }()
	h := d.Handler(createUser(db))

	send(h, "POST", "/users", `{"name":"Robert'); DROP TABLE users;--","email":"bobby@example.com","sort":"name"}`)
	// Output:
	// exec "INSERT INTO users (name, email) VALUES ($1, $2)" args ["Robert'); DROP TABLE users;--" "bobby@example.com"]
	// exec "SELECT id FROM users WHERE email = $1 ORDER BY name" args ["bobby@example.com"]
	// 201
}

// printConnector is a database/sql driver that prints each statement and
// its arguments, standing in for PostgreSQL without needing one.
type printConnector struct{}

func (printConnector) Connect(context.Context) (driver.Conn, error) { return printConn{}, nil }
func (printConnector) Driver() driver.Driver                        { return nil }

type printConn struct{}

func (printConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (printConn) Close() error                        { return nil }
func (printConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }

func (printConn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	fmt.Printf("exec %q args %q\n", query, vals)
	return driver.RowsAffected(1), nil
}
