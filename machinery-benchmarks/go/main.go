// Command outside-go is the Go side of the outside-in benchmark (scripts/bench/outside.sh): the same three
// roles as the Java side (io.machinery.benchmarks.outside.OutsideBenchmark), for Go Machinery v2 (Redis broker,
// or AMQP broker with machinery-amqp; Redis backend) and Asynq, each run as its own process by the driver:
//
//	outside-go produce -system machinery|machinery-amqp|asynq -redis URL [-amqp URL] -queue Q -n N [-redis-pid P]
//	outside-go work    -system machinery|machinery-amqp|asynq -redis URL [-amqp URL] -queue Q -n N -c C -latency L [-redis-pid P]
//	outside-go latency -system machinery|machinery-amqp|asynq -redis URL [-amqp URL] -queue Q -n L [-gap-ms 5] [-latency-warmup W] [-idle-warmup K]
//
// produce sends N no-op tasks one at a time and prints one JSON line. work starts a worker of concurrency C on
// the pre-filled queue, prints a JSON line when N tasks are done (cold = whole drain, warm = second half), then
// waits for L "stamp" tasks, each carrying its send time (Unix nanoseconds), and prints the enqueue->start
// latencies as a second JSON line. latency sends those L tasks one at a time into the idle worker, after W untimed
// sends to a queue no worker reads (the Java side's warm-up; kept here so both run the same steps). With
// -idle-warmup K (given to both work and latency) the sender first sends K more paced latency tasks, whose samples
// the worker drops: a worker whose idle path has run a while (the Java side's JIT). CPU figures
// are utime+stime from /proc/<pid>/stat, for this process and for the broker's server (-redis-pid: redis-server,
// or RabbitMQ's beam.smp for machinery-amqp), over the phase.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type opts struct {
	system, redisURL, queue string
	amqpURL                 string
	n, c, latency, gapMs    int
	redisPID, latencyWarmup int
	idleWarmup              int
}

// an implementation under test: Go Machinery v2 or Asynq
type system interface {
	send() error                      // one no-op task, waited
	sendStamp(sentNanos int64) error  // one latency task
	sendWarmup(sentNanos int64) error // one latency task to the warm-up queue, which no worker reads
	startWorker(c int, done func(), stamp func(sentNanos int64)) (stop func(), err error)
	close()
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: outside-go produce|work|latency -system machinery|asynq ...")
		os.Exit(2)
	}
	role := os.Args[1]
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	var o opts
	fs.StringVar(&o.system, "system", "machinery", "machinery (Go Machinery v2), machinery-amqp (its AMQP broker) or asynq")
	fs.StringVar(&o.amqpURL, "amqp", "amqp://guest:guest@127.0.0.1:5672/", "AMQP URL (machinery-amqp's broker)")
	fs.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/9", "Redis URL, redis://host:port/db")
	fs.StringVar(&o.queue, "queue", "outside_bench", "queue name")
	fs.IntVar(&o.n, "n", 100000, "tasks")
	fs.IntVar(&o.c, "c", 10, "worker concurrency")
	fs.IntVar(&o.latency, "latency", 0, "latency tasks the worker waits for after the drain")
	fs.IntVar(&o.gapMs, "gap-ms", 5, "pause between latency tasks, so that each finds the worker idle")
	fs.IntVar(&o.redisPID, "redis-pid", 0, "the broker server's pid (redis-server, beam.smp), for its CPU time")
	fs.IntVar(&o.latencyWarmup, "latency-warmup", 0, "untimed sends to a queue no worker reads before the latency tasks")
	fs.IntVar(&o.idleWarmup, "idle-warmup", 0, "paced latency tasks sent first, whose samples the worker drops")
	fs.Parse(os.Args[2:])

	sys, err := open(o)
	if err != nil {
		fatal("%v", err)
	}
	defer sys.close()
	switch role {
	case "produce":
		produce(o, sys)
	case "work":
		work(o, sys)
	case "latency":
		for i := 0; i < o.latencyWarmup; i++ {
			if err := sys.sendWarmup(time.Now().UnixNano()); err != nil {
				fatal("warm-up send: %v", err)
			}
		}
		for i := 0; i < o.idleWarmup+o.n; i++ {
			if err := sys.sendStamp(time.Now().UnixNano()); err != nil {
				fatal("latency send: %v", err)
			}
			time.Sleep(time.Duration(o.gapMs) * time.Millisecond) // pacing, so that every task finds the worker idle
		}
	default:
		fatal("unknown role %q", role)
	}
}

