package main

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/hibiken/asynq"
)

// Asynq with results kept (Retention): a completed task stays in Redis, as a stored result does.
type asynqSystem struct {
	opt    asynq.RedisClientOpt
	client *asynq.Client
	o      opts
}

const asynqRetention = 10 * time.Minute

func openAsynq(o opts, addr string, db int) (system, error) {
	opt := asynq.RedisClientOpt{Addr: addr, DB: db}
	return &asynqSystem{opt: opt, client: asynq.NewClient(opt), o: o}, nil
}

func (a *asynqSystem) send() error {
	_, err := a.client.Enqueue(asynq.NewTask("noop", nil), asynq.Queue(a.o.queue), asynq.Retention(asynqRetention))
	return err
}

func (a *asynqSystem) sendStamp(sent int64) error {
	payload := binary.BigEndian.AppendUint64(nil, uint64(sent))
	_, err := a.client.Enqueue(asynq.NewTask("stamp", payload), asynq.Queue(a.o.queue), asynq.Retention(asynqRetention))
	return err
}

func (a *asynqSystem) sendWarmup(sent int64) error {
	payload := binary.BigEndian.AppendUint64(nil, uint64(sent))
	_, err := a.client.Enqueue(asynq.NewTask("stamp", payload), asynq.Queue(a.o.queue+"_warmup"), asynq.Retention(asynqRetention))
	return err
}

func (a *asynqSystem) startWorker(c int, done func(), stamp func(int64)) (func(), error) {
	srv := asynq.NewServer(a.opt, asynq.Config{
		Concurrency: c,
		Queues:      map[string]int{a.o.queue: 1},
		LogLevel:    asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	// Asynq has no hook after the completion is written; the count is taken when the handler returns
	mux.HandleFunc("noop", func(ctx context.Context, t *asynq.Task) error { defer done(); return nil })
	mux.HandleFunc("stamp", func(ctx context.Context, t *asynq.Task) error {
		stamp(int64(binary.BigEndian.Uint64(t.Payload())))
		return nil
	})
	if err := srv.Start(mux); err != nil {
		return nil, err
	}
	return srv.Shutdown, nil
}

func (a *asynqSystem) close() { a.client.Close() }
