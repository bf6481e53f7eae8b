package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	machinery "github.com/RichardKnop/machinery/v2"
	amqpbackend "github.com/RichardKnop/machinery/v2/backends/amqp"
	backendsiface "github.com/RichardKnop/machinery/v2/backends/iface"
	memcachebackend "github.com/RichardKnop/machinery/v2/backends/memcache"
	mongobackend "github.com/RichardKnop/machinery/v2/backends/mongo"
	redisbackend "github.com/RichardKnop/machinery/v2/backends/redis"
	amqpbroker "github.com/RichardKnop/machinery/v2/brokers/amqp"
	gcppubsubbroker "github.com/RichardKnop/machinery/v2/brokers/gcppubsub"
	brokersiface "github.com/RichardKnop/machinery/v2/brokers/iface"
	redisbroker "github.com/RichardKnop/machinery/v2/brokers/redis"
	"github.com/RichardKnop/machinery/v2/config"
	eagerlock "github.com/RichardKnop/machinery/v2/locks/eager"
)

// options shared by every subcommand. Flags win over environment variables,
// which win over the defaults. The environment variable names are the ones
// Machinery's own envconfig loader uses (BROKER, RESULT_BACKEND, ...).
type options struct {
	broker          string
	backend         string
	queue           string
	exchange        string
	exchangeType    string
	bindingKey      string
	prefetch        int
	resultsExpireIn int
	concurrency     int
	verbose         bool
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envIntOr(name string, def int) int {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// addCommonFlags registers the shared flags on fs. defaultQueue lets a
// subcommand (bench) use a different default queue.
func addCommonFlags(fs *flag.FlagSet, o *options, defaultQueue string) {
	fs.StringVar(&o.broker, "broker", envOr("BROKER", envOr("REDIS_URL", "redis://127.0.0.1:6379")), "broker URL: redis://[user:pass@]host:port[/db], amqp://user:pass@host:port/ or gcppubsub://PROJECT/SUBSCRIPTION (env BROKER, else REDIS_URL; Pub/Sub honours PUBSUB_EMULATOR_HOST)")
	fs.StringVar(&o.backend, "backend", envOr("RESULT_BACKEND", ""), "result backend URL: redis://..., amqp://..., mongodb://... or memcache://host:port[,host:port] (env RESULT_BACKEND; default: same as -broker)")
	fs.StringVar(&o.queue, "queue", envOr("DEFAULT_QUEUE", defaultQueue), "Machinery DefaultQueue (env DEFAULT_QUEUE)")
	fs.StringVar(&o.exchange, "exchange", envOr("AMQP_EXCHANGE", "machinery_exchange"), "AMQP exchange (env AMQP_EXCHANGE)")
	fs.StringVar(&o.exchangeType, "exchange-type", envOr("AMQP_EXCHANGE_TYPE", "direct"), "AMQP exchange type (env AMQP_EXCHANGE_TYPE)")
	fs.StringVar(&o.bindingKey, "binding-key", envOr("AMQP_BINDING_KEY", "machinery_task"), "AMQP binding key (env AMQP_BINDING_KEY)")
	fs.IntVar(&o.prefetch, "prefetch", envIntOr("AMQP_PREFETCH_COUNT", 1), "AMQP prefetch count (env AMQP_PREFETCH_COUNT)")
	fs.IntVar(&o.resultsExpireIn, "results-expire-in", envIntOr("RESULTS_EXPIRE_IN", 3600), "result expiry in seconds (env RESULTS_EXPIRE_IN)")
	fs.IntVar(&o.concurrency, "concurrency", envIntOr("CONCURRENCY", 10), "worker concurrency (env CONCURRENCY)")
	fs.BoolVar(&o.verbose, "v", false, "also log Machinery DEBUG messages (to stderr)")
}

func (o *options) finish() {
	if o.backend == "" {
		o.backend = o.broker
	}
}

func (o *options) config() *config.Config {
	return &config.Config{
		Broker:          o.broker,
		DefaultQueue:    o.queue,
		ResultBackend:   o.backend,
		ResultsExpireIn: o.resultsExpireIn,
		AMQP: &config.AMQPConfig{
			Exchange:      o.exchange,
			ExchangeType:  o.exchangeType,
			BindingKey:    o.bindingKey,
			PrefetchCount: o.prefetch,
		},
		Redis: &config.RedisConfig{
			// the values of Machinery's integration suite
			NormalTasksPollPeriod:  1000,
			DelayedTasksPollPeriod: 500,
		},
		// signals are handled by Machinery's worker (first SIGTERM/SIGINT =
		// graceful quit); the bench turns them off and handles them itself
		NoUnixSignals: false,
	}
}

// redisAddr turns redis://[user:pass@]host:port[/db] into the address form
// NewGR expects ("[user:pass@]host:port" or "pass@host:port") and the db.
func redisAddr(raw string) (string, int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, err
	}
	host := u.Host
	if host == "" {
		return "", 0, fmt.Errorf("no host in %q", raw)
	}
	if !strings.Contains(host, ":") {
		host += ":6379"
	}
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		if db, err = strconv.Atoi(p); err != nil {
			return "", 0, fmt.Errorf("bad redis db %q in %q", p, raw)
		}
	}
	if u.User != nil {
		pass, hasPass := u.User.Password()
		user := u.User.Username()
		switch {
		case hasPass && user != "":
			host = user + ":" + pass + "@" + host
		case hasPass:
			host = pass + "@" + host
		case user != "":
			// redis://password@host form
			host = user + "@" + host
		}
	}
	return host, db, nil
}

