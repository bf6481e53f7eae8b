package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RichardKnop/machinery/v2/tasks"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

type benchOut struct {
	Impl          string  `json:"impl"`
	N             int     `json:"n"`
	Concurrency   int     `json:"concurrency"`
	EnqueuePerS   float64 `json:"enqueue_per_s"`
	DrainPerS     float64 `json:"drain_per_s"`
	EnqueueSecs   float64 `json:"enqueue_s"`
	DrainSecs     float64 `json:"drain_s"`
	Enqueued      int64   `json:"enqueued"`
	Drained       int64   `json:"drained"`
	SendConc      int     `json:"send_concurrency"`
	Broker        string  `json:"broker"`
	Backend       string  `json:"backend"`
	Queue         string  `json:"queue"`
	TimedOut      bool    `json:"timed_out,omitempty"`
	EnqueueErrors int64   `json:"enqueue_errors,omitempty"`
	FirstError    string  `json:"first_error,omitempty"`
	// Latency phase (-latency L): L noop tasks sent one at a time to the
	// running worker; each sample is SendTask start → post-task handler
	// (SUCCESS stored), measured in this process.
	LatencySamples int     `json:"latency_samples,omitempty"`
	LatencyP50Ms   float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99Ms   float64 `json:"latency_p99_ms,omitempty"`
	LatencyMaxMs   float64 `json:"latency_max_ms,omitempty"`
}

// cmdBench: enqueue N noop tasks through server.SendTask (PENDING written
// first, as Go does), then launch a worker and time how long it takes until
// N tasks have been fully processed (the post-task handler runs after the
// SUCCESS state has been stored, so the count is of SUCCESS tasks).
func cmdBench(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	var o options
	addCommonFlags(fs, &o, "machinery_bench")
	n := fs.Int("n", 100000, "number of noop tasks")
	maxSeconds := fs.Int("max-seconds", 300, "overall time bound (enqueue + drain)")
	sendConc := fs.Int("send-concurrency", 1, "goroutines calling SendTask during the enqueue phase")
	purge := fs.Bool("purge", true, "empty the bench queue before enqueueing")
	latency := fs.Int("latency", 0, "after draining, send this many noop tasks one at a time and report send→done latency percentiles")
	fs.Parse(args)
	o.finish()
	bindingKeySet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "binding-key" {
			bindingKeySet = true
		}
	})
	if !bindingKeySet && os.Getenv("AMQP_BINDING_KEY") == "" {
		// keep the bench queue separate from the default task queue on a
		// direct exchange: route and bind with the queue's own name
		o.bindingKey = o.queue
	}
	setupLogging(o.verbose, true, nil)

	cnf := o.config()
	cnf.NoUnixSignals = true
	srv, err := newServer(cnf)
	if err != nil {
		return fail("%v", err)
	}
	deadline := time.Now().Add(time.Duration(*maxSeconds) * time.Second)
	out := benchOut{Impl: "go", N: *n, Concurrency: o.concurrency, SendConc: *sendConc,
		Broker: redactURL(o.broker), Backend: redactURL(o.backend), Queue: o.queue}

	if *purge {
		if err := purgeQueue(&o); err != nil {
			return fail("purge %s: %v", o.queue, err)
		}
	}

	// ---- enqueue
	var next, enqueued, enqErrs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	if *sendConc < 1 {
		*sendConc = 1
	}
	enqStart := time.Now()
	for g := 0; g < *sendConc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(*n) {
				if time.Now().After(deadline) {
					return
				}
				if _, err := srv.SendTask(&tasks.Signature{Name: "noop"}); err != nil {
					enqErrs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				enqueued.Add(1)
			}
		}()
	}
	wg.Wait()
	enqDur := time.Since(enqStart)
	out.Enqueued = enqueued.Load()
	out.EnqueueSecs = enqDur.Seconds()
	out.EnqueuePerS = float64(out.Enqueued) / enqDur.Seconds()
	out.EnqueueErrors = enqErrs.Load()
	if e, ok := firstErr.Load().(string); ok {
		out.FirstError = e
	}

	// ---- drain
	target := out.Enqueued
	var drained atomic.Int64
	done := make(chan struct{})
	var doneOnce sync.Once
	var waiters sync.Map // task UUID → chan struct{} (latency phase)
	w := srv.NewWorker("machinery_interop_go_bench", o.concurrency)
	w.SetPostTaskHandler(func(sig *tasks.Signature) {
		if ch, ok := waiters.Load(sig.UUID); ok {
			close(ch.(chan struct{}))
			return
		}
		if drained.Add(1) >= target {
			doneOnce.Do(func() { close(done) })
		}
	})
	if target == 0 {
		doneOnce.Do(func() { close(done) })
	}
	errCh := make(chan error, 4)
	drainStart := time.Now()
	w.LaunchAsync(errCh)
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		out.TimedOut = true
	}
	drainDur := time.Since(drainStart)
	out.Drained = drained.Load()
	out.DrainSecs = drainDur.Seconds()
	out.DrainPerS = float64(out.Drained) / drainDur.Seconds()

	if *latency > 0 && !out.TimedOut {
		samples := make([]time.Duration, 0, *latency)
		for i := 0; i < *latency && time.Now().Before(deadline); i++ {
			sig := &tasks.Signature{UUID: newTaskUUID(), Name: "noop"}
			ch := make(chan struct{})
			waiters.Store(sig.UUID, ch)
			start := time.Now()
			if _, err := srv.SendTask(sig); err != nil {
				out.FirstError = err.Error()
				break
			}
			select {
			case <-ch:
				samples = append(samples, time.Since(start))
			case <-time.After(time.Until(deadline)):
				out.TimedOut = true
			}
			waiters.Delete(sig.UUID)
		}
		if len(samples) > 0 {
			sort.Slice(samples, func(a, b int) bool { return samples[a] < samples[b] })
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			out.LatencySamples = len(samples)
			out.LatencyP50Ms = ms(percentile(samples, 50))
			out.LatencyP99Ms = ms(percentile(samples, 99))
			out.LatencyMaxMs = ms(samples[len(samples)-1])
		}
	}

	// stop the worker (bounded: StopConsuming waits for in-flight tasks)
	quit := make(chan struct{})
	go func() { w.Quit(); close(quit) }()
	select {
	case <-quit:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "machinery-interop: worker did not stop within 10s")
	}
	printJSON(out)
	if out.TimedOut || out.EnqueueErrors > 0 {
		return 1
	}
	return 0
}

