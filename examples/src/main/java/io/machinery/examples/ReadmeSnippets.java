package io.machinery.examples;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Dag;
import io.machinery.DagAsyncResult;
import io.machinery.Saga;
import io.machinery.SagaFailedException;
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
import java.util.List;
import java.util.stream.LongStream;

/**
 * The README's "Brokers and backends", "Periodic tasks", "Controlling what runs", DAG and saga
 * blocks. The README quotes the regions between the {@code README:...} markers verbatim (less their
 * indentation), and {@code ReadmeSnippetsIT} runs them on Redis, so the documentation compiles,
 * runs and closes everything it opens.
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

  /**
   * Sends a task uniquely, cancels another before it starts, then runs the first on a Redis broker
   * and backend and prints its result and last progress report.
   *
   * @param config a configuration whose broker and result backend are Redis URLs
   * @param image the task's argument; the uniqueness key derives from it (tests pass a fresh one)
   */
  public static void controllingWhatRuns(Config config, String image) {
    // README:control:begin
    try (RedisBroker broker = RedisBroker.create(config); // its control plane keeps revocations
        RedisBackend backend = RedisBackend.create(config); // keeps progress and uniqueness keys
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "resize",
          TaskFunction.withContext(
              List.of(String.class),
              false,
              (task, args) -> {
                for (int pass = 1; pass <= 3 && !task.isCancelled(); pass++) {
                  task.reportProgress(pass, 3, "pass " + pass + " of 3"); // stored beside the state
                }
                return "resized " + args[0];
              }));
      Signature resize = Signature.create("resize", Arg.of(image));
      // A duplicate sent while the first is pending or running gets the first one's handle.
      AsyncResult first = server.sendTaskUnique(resize, Duration.ofMinutes(5));
      AsyncResult again = server.sendTaskUnique(resize, Duration.ofMinutes(5));
      System.out.println(again.taskUuid().equals(first.taskUuid())); // true
      // A task cancelled before it starts never runs; every client, Go's too, reads FAILURE.
      AsyncResult unwanted = server.sendTask(Signature.create("resize", Arg.of("old.png")));
      server.cancel(List.of(unwanted.taskUuid()));
      System.out.println(unwanted.taskState().orElseThrow().error()); // cancelled

      server.newWorker("images", 4).launchAsync();
      System.out.println(first.get(Duration.ofSeconds(10))); // [resized <image>]
      System.out.println(first.progress().orElseThrow().message()); // pass 3 of 3
    }
    // README:control:end
  }

  /**
   * Sends a DAG to a Redis broker and backend: two tasks share a dependency and a third joins them;
   * prints each task's result.
   *
   * @param config a configuration whose broker and result backend are Redis URLs
   */
  public static void dag(Config config) {
    // README:dag:begin
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("fetch", TaskFunction.of(String.class, url -> "<page of " + url + ">"));
      server.registerTask(
          "words", TaskFunction.of(String.class, page -> (long) page.split(" ").length));
      server.registerTask(
          "links",
          TaskFunction.of(String.class, page -> (long) page.split("href=", -1).length - 1));
      server.registerTask(
          "report",
          TaskFunction.of(
              String.class,
              Long.class,
              Long.class,
              (url, words, links) -> url + ": " + words + " words, " + links + " links"));
      Dag dag =
          Dag.builder()
              .task("fetch", Signature.create("fetch", Arg.of("example.com")))
              .task("words", Signature.create("words"), "fetch") // gets fetch's result
              .task("links", Signature.create("links"), "fetch")
              .task("report", Signature.create("report", Arg.of("example.com")), "words", "links")
              .build();
      server.newWorker("dag-worker", 4).launchAsync();
      DagAsyncResult result = server.sendDag(dag);
      // report runs once words and links succeeded, with their results after its own argument
      System.out.println(result.asyncResult("report").getValue(Duration.ofSeconds(10)));
      // example.com: 3 words, 0 links
    }
    // README:dag:end
  }

  /**
   * Sends a saga to a Redis broker and backend: a flight and a hotel are reserved, the charge
   * fails, and the two reservations are cancelled, the hotel first; prints what was undone and why.
   *
   * @param config a configuration whose broker and result backend are Redis URLs
   */
  public static void saga(Config config) {
    // README:saga:begin
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "reserveFlight", TaskFunction.of(String.class, route -> "flight " + route));
      server.registerTask(
          "reserveHotel",
          TaskFunction.of(String.class, String.class, (city, flight) -> "hotel in " + city));
      server.registerTask(
          "charge",
          TaskFunction.of(
              String.class,
              String.class,
              (customer, hotel) -> {
                throw new IllegalStateException("card declined");
              }));
      // a compensation gets its own arguments, then the results of the step it undoes
      server.registerTask(
          "cancel",
          TaskFunction.of(
              String.class,
              reservation -> {
                System.out.println("cancelled " + reservation);
                return null;
              }));
      Saga trip =
          Saga.builder()
              .step(
                  Signature.create("reserveFlight", Arg.of("LHR-JFK")), Signature.create("cancel"))
              .step(Signature.create("reserveHotel", Arg.of("NYC")), Signature.create("cancel"))
              .step(Signature.create("charge", Arg.of("c-42")))
              .build();
      server.newWorker("trips", 4).launchAsync();
      try {
        server.sendSaga(trip).get(Duration.ofSeconds(10));
      } catch (SagaFailedException e) { // cancelled hotel in NYC, then cancelled flight LHR-JFK
        System.out.println(e.getMessage());
        // saga step 2 (charge) failed: card declined; the steps before it were undone (2
        // compensations ran)
      }
    }
    // README:saga:end
  }
}
