package main

import (
	"context"
	"crypto/rand"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// pepper reads the API-key pepper from BULWARK_PEPPER. Without it, a random
// one is made: DEVELOPMENT ONLY, since keys then die with the process.
func pepper() []byte {
	if p := os.Getenv("BULWARK_PEPPER"); p != "" {
		return []byte(p)
	}
	log.Print("DEVELOPMENT ONLY: BULWARK_PEPPER is not set; using a random pepper")
	p := make([]byte, 32)
	_, _ = rand.Read(p)
	return p
}

// serve serves h on addr, with timeouts against slow clients (slowloris),
// until SIGINT or SIGTERM, then lets in-flight requests finish.
func serve(addr string, h http.Handler, closeAll func() error) {
	srv := &http.Server{
		Addr: addr, Handler: h, MaxHeaderBytes: 64 << 10,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := make(chan error, 1)
	go func() { failed <- srv.ListenAndServe() }()
	select {
	case err := <-failed:
		log.Fatal(err)
	case <-ctx.Done():
	}
	drain, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := errors.Join(srv.Shutdown(drain), closeAll()); err != nil {
		log.Print(err)
	}
}
