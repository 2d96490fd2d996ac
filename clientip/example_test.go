package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/bulwark-go/bulwark/clientip"
)

// Behind a load balancer in 10.0.0.0/8 that appends to X-Forwarded-For.
func Example() {
	res, err := clientip.New(clientip.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Header:         clientip.XForwardedFor,
	})
	if err != nil {
		panic(err) // a configuration error at start-up
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, clientip.FromRequest(r))
	})
	h := res.Handler(app)

	// The client typed "1.1.1.1" itself; the load balancer appended the
	// address it actually saw.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:41000"
	r.Header.Set("X-Forwarded-For", "1.1.1.1, 203.0.113.9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Print(rec.Body)
	// Output: 203.0.113.9
}

// Example_incorrect shows why the leftmost X-Forwarded-For entry must never
// be used: it is whatever the client wrote.
func Example_incorrect() {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:41000" // the attacker, connecting directly
	r.Header.Set("X-Forwarded-For", "127.0.0.1")

	// Wrong: trusting the header from anyone.
	naive := netip.MustParseAddr(r.Header.Get("X-Forwarded-For"))
	// Right: no proxy is trusted, so the header is ignored.
	res, _ := clientip.New(clientip.Config{})
	got, _ := res.Resolve(r)

	fmt.Println("naive:", naive)
	fmt.Println("clientip:", got)
	// Output:
	// naive: 127.0.0.1
	// clientip: 203.0.113.9
}

func ExampleAggregate() {
	// Two addresses one subscriber can rotate between share a /64 key.
	a := clientip.Aggregate(netip.MustParseAddr("2001:db8:1:2::aaaa"), 0)
	b := clientip.Aggregate(netip.MustParseAddr("2001:db8:1:2:ffff::1"), 0)
	fmt.Println(a, a == b)
	fmt.Println(clientip.Aggregate(netip.MustParseAddr("::ffff:192.0.2.1"), 0))
	// Output:
	// 2001:db8:1:2::/64 true
	// 192.0.2.1/32
}

func ExampleNew_errors() {
	_, err := clientip.New(clientip.Config{
		Header:         clientip.Forwarded,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		MaxHops:        100,
	})
	fmt.Println(err)
	// Output:
	// clientip: TrustedProxies "0.0.0.0/0": trusting every address lets any client choose its own address
	// clientip: MaxHops: must be between 1 and 64
}
