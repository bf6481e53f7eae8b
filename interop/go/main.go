// Command machinery-interop drives the real Go Machinery v2 library
// (github.com/RichardKnop/machinery/v2, used as a dependency) so that
// Machinery for Java can be tested against it on the wire: it runs a Go
// worker, sends the integration-suite scenarios the Go way, reads pending
// tasks and results, and runs a small benchmark. See README.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	machinery "github.com/RichardKnop/machinery/v2"
	"github.com/RichardKnop/machinery/v2/tasks"
)

const usage = `usage: machinery-interop <command> [flags]

commands:
  worker   run a Go worker until SIGTERM/SIGINT (prints READY when consuming)
  send     send scenarios the Go way and print JSON results (-scenario, -no-wait)
  pending  print the pending tasks of a queue as JSON (broker.GetPendingTasks)
  result   wait for the result of a task sent by someone else (-uuid)
  bench    enqueue N noop tasks, then drain them with a worker; print one JSON line

Run "machinery-interop <command> -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var code int
	switch cmd {
	case "worker":
		code = cmdWorker(args)
	case "send":
		code = cmdSend(args)
	case "pending":
		code = cmdPending(args)
	case "result":
		code = cmdResult(args)
	case "bench":
		code = cmdBench(args)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", cmd, usage)
		code = 2
	}
	os.Exit(code)
}

func fail(format string, a ...interface{}) int {
	fmt.Fprintf(os.Stderr, "machinery-interop: "+format+"\n", a...)
	return 1
}

// printJSON writes v as one JSON line on stdout.
func printJSON(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "machinery-interop: cannot encode output: %v\n", err)
		return
	}
	os.Stdout.Write(append(b, '\n'))
}

// started is the line -print-starts prints for each task a worker starts.
type started struct {
	UUID    string        `json:"started"`
	Name    string        `json:"name"`
	Headers tasks.Headers `json:"headers"`
}

func cmdWorker(args []string) int {
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	var o options
	addCommonFlags(fs, &o, "machinery_tasks")
	tag := fs.String("tag", "machinery_interop_go", "consumer tag")
	customQueue := fs.String("custom-queue", "", "consume this queue instead of -queue (NewCustomQueueWorker)")
	stopOnEOF := fs.Bool("stop-on-stdin-eof", false, "stop gracefully once stdin is closed (so a worker never outlives the test process that started it)")
	printStarts := fs.Bool("print-starts", false, "print one JSON line {\"started\",\"name\",\"headers\"} on stdout as each task starts (Machinery's pre-task handler)")
	fs.Parse(args)
	o.finish()
	if *stopOnEOF {
		// Java's Process.destroy() sends SIGTERM and then closes stdin. A second
		// SIGTERM makes Machinery quit abruptly: Launch returns while a receive is
		// still open, and on SQS the message that receive brings stays hidden for
		// the visibility timeout. So EOF stops the worker only when no signal came.
		signaled := make(chan os.Signal, 1)
		signal.Notify(signaled, os.Interrupt, syscall.SIGTERM)
		go func() {
			io.Copy(io.Discard, os.Stdin)
			select {
			case <-signaled:
				fmt.Fprintln(os.Stderr, "machinery-interop: stdin closed after a stop signal; already stopping")
			case <-time.After(time.Second):
				fmt.Fprintln(os.Stderr, "machinery-interop: stdin closed; stopping")
				// Machinery's own handler turns this into a graceful quit
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
			}
		}()
	}

	setupLogging(o.verbose, false, func() {
		fmt.Fprintln(os.Stdout, "READY")
		os.Stdout.Sync()
	})
	srv, err := newServer(o.config())
	if err != nil {
		return fail("%v", err)
	}
	var w *machinery.Worker
	if *customQueue != "" {
		w = srv.NewCustomQueueWorker(*tag, o.concurrency, *customQueue)
	} else {
		w = srv.NewWorker(*tag, o.concurrency)
	}
	if *printStarts {
		// Runs right before the task function, after STARTED is stored: one line per run, so a
		// test can count runs (none lost, none twice) and see the headers Go was handed.
		w.SetPreTaskHandler(func(s *tasks.Signature) {
			printJSON(started{UUID: s.UUID, Name: s.Name, Headers: s.Headers})
		})
	}
	// Machinery's worker installs its own SIGINT/SIGTERM handler: the first
	// signal stops consuming and waits for running tasks, then Launch
	// returns ErrWorkerQuitGracefully; a second signal returns at once.
	err = w.Launch()
	switch {
	case err == nil, errors.Is(err, machinery.ErrWorkerQuitGracefully):
		fmt.Fprintln(os.Stderr, "machinery-interop: worker stopped")
		return 0
	case errors.Is(err, machinery.ErrWorkerQuitAbruptly):
		fmt.Fprintln(os.Stderr, "machinery-interop: worker quit abruptly")
		return 130
	default:
		return fail("worker: %v", err)
	}
}

func cmdPending(args []string) int {
	fs := flag.NewFlagSet("pending", flag.ExitOnError)
	var o options
	addCommonFlags(fs, &o, "machinery_tasks")
	fs.Parse(args)
	o.finish()
	setupLogging(o.verbose, false, nil)

	srv, err := newServer(o.config())
	if err != nil {
		return fail("%v", err)
	}
	sigs, err := srv.GetBroker().GetPendingTasks(o.queue)
	if err != nil {
		return fail("GetPendingTasks(%q): %v", o.queue, err)
	}
	if len(sigs) == 0 {
		os.Stdout.WriteString("[]\n")
		return 0
	}
	// The signatures are encoded with encoding/json exactly as Go encodes
	// them on the wire (json.Number values keep their digits).
	printJSON(sigs)
	return 0
}

func cmdResult(args []string) int {
	fs := flag.NewFlagSet("result", flag.ExitOnError)
	var o options
	addCommonFlags(fs, &o, "machinery_tasks")
	uuid := fs.String("uuid", "", "task UUID to wait for (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for SUCCESS/FAILURE")
	fs.Parse(args)
	o.finish()
	if *uuid == "" {
		return fail("result: -uuid is required")
	}
	setupLogging(o.verbose, false, nil)

	srv, err := newServer(o.config())
	if err != nil {
		return fail("%v", err)
	}
	out := waitState(srv.GetBackend(), *uuid, time.Now().Add(*timeout))
	printJSON(out)
	if out.TimedOut {
		return 1
	}
	return 0
}
