package main

import (
	"time"

	backendsiface "github.com/RichardKnop/machinery/v2/backends/iface"
	"github.com/RichardKnop/machinery/v2/tasks"
)

// outcome is what we learned about one task by polling the result backend.
//
// With the Redis backend each poll reads the current state, so Trace holds
// the distinct states we happened to see. With the AMQP backend every
// GetState consumes the oldest state message of the task's queue, so Trace
// is the full state history in order (PENDING, RECEIVED, STARTED, ...).
type outcome struct {
	UUID     string              `json:"uuid"`
	State    string              `json:"state"`
	Results  []*tasks.TaskResult `json:"results"`
	Values   []interface{}       `json:"values"`
	Error    *string             `json:"error"`
	Trace    []string            `json:"trace"`
	TimedOut bool                `json:"timed_out,omitempty"`
	// ReflectError is set when SUCCESS results cannot be reflected by Go
	// (tasks.ReflectTaskResults), e.g. an unknown Type string.
	ReflectError string `json:"reflect_error,omitempty"`
	ElapsedMs    int64  `json:"elapsed_ms"`
}

const pollEvery = 5 * time.Millisecond

// waitState polls backend.GetState(uuid) until the task is SUCCESS or
// FAILURE or the deadline passes. It mirrors AsyncResult.Touch: FAILURE →
// error = state.Error; SUCCESS → tasks.ReflectTaskResults(state.Results).
func waitState(backend backendsiface.Backend, uuid string, deadline time.Time) *outcome {
	start := time.Now()
	out := &outcome{UUID: uuid, Trace: []string{}}
	var last *tasks.TaskState
	for {
		st, err := backend.GetState(uuid)
		if err == nil && st != nil {
			last = st
			if n := len(out.Trace); n == 0 || out.Trace[n-1] != st.State {
				out.Trace = append(out.Trace, st.State)
			}
			if st.IsCompleted() {
				break
			}
		}
		if time.Now().After(deadline) {
			out.TimedOut = true
			break
		}
		time.Sleep(pollEvery)
	}
	out.ElapsedMs = time.Since(start).Milliseconds()
	if last == nil {
		return out
	}
	out.State = last.State
	out.Results = last.Results
	if last.IsFailure() {
		e := last.Error
		out.Error = &e
	}
	if last.IsSuccess() {
		vals, err := tasks.ReflectTaskResults(last.Results)
		if err != nil {
			out.ReflectError = err.Error()
		} else {
			out.Values = make([]interface{}, len(vals))
			for i, v := range vals {
				out.Values[i] = v.Interface()
			}
		}
	}
	return out
}
