package main

import (
	"fmt"
	"io"
	"log"

	machinery "github.com/RichardKnop/machinery/v2"
	redisbackend "github.com/RichardKnop/machinery/v2/backends/redis"
	amqpbroker "github.com/RichardKnop/machinery/v2/brokers/amqp"
	"github.com/RichardKnop/machinery/v2/brokers/iface"
	redisbroker "github.com/RichardKnop/machinery/v2/brokers/redis"
	"github.com/RichardKnop/machinery/v2/config"
	eagerlock "github.com/RichardKnop/machinery/v2/locks/eager"
	mlog "github.com/RichardKnop/machinery/v2/log"
	"github.com/RichardKnop/machinery/v2/tasks"
)

// Go Machinery v2 with its Redis backend (go-redis) and its Redis broker, as interop/go builds them, or
// (system machinery-amqp) its AMQP broker on -amqp.
type machinerySystem struct {
	srv *machinery.Server
	o   opts
}

func openMachinery(o opts, addr string, db int) (system, error) {
	quiet := log.New(io.Discard, "", 0)
	mlog.SetInfo(quiet) // its INFO lines go to stdout, which carries our JSON
	mlog.SetWarning(quiet)
	mlog.SetDebug(quiet)
	redisURL := fmt.Sprintf("redis://%s/%d", addr, db)
	cnf := &config.Config{
		Broker:          redisURL,
		ResultBackend:   redisURL,
		DefaultQueue:    o.queue,
		ResultsExpireIn: 600,
		Redis:           &config.RedisConfig{NormalTasksPollPeriod: 1000, DelayedTasksPollPeriod: 500},
		NoUnixSignals:   true,
	}
	var broker iface.Broker
	if o.system == "machinery-amqp" {
		// the config a Go user writes for RabbitMQ: a durable direct exchange, the queue bound with its own
		// name (with Go's example binding key "machinery_task" a Go publisher also fills a queue of that
		// name that nobody reads), prefetch = the worker's concurrency; the exchange is named after the
		// queue, so the driver can delete both after the row
		cnf.Broker = o.amqpURL
		cnf.AMQP = &config.AMQPConfig{Exchange: o.queue + "_exchange", ExchangeType: "direct",
			BindingKey: o.queue, PrefetchCount: o.c}
		broker = amqpbroker.New(cnf)
	} else {
		broker = redisbroker.NewGR(cnf, []string{addr}, db)
	}
	srv := machinery.NewServer(cnf, broker, redisbackend.NewGR(cnf, []string{addr}, db), eagerlock.New())
	return &machinerySystem{srv: srv, o: o}, nil
}

func (m *machinerySystem) send() error {
	_, err := m.srv.SendTask(&tasks.Signature{Name: "noop"})
	return err
}

func (m *machinerySystem) sendStamp(sent int64) error {
	_, err := m.srv.SendTask(&tasks.Signature{Name: "stamp", Args: []tasks.Arg{{Type: "int64", Value: sent}}})
	return err
}

func (m *machinerySystem) sendWarmup(sent int64) error {
	_, err := m.srv.SendTask(&tasks.Signature{Name: "stamp", RoutingKey: m.o.queue + "_warmup",
		Args: []tasks.Arg{{Type: "int64", Value: sent}}})
	return err
}

func (m *machinerySystem) startWorker(c int, done func(), stamp func(int64)) (func(), error) {
	if err := m.srv.RegisterTasks(map[string]interface{}{
		"noop":  func() error { return nil },
		"stamp": func(sent int64) error { stamp(sent); return nil },
	}); err != nil {
		return nil, err
	}
	w := m.srv.NewWorker("outside-go", c)
	w.SetPostTaskHandler(func(sig *tasks.Signature) {
		if sig.Name == "noop" {
			done() // runs after SUCCESS is stored
		}
	})
	errs := make(chan error, 4)
	w.LaunchAsync(errs)
	return w.Quit, nil
}

// close closes the AMQP broker's publishing connections (Go's Redis broker keeps none open), so RabbitMQ
// does not log each producer's exit as a lost connection
func (m *machinerySystem) close() {
	if b, ok := m.srv.GetBroker().(interface{ CloseConnections() error }); ok {
		b.CloseConnections()
	}
}