func scheme(raw string) string {
	if i := strings.Index(raw, "://"); i > 0 {
		return strings.ToLower(raw[:i])
	}
	return ""
}

func newBroker(cnf *config.Config) (brokersiface.Broker, error) {
	switch scheme(cnf.Broker) {
	case "redis":
		addr, db, err := redisAddr(cnf.Broker)
		if err != nil {
			return nil, err
		}
		return redisbroker.NewGR(cnf, []string{addr}, db), nil
	case "amqp", "amqps":
		return amqpbroker.New(cnf), nil
	case "gcppubsub":
		// gcppubsub://PROJECT/SUBSCRIPTION, as Machinery's v1 factory; the client honours PUBSUB_EMULATOR_HOST
		project, subscription, ok := strings.Cut(strings.TrimPrefix(cnf.Broker, "gcppubsub://"), "/")
		if !ok || project == "" || subscription == "" {
			return nil, fmt.Errorf("bad Pub/Sub broker URL %q (want gcppubsub://PROJECT/SUBSCRIPTION)", cnf.Broker)
		}
		return gcppubsubbroker.New(cnf, project, subscription)
	case "http", "https":
		return newSQSBroker(cnf) // aws.go
	}
	return nil, fmt.Errorf("unsupported broker URL %q (want redis://, amqp://, gcppubsub:// or an SQS http(s):// URL)", cnf.Broker)
}

func newBackend(cnf *config.Config) (backendsiface.Backend, error) {
	switch scheme(cnf.ResultBackend) {
	case "redis":
		addr, db, err := redisAddr(cnf.ResultBackend)
		if err != nil {
			return nil, err
		}
		return redisbackend.NewGR(cnf, []string{addr}, db), nil
	case "amqp", "amqps":
		return amqpbackend.New(cnf), nil
	case "mongodb", "mongodb+srv":
		// cnf.MongoDB is nil: Go's default database "machinery"; the URI is handed to the driver as it is
		return mongobackend.New(cnf)
	case "memcache":
		// v1's factory form: memcache://host:port[,host:port...] (v2 takes the server list as given)
		return memcachebackend.New(cnf, strings.Split(strings.TrimPrefix(cnf.ResultBackend, "memcache://"), ",")), nil
	case "http", "https", "dynamodb":
		return newDynamoDBBackend(cnf) // aws.go
	}
	return nil, fmt.Errorf("unsupported result backend URL %q (want redis://, amqp://, mongodb://, memcache:// or DynamoDB's http(s):// or dynamodb://)", cnf.ResultBackend)
}

// newServer builds a Machinery server with every interop task registered.
func newServer(cnf *config.Config) (*machinery.Server, error) {
	broker, err := newBroker(cnf)
	if err != nil {
		return nil, err
	}
	backend, err := newBackend(cnf)
	if err != nil {
		return nil, err
	}
	srv := machinery.NewServer(cnf, broker, backend, eagerlock.New())
	if err := srv.RegisterTasks(taskMap()); err != nil {
		return nil, err
	}
	return srv, nil
}
