package main

import (
	"bytes"
	"flag"
	"fmt"
	"reflect"
	"strings"
	"time"

	machinery "github.com/RichardKnop/machinery/v2"
	"github.com/RichardKnop/machinery/v2/tasks"
	"github.com/google/uuid"
)

// scenarioOut is the JSON line printed for one scenario.
type scenarioOut struct {
	Scenario string `json:"scenario"`
	// UUIDs of every task involved, in a fixed order per scenario (see
	// README); chord: group tasks then the callback; on_error: the task
	// then the error callback.
	UUIDs        []string `json:"uuids"`
	GroupUUID    string   `json:"group_uuid,omitempty"`
	CallbackUUID string   `json:"callback_uuid,omitempty"`
	// Results: the values that decide the scenario (see README), as Go's
	// tasks.ReflectTaskResults returned them, JSON-encoded ([]byte → base64).
	Results []interface{} `json:"results"`
	// Error: the error text of the task that decides the scenario, if any.
	Error    *string     `json:"error"`
	Expected interface{} `json:"expected,omitempty"`
	OK       *bool       `json:"ok,omitempty"`
	Problem  string      `json:"problem,omitempty"`
	// EtaNs: the ETA put into the message (eta scenario).
	EtaNs int64 `json:"eta_ns,omitempty"`
	// Key: the per-process key passed to fail_n_times / retry_later.
	Key string `json:"key,omitempty"`
	// Tasks: per task outcome (state, raw TaskResults, error, observed
	// state trace), same order as UUIDs.
	Tasks     []*outcome `json:"tasks,omitempty"`
	ElapsedMs int64      `json:"elapsed_ms"`
	SendError string     `json:"send_error,omitempty"`
}

var allScenarios = []string{
	"task", "sum", "group", "chord", "chain", "eta", "retry", "retry_later",
	"on_error", "types", "error", "multi", "panic", "wide_chord", "long_chain",
}

func int64Arg(v int64) tasks.Arg { return tasks.Arg{Type: "int64", Value: v} }

func addSig(a, b int64) *tasks.Signature {
	return &tasks.Signature{Name: "add", Args: []tasks.Arg{int64Arg(a), int64Arg(b)}}
}

func multiplySig(nums ...int64) *tasks.Signature {
	args := make([]tasks.Arg, len(nums))
	for i, n := range nums {
		args[i] = int64Arg(n)
	}
	return &tasks.Signature{Name: "multiply", Args: args}
}

func newTaskUUID() string { return "task_" + uuid.New().String() }

type sender struct {
	srv             *machinery.Server
	noWait          bool
	timeout         time.Duration
	sendConcurrency int
	groupSize       int
	memberDelayMs   int64
	chainLength     int
}

func cmdSend(args []string) int {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	var o options
	addCommonFlags(fs, &o, "machinery_tasks")
	scenario := fs.String("scenario", "task", "scenario name, a comma-separated list, or \"all\": "+strings.Join(allScenarios, ","))
	noWait := fs.Bool("no-wait", false, "only publish; print the UUIDs and do not wait for results")
	timeout := fs.Duration("timeout", 30*time.Second, "per-scenario timeout for results")
	sendConc := fs.Int("send-concurrency", 0, "sendConcurrency for SendGroup/SendChord (0 = unlimited)")
	groupSize := fs.Int("group-size", 20, "wide_chord: number of group members")
	memberDelay := fs.Int64("member-delay-ms", 25, "wide_chord: how long each member sleeps")
	chainLength := fs.Int("chain-length", 300, "long_chain: number of tasks in the chain")
	fs.Parse(args)
	o.finish()
	setupLogging(o.verbose, false, nil)

	names := strings.Split(*scenario, ",")
	if *scenario == "all" {
		names = allScenarios
	}
	srv, err := newServer(o.config())
	if err != nil {
		return fail("%v", err)
	}
	if *groupSize < 1 {
		return fail("send: -group-size must be at least 1")
	}
	if *chainLength < 1 {
		return fail("send: -chain-length must be at least 1")
	}
	s := &sender{srv: srv, noWait: *noWait, timeout: *timeout, sendConcurrency: *sendConc,
		groupSize: *groupSize, memberDelayMs: *memberDelay, chainLength: *chainLength}
	code := 0
	for _, name := range names {
		name = strings.TrimSpace(name)
		out := s.run(name)
		printJSON(out)
		if out.SendError != "" || (out.OK != nil && !*out.OK) {
			code = 1
		}
	}
	return code
}

