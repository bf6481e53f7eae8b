package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.MigratingBroker;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A mixed cluster halfway through a move from Redis to RabbitMQ, with the real Go Machinery v2: a
 * Go worker already moved consumes RabbitMQ, a Go producer not yet moved still sends to Redis, and
 * a Java server with a {@link MigratingBroker} between them sends to RabbitMQ and works both. Go
 * runs what Java sends; Java runs what Go sends, and the chord callbacks and chain steps of Go's
 * workflows continue on RabbitMQ; Redis is left empty. Results live in one Redis backend.
 */
@Timeout(180)
class RedisToAmqpMigrationInteropIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeAll
  static void buildHarness() {
    GoHarness.binary(); // build (or skip/fail) before touching any server
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  @Test
  void goProducersNotYetMovedAndGoWorkersAlreadyMovedWorkWithAMovingJavaServer() {
    InteropQueue old = InteropQueue.create(Pair.REDIS_REDIS, "migration");
    closeables.add(0, old);
    InteropQueue moved = InteropQueue.named(Pair.AMQP_REDIS, old.queue);
    closeables.add(0, moved);
    Config config = moved.javaConfig().toBuilder().migrateFromBroker(Pair.Kind.REDIS.url()).build();
    MigratingBroker broker =
        MigratingBroker.of(
            Pair.REDIS_REDIS.createBroker(old.javaConfig()),
            Pair.AMQP_REDIS.createBroker(moved.javaConfig()));
    Backend backend = Pair.AMQP_REDIS.createBackend(config);
    Server server = Server.builder().config(config).broker(broker).backend(backend).build();
    closeables.add(0, broker);
    closeables.add(0, backend);
    closeables.add(0, server);
    InteropTasks.registerWith(server);

    // a Go worker already moved to RabbitMQ runs what the moving Java server sends (no Java worker
    // runs yet)
    GoHarness.GoWorker goWorker =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(
                moved.goArgs(), "-concurrency", "4", "-tag", "interop-go-moved"));
    closeables.add(0, goWorker);
    List<AsyncResult> sums = new ArrayList<>();
    for (long i = 0; i < 5; i++) {
      sums.add(server.sendTask(Signature.create("add", Arg.of(i), Arg.of(100L))));
    }
    for (int i = 0; i < sums.size(); i++) {
      assertThat(sums.get(i).get(TIMEOUT)).containsExactly(100L + i);
    }
    assertThat(old.redis().llen(old.queue)).as("nothing was sent to Redis").isZero();

    // a Go producer not yet moved sends to Redis; the moving Java worker runs it, and what the
    // workflows send next goes to RabbitMQ (run by the Java worker or the Go one)
    server.newWorker("moving", 4).launchAsync();
    for (String scenario : List.of("task", "chain", "chord", "retry_later")) {
      List<String> args = new ArrayList<>(old.goArgs());
      args.addAll(List.of("-scenario", scenario, "-timeout", "30s"));
      GoHarness.Run run = GoHarness.run(Duration.ofSeconds(90), "send", args);
      JsonNode out = run.single();
      assertThat(out.path("ok").asBoolean())
          .as("Go's verdict on scenario %s: %s%nGo's log: %s", scenario, out, run.log())
          .isTrue();
    }
    assertThat(old.redis().llen(old.queue)).as("Redis is left empty").isZero();
  }
}
