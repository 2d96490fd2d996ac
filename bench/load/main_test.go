package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestLoadSmall runs the whole load test with tiny bounds, both flood
// paths, and checks that every phase ran and saw only the expected
// statuses (run fails on any other answer). It asserts nothing about
// speed: the figures belong in bench/README.md.
func TestLoadSmall(t *testing.T) {
	for _, via := range []string{"http", "handler"} {
		t.Run(via, func(t *testing.T) {
			var out bytes.Buffer
			o := options{
				rounds: 2, stackRnds: 1, duration: 300 * time.Millisecond, workers: 4, maxReqs: 200,
				flood: 3000, floodTime: 20 * time.Second, sample: 1000, floodVia: via, out: &out,
				failTime: 3 * time.Second, reloads: 4, reloadTime: 3 * time.Second,
			}
			if err := run(context.Background(), o); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			for _, want := range []string{"throughput ratio gateway / bare:", "flood (" + via + ")", "heap from the 2nd sample on",
				"throughput ratio bulwark / server:", "throughput ratio peer / server:",
				"client-visible 5xx", "t3 back in the rotation", "throughput ratio service / bare:", "reload under load"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "the time bound stopped the flood") {
				t.Errorf("the flood of 3000 addresses did not finish in 20 s:\n%s", out.String())
			}
		})
	}
}

// TestLoadFloodWithKey floods with the valid API key: every request goes
// through authentication and the proxy to the upstream, answered 200.
func TestLoadFloodWithKey(t *testing.T) {
	var out bytes.Buffer
	o := options{workers: 4, duration: 300 * time.Millisecond, flood: 2000, floodTime: 20 * time.Second, sample: 1000, floodVia: "http", floodAuth: true, out: &out}
	if err := run(context.Background(), o); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "expecting 200") {
		t.Errorf("flood with the key did not expect 200:\n%s", out.String())
	}
}