func (s *sender) run(name string) *scenarioOut {
	start := time.Now()
	out := &scenarioOut{Scenario: name, Results: []interface{}{}}
	var err error
	switch name {
	case "task":
		err = s.single(out, addSig(1, 1), []interface{}{int64(2)}, nil)
	case "sum":
		sig := &tasks.Signature{Name: "sum", Args: []tasks.Arg{{Type: "[]int64", Value: []int64{1, 2}}}}
		err = s.single(out, sig, []interface{}{int64(3)}, nil)
	case "group":
		err = s.group(out, groupSigs(), []interface{}{int64(2), int64(4), int64(11)})
	case "batched": // a Java worker's batched task (TaskFunction.batched); Go workers have none
		err = s.group(out, batchedSigs(), []interface{}{int64(4), int64(9), int64(16), int64(25)})
	case "chord":
		err = s.chord(out)
	case "wide_chord":
		err = s.wideChord(out)
	case "chain":
		err = s.chain(out)
	case "long_chain":
		err = s.longChain(out)
	case "eta":
		err = s.eta(out)
	case "retry":
		out.Key = "retry-" + uuid.New().String()
		sig := &tasks.Signature{Name: "fail_n_times", RetryCount: 2, Args: []tasks.Arg{
			{Type: "string", Value: out.Key}, int64Arg(2)}}
		err = s.single(out, sig, []interface{}{"ok"}, nil)
	case "retry_later":
		out.Key = "later-" + uuid.New().String()
		sig := &tasks.Signature{Name: "retry_later", Args: []tasks.Arg{{Type: "string", Value: out.Key}}}
		err = s.single(out, sig, []interface{}{"done"}, nil)
	case "on_error":
		err = s.onError(out)
	case "types":
		err = s.types(out)
	case "error":
		sig := &tasks.Signature{Name: "return_just_error", Args: []tasks.Arg{
			{Type: "string", Value: "Test error"}, {Type: "bool", Value: true}}}
		msg := "Test error"
		err = s.single(out, sig, []interface{}{}, &msg)
	case "multi":
		sig := &tasks.Signature{Name: "return_multiple_values", Args: []tasks.Arg{
			{Type: "string", Value: "foo"}, {Type: "string", Value: "bar"}, {Type: "bool", Value: false}}}
		err = s.single(out, sig, []interface{}{"foo", "bar"}, nil)
	case "panic":
		msg := "oops"
		err = s.single(out, &tasks.Signature{Name: "panic"}, []interface{}{}, &msg)
	case "priority":
		err = s.priority(out)
	case "fairness":
		err = s.fairness(out)
	case "expired":
		// add(1,1) with the header machinery_expires a second in the past (not in "all": a Java
		// worker fails it as expired without running it; Go workers ignore the header and run it)
		at := time.Now().Add(-time.Second).UTC().Truncate(time.Second).Format(time.RFC3339)
		sig := addSig(1, 1)
		sig.Headers = tasks.Headers{"machinery_expires": at}
		msg := "expired: not started by " + at
		err = s.single(out, sig, []interface{}{}, &msg)
	default:
		err = fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(allScenarios, ","))
	}
	if err != nil {
		out.SendError = err.Error()
		f := false
		out.OK = &f
	}
	out.ElapsedMs = time.Since(start).Milliseconds()
	return out
}

func (s *sender) deadline() time.Time { return time.Now().Add(s.timeout) }

// priority sends add(0,1)..add(4,1) with Priority 0, then add(5,1) with
// Priority 9 (not in "all": it tests the consumer's order, which Go's Redis
// broker ignores; Go pushes all six to the plain list). UUIDs: in send order;
// the deciding result is the prioritized task's.
func (s *sender) priority(out *scenarioOut) error {
	for i := int64(0); i < 6; i++ {
		sig := addSig(i, 1)
		if i == 5 {
			sig.Priority = 9
		}
		if _, err := s.srv.SendTask(sig); err != nil {
			return err
		}
		out.UUIDs = append(out.UUIDs, sig.UUID)
	}
	if s.noWait {
		return nil
	}
	o := waitState(s.srv.GetBackend(), out.UUIDs[5], s.deadline())
	out.Tasks = []*outcome{o}
	s.judge(out, o, []interface{}{int64(6)}, nil)
	return nil
}

