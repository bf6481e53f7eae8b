// pstest-server runs the Pub/Sub fake of the Go client library (cloud.google.com/go/pubsub/v2/pstest) as a
// standalone gRPC server for Machinery's integration tests: `pstest-server -addr 127.0.0.1:8085`.
// Clients find it through PUBSUB_EMULATOR_HOST. It holds everything in memory and stops on SIGTERM/SIGINT.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "host:port to listen on")
	addrFile := flag.String("addr-file", "", "if set, write the address actually bound to this file")
	flag.Parse()

	srv := pstest.NewServerWithAddress(*addr)
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(srv.Addr+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "pstest-server:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintln(os.Stderr, "pstest-server: listening on", srv.Addr)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	_ = srv.Close()
}
