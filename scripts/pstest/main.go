// pstest-server runs the Pub/Sub fake of the Go client library (cloud.google.com/go/pubsub/v2/pstest) as a
// standalone gRPC server for Machinery's integration tests: `pstest-server -addr 127.0.0.1:8085`.
// Clients find it through PUBSUB_EMULATOR_HOST. It holds everything in memory and stops on SIGTERM/SIGINT.
//
// One change to the fake's behaviour, towards the real service's: pstest answers a long-poll Pull that
// finds no message only after a fixed 500 ms, and a message published meanwhile waits for the end of that
// wait (its own TODO: "signal when a message arrives"); Pub/Sub answers as soon as a message is there.
// Every test of a Pub/Sub worker paid up to 500 ms per task for it, and as much again to stop a worker, whose
// pull under way is left to finish. So the fake's handlers are served here behind an interceptor that turns
// such a Pull into immediate ones, every 5 ms, for up to 100 ms (the service may hold a pull far longer: a
// consumer must never depend on how long an empty pull takes).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
)

const (
	longPoll  = 100 * time.Millisecond
	pollEvery = 5 * time.Millisecond
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "host:port to listen on")
	addrFile := flag.String("addr-file", "", "if set, write the address actually bound to this file")
	flag.Parse()

	// The fake with its own server on a port nobody is told about; its handlers are served below.
	fake := pstest.NewServerWithAddress("127.0.0.1:0")
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pstest-server:", err)
		os.Exit(1)
	}
	server := grpc.NewServer(grpc.UnaryInterceptor(promptPull))
	pb.RegisterPublisherServer(server, &fake.GServer)
	pb.RegisterSubscriberServer(server, &fake.GServer)
	pb.RegisterSchemaServiceServer(server, &fake.GServer)
	go func() {
		if err := server.Serve(listener); err != nil {
			fmt.Fprintln(os.Stderr, "pstest-server:", err)
			os.Exit(1)
		}
	}()
	bound := listener.Addr().String()
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(bound+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "pstest-server:", err)
			os.Exit(1)
		}
	}
	fmt.Fprintln(os.Stderr, "pstest-server: listening on", bound)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	server.Stop()
	_ = fake.Close()
}

// promptPull answers a long-poll Pull as soon as a message is there (see the notes above); every other
// call goes to the fake unchanged.
func promptPull(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	pull, ok := req.(*pb.PullRequest)
	if !ok || pull.GetReturnImmediately() {
		return handler(ctx, req)
	}
	immediate := &pb.PullRequest{
		Subscription:      pull.GetSubscription(),
		MaxMessages:       pull.GetMaxMessages(),
		ReturnImmediately: true,
	}
	deadline := time.Now().Add(longPoll)
	for {
		resp, err := handler(ctx, immediate)
		if err != nil || len(resp.(*pb.PullResponse).GetReceivedMessages()) > 0 || !time.Now().Before(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}