// fairness sends add(0,1)..add(39,1) with the header machinery_fairness_key
// "noisy", then add(40,1) and add(41,1) with "quiet" (not in "all": it tests
// the consumer's order; Go's Redis broker pushes all 42 to the plain list).
// UUIDs: in send order; never waits (the test starts the Java worker after).
func (s *sender) fairness(out *scenarioOut) error {
	for i := int64(0); i < 42; i++ {
		sig := addSig(i, 1)
		key := "noisy"
		if i >= 40 {
			key = "quiet"
		}
		sig.Headers = tasks.Headers{"machinery_fairness_key": key}
		if _, err := s.srv.SendTask(sig); err != nil {
			return err
		}
		out.UUIDs = append(out.UUIDs, sig.UUID)
	}
	return nil
}

// single sends one task with SendTask and waits for it.
func (s *sender) single(out *scenarioOut, sig *tasks.Signature, want []interface{}, wantErr *string) error {
	if _, err := s.srv.SendTask(sig); err != nil {
		return err
	}
	out.UUIDs = []string{sig.UUID}
	if s.noWait {
		return nil
	}
	o := waitState(s.srv.GetBackend(), sig.UUID, s.deadline())
	out.Tasks = []*outcome{o}
	s.judge(out, o, want, wantErr)
	return nil
}

// judge fills Results/Error/OK of out from the deciding task outcome.
func (s *sender) judge(out *scenarioOut, o *outcome, want []interface{}, wantErr *string) {
	if o.Values != nil {
		out.Results = o.Values
	}
	out.Error = o.Error
	if wantErr != nil {
		out.Expected = map[string]interface{}{"error": *wantErr}
	} else {
		out.Expected = want
	}
	ok := true
	switch {
	case o.TimedOut:
		ok, out.Problem = false, fmt.Sprintf("timed out in state %q", o.State)
	case wantErr != nil:
		if o.Error == nil || *o.Error != *wantErr || len(out.Results) != 0 {
			ok, out.Problem = false, "expected FAILURE with that error and no results"
		}
	default:
		if o.Error != nil {
			ok, out.Problem = false, "unexpected error"
		} else if !equalValues(out.Results, want) {
			ok, out.Problem = false, "results differ from expected"
		}
	}
	out.OK = &ok
}

func equalValues(got, want []interface{}) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if gb, ok := got[i].([]byte); ok {
			wb, ok := want[i].([]byte)
			if !ok || !bytes.Equal(gb, wb) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(got[i], want[i]) {
			return false
		}
	}
	return true
}

func groupSigs() []*tasks.Signature {
	return []*tasks.Signature{addSig(1, 1), addSig(2, 2), addSig(5, 6)}
}

// batchedSigs are tasks of the Java test kit's batched_square, which squares its argument.
func batchedSigs() []*tasks.Signature {
	sigs := []*tasks.Signature{}
	for _, n := range []int64{2, 3, 4, 5} {
		sigs = append(sigs, &tasks.Signature{Name: "batched_square", Args: []tasks.Arg{int64Arg(n)}})
	}
	return sigs
}

// group sends sigs as a group and waits for each member's single result, expected in order.
func (s *sender) group(out *scenarioOut, sigs []*tasks.Signature, want []interface{}) error {
	group, err := tasks.NewGroup(sigs...)
	if err != nil {
		return err
	}
	if _, err := s.srv.SendGroup(group, s.sendConcurrency); err != nil {
		return err
	}
	out.GroupUUID = group.GroupUUID
	out.UUIDs = group.GetUUIDs()
	if s.noWait {
		return nil
	}
	deadline := s.deadline()
	ok := true
	out.Expected = want
	for i, sig := range group.Tasks {
		o := waitState(s.srv.GetBackend(), sig.UUID, deadline)
		out.Tasks = append(out.Tasks, o)
		if o.TimedOut || o.Error != nil || len(o.Values) != 1 {
			ok = false
			out.Problem = fmt.Sprintf("group task %d: state %q", i, o.State)
			out.Results = append(out.Results, nil)
			continue
		}
		out.Results = append(out.Results, o.Values[0])
	}
	if ok && !equalValues(out.Results, want) {
		ok, out.Problem = false, "results differ from expected"
	}
	out.OK = &ok
	return nil
}