func open(o opts) (system, error) {
	addr, db, err := redisAddr(o.redisURL)
	if err != nil {
		return nil, err
	}
	switch o.system {
	case "machinery", "machinery-amqp":
		return openMachinery(o, addr, db)
	case "asynq":
		return openAsynq(o, addr, db)
	}
	return nil, fmt.Errorf("unknown system %q", o.system)
}

func produce(o opts, sys system) {
	cpu0, redis0 := cpuMicros(0), cpuMicros(o.redisPID)
	start := time.Now()
	for i := 0; i < o.n; i++ {
		if err := sys.send(); err != nil {
			fatal("send: %v", err)
		}
	}
	secs := time.Since(start).Seconds()
	emit(map[string]any{"event": "produced", "n": o.n, "seconds": secs,
		"cpu_us": cpuMicros(0) - cpu0, "redis_cpu_us": cpuMicros(o.redisPID) - redis0})
}

func work(o opts, sys system) {
	var count atomic.Int64
	half, all := int64(o.n/2), int64(o.n)
	var tHalf, tAll time.Time
	var cpuHalf, redisHalf, cpuAll, redisAll int64
	drained := make(chan struct{})
	var mu sync.Mutex
	var samples []int64
	gotAll := make(chan struct{})
	var stamps, seen atomic.Int64
	cpu0, redis0 := cpuMicros(0), cpuMicros(o.redisPID)
	start := time.Now()
	stop, err := sys.startWorker(o.c, func() {
		switch count.Add(1) {
		case half:
			tHalf, cpuHalf, redisHalf = time.Now(), cpuMicros(0), cpuMicros(o.redisPID)
		case all:
			tAll, cpuAll, redisAll = time.Now(), cpuMicros(0), cpuMicros(o.redisPID)
			close(drained)
		}
	}, func(sent int64) {
		d := time.Now().UnixNano() - sent
		if seen.Add(1) <= int64(o.idleWarmup) {
			return // a warm-up sample
		}
		mu.Lock()
		samples = append(samples, d)
		mu.Unlock()
		if stamps.Add(1) == int64(o.latency) {
			close(gotAll)
		}
	})
	if err != nil {
		fatal("worker: %v", err)
	}
	<-drained
	emit(map[string]any{"event": "drained", "n": o.n,
		"cold_seconds": tAll.Sub(start).Seconds(), "warm_seconds": tAll.Sub(tHalf).Seconds(), "warm_n": all - half,
		"cpu_us": cpuAll - cpu0, "redis_cpu_us": redisAll - redis0,
		"warm_cpu_us": cpuAll - cpuHalf, "warm_redis_cpu_us": redisAll - redisHalf})
	if o.latency > 0 {
		<-gotAll
		mu.Lock()
		sort.Slice(samples, func(a, b int) bool { return samples[a] < samples[b] })
		emit(map[string]any{"event": "latency", "samples": len(samples),
			"p50_ms": ms(pct(samples, 50)), "p99_ms": ms(pct(samples, 99)), "max_ms": ms(samples[len(samples)-1])})
		mu.Unlock()
	}
	stop()
}

func pct(sorted []int64, p int) int64 {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func ms(nanos int64) float64 { return float64(nanos) / 1e6 }

// cpuMicros is utime+stime of a process from /proc/<pid>/stat (pid 0 = this process), in microseconds.
func cpuMicros(pid int) int64 {
	if pid < 0 {
		return 0
	}
	path := "/proc/self/stat"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// after the command: state is field 3, utime 14, stime 15 (1-based in proc(5))
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return (ut + st) * 1_000_000 / 100 // USER_HZ is 100 on Linux
}

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "outside-go: "+format+"\n", args...)
	os.Exit(1)
}

// redisAddr turns redis://host:port[/db] into host:port and the db number.
func redisAddr(raw string) (string, int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, err
	}
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		if db, err = strconv.Atoi(p); err != nil {
			return "", 0, fmt.Errorf("bad redis db %q in %q", p, raw)
		}
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		host += ":6379"
	}
	return host, db, nil
}
