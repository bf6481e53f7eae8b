package io.machinery.examples;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.lock.redis.RedisLock;
import io.machinery.periodic.PeriodicConfig;
import java.time.Duration;
import java.time.ZoneId;
import java.util.stream.LongStream;

/**
 * The README's "Brokers and backends" and "Periodic tasks" blocks. The README quotes the regions
 * between the {@code README:...} markers verbatim (less their indentation), and {@code
 * ReadmeSnippetsIT} runs them on Redis, so the documentation compiles, runs and closes everything
 * it opens.
 */
public final class ReadmeSnippets {
  private ReadmeSnippets() {}

  /**
   * Sends one task through a Redis broker and backend, with a Redis lock, and prints its result.
   *
   * @param redisUrl the Redis server, for example {@code redis://127.0.0.1:6379}
   * @param queue the queue to use (tests pass a unique one)
   */
  public static void brokersAndBackends(String redisUrl, String queue) {
    // README:brokers:begin
    Config config =
        Config.builder()
            .broker(redisUrl) // redis://[user:]password@host:port/db, rediss://, redis+socket://,
            // host1,host2 (cluster)
            .resultBackend(redisUrl)
            .defaultQueue(queue) // Go's default: machinery_tasks
            .build();
    try (RedisBroker broker = RedisBroker.create(config); // io.machinery:machinery-broker-redis
        RedisBackend backend = RedisBackend.create(config); // io.machinery:machinery-backend-redis
        RedisLock lock = RedisLock.create(config); // io.machinery:machinery-lock-redis
        Server server = Server.create(config, broker, backend, lock)) {
      server.registerTask(
          "add", TaskFunction.varargs(long[].class, numbers -> LongStream.of(numbers).sum()));
      server.newWorker("readme-worker", 10).launchAsync();
      Object sum =
          server
              .sendTask(Signature.create("add", Arg.of(40L), Arg.of(2L)))
              .getValue(Duration.ofSeconds(10));
      System.out.println("40 + 2 = " + sum); // 40 + 2 = 42
    }
    // README:brokers:end
  }

  /**
   * Registers periodic entries on a server with a Redis lock, prints their next fire times, and
   * removes one.
   *
   * @param config a configuration whose broker, backend or lock is a Redis URL (for the lock)
   */
  public static void periodicTasks(Config config) {
    // README:periodic:begin
    try (RedisLock lock = RedisLock.create(config); // shared lock: one run per tick across servers
        Server server =
            Server.builder()
                .lock(lock)
                .periodic(
                    PeriodicConfig.builder()
                        .programName(
                            "billing-worker") // = the Go binary's name to share locks with Go
                        .zone(
                            ZoneId.of(
                                "Europe/Paris")) // for specs without CRON_TZ= (default: JVM zone)
                        .build())
                .build()) {
      server.registerTask("send_report", TaskFunction.of(String.class, to -> "sent to " + to));
      server.newWorker("worker-1", 10).launchAsync();

      server.registerPeriodicTask(
          "0 9 * * MON-FRI",
          "weekday-report",
          Signature.create("send_report", Arg.of("ops@example.com")));
      server.registerPeriodicGroup(
          "@every 15m",
          "health-checks",
          0,
          Signature.create("ping", Arg.of("db")),
          Signature.create("ping", Arg.of("cache")));

      server
          .periodicEntries()
          .forEach(e -> System.out.println(e.name() + " next at " + e.nextFireTime()));
      server.unregisterPeriodic("health-checks");
    }
    // README:periodic:end
  }
}