func (s *sender) chord(out *scenarioOut) error {
	group, err := tasks.NewGroup(groupSigs()...)
	if err != nil {
		return err
	}
	chord, err := tasks.NewChord(group, multiplySig())
	if err != nil {
		return err
	}
	if _, err := s.srv.SendChord(chord, s.sendConcurrency); err != nil {
		return err
	}
	out.GroupUUID = group.GroupUUID
	out.CallbackUUID = chord.Callback.UUID
	out.UUIDs = append(group.GetUUIDs(), chord.Callback.UUID)
	if s.noWait {
		return nil
	}
	return s.waitSequence(out, []interface{}{int64(88)})
}

// wideChord sends a chord of groupSize slow_add(memberDelayMs, i, i) members
// (i = 1..groupSize) with the callback add(), whose result is the sum of the
// members' results: groupSize*(groupSize+1). Slow members let a Go and a Java
// worker on the same queue share the group.
func (s *sender) wideChord(out *scenarioOut) error {
	sigs := make([]*tasks.Signature, s.groupSize)
	for i := range sigs {
		n := int64(i + 1)
		sigs[i] = &tasks.Signature{Name: "slow_add", Args: []tasks.Arg{int64Arg(s.memberDelayMs), int64Arg(n), int64Arg(n)}}
	}
	group, err := tasks.NewGroup(sigs...)
	if err != nil {
		return err
	}
	chord, err := tasks.NewChord(group, &tasks.Signature{Name: "add"})
	if err != nil {
		return err
	}
	if _, err := s.srv.SendChord(chord, s.sendConcurrency); err != nil {
		return err
	}
	out.GroupUUID = group.GroupUUID
	out.CallbackUUID = chord.Callback.UUID
	out.UUIDs = append(group.GetUUIDs(), chord.Callback.UUID)
	if s.noWait {
		return nil
	}
	n := int64(s.groupSize)
	return s.waitSequence(out, []interface{}{n * (n + 1)})
}

func (s *sender) chain(out *scenarioOut) error {
	chain, err := tasks.NewChain(addSig(2, 2), addSig(5, 6), multiplySig(4))
	if err != nil {
		return err
	}
	if _, err := s.srv.SendChain(chain); err != nil {
		return err
	}
	for _, t := range chain.Tasks {
		out.UUIDs = append(out.UUIDs, t.UUID)
	}
	if s.noWait {
		return nil
	}
	return s.waitSequence(out, []interface{}{int64(60)})
}

// longChain sends add(1, 1) followed by chainLength-1 tasks add(1), each of which
// gets the result before it appended (Go's chain passing): the last result is
// chainLength+1. The first message nests the whole chain in its OnSuccess fields.
func (s *sender) longChain(out *scenarioOut) error {
	sigs := []*tasks.Signature{addSig(1, 1)}
	for len(sigs) < s.chainLength {
		sigs = append(sigs, &tasks.Signature{Name: "add", Args: []tasks.Arg{int64Arg(1)}})
	}
	chain, err := tasks.NewChain(sigs...)
	if err != nil {
		return err
	}
	if _, err := s.srv.SendChain(chain); err != nil {
		return err
	}
	for _, t := range chain.Tasks {
		out.UUIDs = append(out.UUIDs, t.UUID)
	}
	if s.noWait {
		return nil
	}
	return s.waitSequence(out, []interface{}{int64(s.chainLength + 1)})
}

// waitSequence waits for every task in out.UUIDs in order; the last one
// decides the scenario.
func (s *sender) waitSequence(out *scenarioOut, want []interface{}) error {
	deadline := s.deadline()
	for i, id := range out.UUIDs {
		o := waitState(s.srv.GetBackend(), id, deadline)
		out.Tasks = append(out.Tasks, o)
		if i == len(out.UUIDs)-1 || o.TimedOut || o.Error != nil {
			s.judge(out, o, want, nil)
			if !*out.OK && i != len(out.UUIDs)-1 {
				out.Problem = fmt.Sprintf("task %d (%s): %s", i, id, out.Problem)
			}
			if !*out.OK {
				return nil
			}
		}
	}
	return nil
}

