package redisstore_test

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// Example wires a Redis store into a ratelimit.Limiter shared by a fleet:
// a per-IP budget that falls back to per-instance limiting when Redis is
// down, and a login limit that fails closed. (It needs a Redis server, so
// it has no output to check.)
func Example() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"127.0.0.1:6379"}, // several addresses: a Cluster
		ContextTimeoutEnabled: true,                       // required: lets Timeout bound each call
		MaxRetries:            -1,                         // fail fast to the policy, no retries
		DialerRetries:         1,
	})
	store, err := redisstore.New(redisstore.Config{
		Client:  client,
		Timeout: 5 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	limiter, err := ratelimit.New(ratelimit.Config{
		Store: store,
		// Every instance must use the same secret hash key, or they would
		// not find each other's keys.
		HashKey: []byte(os.Getenv("RATELIMIT_HASH_KEY")),
		Policies: []ratelimit.Policy{
			{Name: "per-ip", Quota: 100, Period: time.Minute, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}, OnStoreError: ratelimit.FailLocal},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", limiter.Handler(http.NotFoundHandler()))
	_ = http.ListenAndServe(":8080", mux) // #nosec G114 -- an example
}

// ExampleNew_incorrect shows the mistake New refuses: a client that
// ignores context deadlines would hold every request for its ReadTimeout
// (3 s) when Redis stalls, whatever Timeout says.
func ExampleNew_incorrect() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // ContextTimeoutEnabled not set
	defer client.Close()
	_, err := redisstore.New(redisstore.Config{Client: client, Timeout: 5 * time.Millisecond})
	fmt.Println(err)
	// Output:
	// redisstore: Client: the client's options must set ContextTimeoutEnabled, or Timeout cannot bound a call
}
