package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RichardKnop/machinery/v2/tasks"
)

// ---- the tasks of Machinery's integration suite (same names, same behaviour)

func taskAdd(args ...int64) (int64, error) {
	var sum int64
	for _, a := range args {
		sum += a
	}
	return sum, nil
}

func taskMultiply(args ...int64) (int64, error) {
	product := int64(1)
	for _, a := range args {
		product *= a
	}
	return product, nil
}

func taskSum(numbers []int64) (int64, error) {
	var sum int64
	for _, n := range numbers {
		sum += n
	}
	return sum, nil
}

func taskReturnJustError(msg string, fail bool) error {
	if fail {
		return errors.New(msg)
	}
	return nil
}

func taskReturnMultipleValues(arg1, arg2 string, fail bool) (string, string, error) {
	if fail {
		return "", "", errors.New("some error")
	}
	return arg1, arg2, nil
}

func taskPanic() (string, error) {
	panic(errors.New("oops"))
}

func taskDelayTest() (int64, error) {
	return time.Now().UTC().UnixNano(), nil
}

// ---- interop extras

func taskEchoBytes(b []byte) ([]byte, error) { return b, nil }

func taskEchoUint64(v uint64) (uint64, error) { return v, nil }

func taskEchoInt64(v int64) (int64, error) { return v, nil }

var (
	countersMu sync.Mutex
	failCounts = map[string]int64{}
	laterSeen  = map[string]bool{}
)

// taskFailNTimes fails the first n calls per key (within this process), then
// returns "ok". Used with RetryCount to exercise automatic retries.
func taskFailNTimes(key string, n int64) (string, error) {
	countersMu.Lock()
	failCounts[key]++
	attempt := failCounts[key]
	countersMu.Unlock()
	if attempt <= n {
		return "", fmt.Errorf("failing attempt %d", attempt)
	}
	return "ok", nil
}

// taskRetryLater asks for a retry in 1 s on its first call per key, then
// returns "done".
func taskRetryLater(key string) (string, error) {
	countersMu.Lock()
	seen := laterSeen[key]
	laterSeen[key] = true
	countersMu.Unlock()
	if !seen {
		return "", tasks.NewErrRetryTaskLater("later", 1*time.Second)
	}
	return "done", nil
}

// taskRecordError is used as an OnError callback: Machinery prepends the
// error string as the first argument.
func taskRecordError(msg string) (string, error) { return msg, nil }

// taskSlowAdd sleeps ms milliseconds, then returns a+b. The interop tests use
// it for chords whose members are shared by a Go and a Java worker: a member
// that takes a while keeps each worker busy, so both get some.
func taskSlowAdd(ms, a, b int64) (int64, error) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return a + b, nil
}

// noopCount counts noop executions (used by bench).
var noopCount atomic.Int64

func taskNoop() error {
	noopCount.Add(1)
	return nil
}

func taskMap() map[string]interface{} {
	return map[string]interface{}{
		"add":                    taskAdd,
		"multiply":               taskMultiply,
		"sum":                    taskSum,
		"return_just_error":      taskReturnJustError,
		"return_multiple_values": taskReturnMultipleValues,
		"panic":                  taskPanic,
		"delay_test":             taskDelayTest,
		"echo_bytes":             taskEchoBytes,
		"echo_uint64":            taskEchoUint64,
		"echo_int64":             taskEchoInt64,
		"fail_n_times":           taskFailNTimes,
		"retry_later":            taskRetryLater,
		"record_error":           taskRecordError,
		"noop":                   taskNoop,
		"slow_add":               taskSlowAdd,
	}
}