func (s *sender) eta(out *scenarioOut) error {
	eta := time.Now().UTC().Add(1 * time.Second)
	out.EtaNs = eta.UnixNano()
	sig := &tasks.Signature{Name: "delay_test", ETA: &eta}
	if _, err := s.srv.SendTask(sig); err != nil {
		return err
	}
	out.UUIDs = []string{sig.UUID}
	if s.noWait {
		return nil
	}
	o := waitState(s.srv.GetBackend(), sig.UUID, s.deadline())
	out.Tasks = []*outcome{o}
	out.Results = []interface{}{}
	if o.Values != nil {
		out.Results = o.Values
	}
	out.Error = o.Error
	out.Expected = fmt.Sprintf("one int64 >= %d", out.EtaNs)
	ok := false
	if len(o.Values) == 1 {
		if v, isInt := o.Values[0].(int64); isInt && v >= out.EtaNs {
			ok = true
		}
	}
	if !ok {
		out.Problem = fmt.Sprintf("state %q", o.State)
	}
	out.OK = &ok
	return nil
}

func (s *sender) onError(out *scenarioOut) error {
	callback := &tasks.Signature{UUID: newTaskUUID(), Name: "record_error"}
	sig := &tasks.Signature{Name: "return_just_error", Args: []tasks.Arg{
		{Type: "string", Value: "boom"}, {Type: "bool", Value: true}},
		OnError: []*tasks.Signature{callback}}
	if _, err := s.srv.SendTask(sig); err != nil {
		return err
	}
	out.UUIDs = []string{sig.UUID, callback.UUID}
	out.CallbackUUID = callback.UUID
	if s.noWait {
		return nil
	}
	deadline := s.deadline()
	first := waitState(s.srv.GetBackend(), sig.UUID, deadline)
	out.Tasks = []*outcome{first}
	if first.Error == nil || *first.Error != "boom" {
		f := false
		out.OK, out.Problem, out.Error = &f, fmt.Sprintf("task state %q, want FAILURE boom", first.State), first.Error
		return nil
	}
	cb := waitState(s.srv.GetBackend(), callback.UUID, deadline)
	out.Tasks = append(out.Tasks, cb)
	// the callback's result is what decides the scenario; Error reports
	// the failing task's error text
	s.judge(out, cb, []interface{}{"boom"}, nil)
	out.Error = first.Error
	return nil
}

func (s *sender) types(out *scenarioOut) error {
	sigs := []*tasks.Signature{
		{Name: "echo_bytes", Args: []tasks.Arg{{Type: "[]byte", Value: []byte{0, 1, 2, 255}}}},
		{Name: "echo_uint64", Args: []tasks.Arg{{Type: "uint64", Value: uint64(18446744073709551615)}}},
		{Name: "echo_int64", Args: []tasks.Arg{{Type: "int64", Value: int64(9007199254740993)}}},
	}
	want := []interface{}{[]byte{0, 1, 2, 255}, uint64(18446744073709551615), int64(9007199254740993)}
	for _, sig := range sigs {
		if _, err := s.srv.SendTask(sig); err != nil {
			return err
		}
		out.UUIDs = append(out.UUIDs, sig.UUID)
	}
	if s.noWait {
		return nil
	}
	deadline := s.deadline()
	ok := true
	out.Expected = want
	for i, sig := range sigs {
		o := waitState(s.srv.GetBackend(), sig.UUID, deadline)
		out.Tasks = append(out.Tasks, o)
		if o.TimedOut || o.Error != nil || len(o.Values) != 1 {
			ok = false
			out.Problem = fmt.Sprintf("%s: state %q", sig.Name, o.State)
			out.Results = append(out.Results, nil)
			continue
		}
		out.Results = append(out.Results, o.Values[0])
		if !equalValues(o.Values, want[i:i+1]) {
			ok = false
			out.Problem = fmt.Sprintf("%s: result differs", sig.Name)
		}
	}
	out.OK = &ok
	return nil
}
