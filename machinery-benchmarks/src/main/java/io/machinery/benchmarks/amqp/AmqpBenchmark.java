package io.machinery.benchmarks.amqp;

import static io.machinery.benchmarks.BareComparison.env;
import static io.machinery.benchmarks.Drivers.percentile;
import static io.machinery.benchmarks.Drivers.runConcurrently;
import static io.machinery.benchmarks.Drivers.seconds;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.benchmarks.BareComparison;
import io.machinery.benchmarks.BareComparison.Result;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * No-op tasks through the AMQP broker against a bare amqp-client loop on the same RabbitMQ, in one
 * run.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.amqp.AmqpBenchmark \
 *     [--tasks 100000] [--concurrency 1,10,100] [--amqp-url amqp://guest:guest@127.0.0.1:5672/] \
 *     [--redis-url redis://127.0.0.1:6379] [--backends null,memory,redis]
 * </pre>
 *
 * <p>For each concurrency N, three phases per setup, each on a fresh queue:
 *
 * <ul>
 *   <li><b>enqueue</b>: N threads send {@code --tasks} tasks; each send returns after the broker's
 *       publisher confirm. Machinery: {@code Server.sendTask} (PENDING stored, JSON encoded,
 *       mandatory persistent publish, confirm). Bare: N threads, a channel each in confirm mode,
 *       persistent publish of the same JSON bytes, {@code waitForConfirmsOrDie} per message.
 *   <li><b>drain</b>: the queue full, a worker of concurrency N runs them. Machinery: a {@code
 *       Worker} (RECEIVED, STARTED, call, SUCCESS stored, ack). Bare: one consumer, QoS {@code
 *       max(3, N)}, N threads that ack each message.
 *   <li><b>latency</b>: a tenth of the tasks sent by N threads while the worker runs;
 *       send-to-finish time, p50 and p99.
 * </ul>
 *
 * <p>The bare loop is the ceiling; the ratio column is Machinery divided by bare. The {@code null}
 * backend stores nothing and shows the broker path alone; {@code memory} and {@code redis} add a
 * result backend's writes (three per task). Environment variables {@code AMQP_URL} and {@code
 * REDIS_URL} (from {@code scripts/services.sh}) are the defaults for the URLs; the Redis backend is
 * skipped when no Redis URL is given.
 *
 * <p>Size: a benchmark program (scenarios, baselines side by side, the printed table), not library
 * code.
 */
public final class AmqpBenchmark {
  private AmqpBenchmark() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options =
        BareComparison.options(
            args,
            "AmqpBenchmark [--tasks N] [--concurrency 1,10,100] [--amqp-url URL] [--redis-url URL] [--backends memory,redis]");
    int tasks = Integer.parseInt(options.getOrDefault("tasks", "100000"));
    int[] concurrencies = BareComparison.concurrencies(options);
    String amqpUrl =
        options.getOrDefault("amqp-url", env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"));
    String redisUrl = options.getOrDefault("redis-url", env("REDIS_URL", ""));
    List<String> backends = BareComparison.backends(options, redisUrl);

    System.out.printf(
        Locale.ROOT,
        "AMQP benchmark: %d no-op tasks, concurrency %s, RabbitMQ %s, backends %s, %d CPUs, Java %s%n",
        tasks,
        Arrays.toString(concurrencies),
        AmqpUrl.parse(amqpUrl),
        backends,
        Runtime.getRuntime().availableProcessors(),
        Runtime.version());
    List<Result> results = new ArrayList<>();
    for (int concurrency : concurrencies) {
      Result bare = bare(amqpUrl, tasks, concurrency);
      results.add(bare);
      BareComparison.printLine(bare, bare);
      for (String backend : backends) {
        Config config =
            Config.builder()
                .broker(amqpUrl)
                .resultBackend(backend.equals("redis") ? redisUrl : amqpUrl)
                .defaultQueue("bench_" + UUID.randomUUID().toString().substring(0, 8))
                .build();
        Result ours =
            machinery(
                "machinery amqp + " + backend,
                config,
                BareComparison.backend(backend, config),
                tasks,
                concurrency);
        results.add(ours);
        BareComparison.printLine(ours, bare);
      }
    }
    BareComparison.printTable(results);
  }

  // ------------------------------------------------------------------------------------------
  // Machinery

  private static Result machinery(
      String setup, Config config, Supplier<Backend> backends, int tasks, int concurrency)
      throws Exception {
    try (AmqpBroker broker = AmqpBroker.create(config);
        Backend backend = backends.get();
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      Result result = BareComparison.measure(setup, server, tasks, concurrency, 2_000);
      deleteQueue(config.broker(), config.defaultQueue());
      return result;
    }
  }

  // ------------------------------------------------------------------------------------------ bare
  // amqp-client

  private static Result bare(String amqpUrl, int tasks, int concurrency) throws Exception {
    String queue = "bench_bare_" + UUID.randomUUID().toString().substring(0, 8);
    byte[] body =
        io.machinery.wire.WireCodec.encode(
            Signature.builder("noop")
                .uuid("task_" + UUID.randomUUID())
                .routingKey(queue)
                .headers(Map.of())
                .build());
    AMQP.BasicProperties persistent =
        new AMQP.BasicProperties.Builder().contentType("application/json").deliveryMode(2).build();
    try (Connection publishing = connect(amqpUrl, "bench-bare-publisher");
        Connection consuming = connect(amqpUrl, "bench-bare-consumer")) {
      try (Channel admin = publishing.createChannel()) {
        admin.queueDeclare(queue, true, false, false, null);
      }
      ThreadLocal<Channel> channels =
          ThreadLocal.withInitial(
              () -> {
                try {
                  Channel ch = publishing.createChannel();
                  ch.confirmSelect();
                  return ch;
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      // warm-up like the Machinery run
      runConcurrently(
          concurrency, 2_000, i -> publishConfirmed(channels.get(), queue, persistent, body));
      consume(consuming, queue, 2_000, concurrency, null);

      long start = System.nanoTime();
      runConcurrently(
          concurrency, tasks, i -> publishConfirmed(channels.get(), queue, persistent, body));
      double enqueue = tasks / seconds(start);

      start = System.nanoTime();
      consume(consuming, queue, tasks, concurrency, null);
      double drain = tasks / seconds(start);

      int count = Math.max(1, tasks / 10);
      long[] latencies = new long[count];
      Thread consumer =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      consume(consuming, queue, count, concurrency, latencies);
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                  });
      runConcurrently(
          concurrency,
          count,
          i ->
              publishConfirmed(
                  channels.get(),
                  queue,
                  persistent,
                  ByteBuffer.allocate(8).putLong(System.nanoTime()).array()));
      consumer.join();
      try (Channel admin = publishing.createChannel()) {
        admin.queueDelete(queue);
      }
      return new Result(
          "bare amqp-client",
          concurrency,
          enqueue,
          drain,
          percentile(latencies, 0.50),
          percentile(latencies, 0.99));
    }
  }

  private static void publishConfirmed(
      Channel channel, String queue, AMQP.BasicProperties properties, byte[] body)
      throws Exception {
    channel.basicPublish("", queue, true, properties, body);
    channel.waitForConfirmsOrDie(30_000);
  }

  /**
   * Consumes {@code count} messages with QoS max(3, concurrency) and {@code concurrency} threads
   * that ack.
   */
  private static void consume(
      Connection connection, String queue, int count, int concurrency, long[] latencies)
      throws Exception {
    CountDownLatch finished = new CountDownLatch(count);
    AtomicInteger seen = new AtomicInteger();
    ExecutorService workers = Executors.newFixedThreadPool(concurrency);
    Channel channel = connection.createChannel();
    try {
      channel.basicQos(Math.max(3, concurrency));
      channel.basicConsume(
          queue,
          false,
          new DefaultConsumer(channel) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
              workers.execute(
                  () -> {
                    try {
                      if (latencies != null) {
                        int i = seen.getAndIncrement();
                        if (i < latencies.length) {
                          latencies[i] = System.nanoTime() - ByteBuffer.wrap(body).getLong();
                        }
                      }
                      channel.basicAck(envelope.getDeliveryTag(), false);
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    } finally {
                      finished.countDown();
                    }
                  });
            }
          });
      if (!finished.await(10, TimeUnit.MINUTES)) {
        throw new IllegalStateException("bare consumer did not finish");
      }
    } finally {
      channel.close();
      workers.shutdown();
    }
  }

  // ------------------------------------------------------------------------------------------
  // helpers

  private static Connection connect(String url, String name) throws Exception {
    AmqpUrl parsed = AmqpUrl.parse(url);
    ConnectionFactory f = parsed.connectionFactory();
    return f.newConnection(name);
  }

  private static void deleteQueue(String url, String queue) throws Exception {
    try (Connection c = connect(url.split(",")[0], "bench-cleanup");
        Channel ch = c.createChannel()) {
      ch.queueDelete(queue);
    }
  }
}