// percentile of sorted samples, nearest-rank method.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func redactURL(raw string) string {
	// keep scheme://host[:port] only, like machinery.RedactURL
	s := scheme(raw)
	rest := raw[len(s)+3:]
	if i := strings.Index(rest, "/"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	return s + "://" + rest
}

// purgeQueue empties the bench queue (Redis list or AMQP queue).
func purgeQueue(o *options) error {
	switch scheme(o.broker) {
	case "redis":
		addr, db, err := redisAddr(o.broker)
		if err != nil {
			return err
		}
		opt := &redis.Options{Addr: addr, DB: db}
		if i := strings.LastIndex(addr, "@"); i >= 0 {
			cred := addr[:i]
			opt.Addr = addr[i+1:]
			if j := strings.Index(cred, ":"); j >= 0 {
				opt.Username, opt.Password = cred[:j], cred[j+1:]
			} else {
				opt.Password = cred
			}
		}
		c := redis.NewClient(opt)
		defer c.Close()
		return c.Del(context.Background(), o.queue).Err()
	case "amqp", "amqps":
		conn, err := amqp.Dial(o.broker)
		if err != nil {
			return err
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		// same declaration as Machinery's consumer (durable, not auto-delete)
		if _, err := ch.QueueDeclare(o.queue, true, false, false, false, nil); err != nil {
			return err
		}
		_, err = ch.QueuePurge(o.queue, false)
		return err
	case "gcppubsub":
		// Pub/Sub has no purge; the side-by-side driver recreates the subscription before each run
		return nil
	}
	return fmt.Errorf("unsupported broker %q", o.broker)
}
