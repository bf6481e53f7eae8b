package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Priorities and fairness on Redis ({@code RedisBroker.Builder.priorities}, {@code fairness})
 * beside the real Go Machinery v2 on the same queue: Go workers keep taking the tasks they can see
 * (the plain list) while Java sends prioritized ones (which wait in band lists for Java workers),
 * and Java workers honour the {@code Priority} and the fairness key header of tasks a Go producer
 * pushed to the plain list.
 */
@Timeout(120)
class RedisPriorityInteropIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private InteropQueue queues;

  @BeforeAll
  static void buildHarness() {
    GoHarness.binary(); // build (or skip/fail) before touching any server
  }

  /**
   * A Java server with priorities on {@code on}'s queue; with {@code ranInOrder}, also a worker of
   * concurrency 1 that records the UUIDs it starts, in order.
   */
  private Server javaServer(InteropQueue on, @Nullable List<String> ranInOrder) {
    Broker broker = RedisBroker.builder(on.javaConfig()).priorities(true).fairness(true).build();
    Backend backend = Pair.REDIS_REDIS.createBackend(on.javaConfig());
    Server server =
        Server.builder().config(on.javaConfig()).broker(broker).backend(backend).build();
    closeables.add(0, broker);
    closeables.add(0, backend);
    closeables.add(0, server);
    InteropTasks.registerWith(server);
    if (ranInOrder != null) {
      server
          .workerBuilder("interop-java-priority")
          .concurrency(1)
          .preTaskHandler(signature -> ranInOrder.add(signature.uuid()))
          .build()
          .launchAsync();
    }
    return server;
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    if (queues != null) {
      for (int band = 1; band <= 9; band++) {
        queues.redis().del("{" + queues.queue + "}:priority:" + band);
      }
      for (String key : List.of("fair", "fair:noisy", "fair:quiet", "fair_direct")) {
        queues.redis().del("{" + queues.queue + "}:" + key);
      }
      queues.close();
    }
  }

  /** Runs the Go sender's {@code scenario} on this test's queue without waiting; its UUIDs. */
  private List<String> goSends(String scenario) {
    List<String> args = new ArrayList<>(queues.goArgs());
    args.addAll(List.of("-scenario", scenario, "-no-wait"));
    GoHarness.Run run = GoHarness.run(TIMEOUT, "send", args);
    assertThat(run.exitCode()).as(run.describe()).isZero();
    List<String> uuids = new ArrayList<>();
    run.single().path("uuids").forEach(u -> uuids.add(u.asText()));
    return uuids;
  }

  private static Signature add(long a, long b, int priority) {
    return Signature.builder("add").args(Arg.of(a), Arg.of(b)).priority(priority).build();
  }

  @Test
  void goWorkersKeepTakingWhatTheySeeWhileJavaSendsPrioritizedTasks() throws Exception {
    queues = InteropQueue.create(Pair.REDIS_REDIS, "priority");
    Server server = javaServer(queues, null);
    GoHarness.GoWorker go =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(
                queues.goArgs(), "-concurrency", "4", "-tag", "interop-go-priority"));
    closeables.add(0, go);
    List<AsyncResult> plain = new ArrayList<>();
    List<AsyncResult> prioritized = new ArrayList<>();
    for (long i = 0; i < 5; i++) {
      plain.add(server.sendTask(add(i, 1, 0)));
      prioritized.add(server.sendTask(add(i, 100, 5)));
    }
    for (int i = 0; i < plain.size(); i++) {
      assertThat(plain.get(i).get(TIMEOUT)).containsExactly(i + 1L); // run by the Go worker
    }
    assertThat(go.isAlive()).isTrue();
    // the Go worker never saw the band: the prioritized tasks wait there for a Java worker
    assertThat(queues.redis().llen("{" + queues.queue + "}:priority:5")).isEqualTo(5);
    for (AsyncResult r : prioritized) {
      assertThat(r.state()).isEqualTo(State.PENDING);
    }
    go.close();
    server.workerBuilder("interop-java").concurrency(2).build().launchAsync();
    for (int i = 0; i < prioritized.size(); i++) {
      assertThat(prioritized.get(i).get(TIMEOUT)).containsExactly(i + 100L);
    }
  }

  @Test
  void javaWorkersHonourThePriorityOfTasksGoSent() {
    queues = InteropQueue.create(Pair.REDIS_REDIS, "priority");
    List<String> uuids = goSends("priority");
    assertThat(uuids).hasSize(6);
    // Go's Redis broker put all six, the prioritized last, in the plain list
    assertThat(queues.redis().llen(queues.queue)).isEqualTo(6);
    List<String> ran = new CopyOnWriteArrayList<>();
    Server server = javaServer(queues, ran);
    await().atMost(TIMEOUT).until(() -> ran.size() == 6);
    assertThat(ran.get(0))
        .as("the Priority 9 task Go sent last runs first")
        .isEqualTo(uuids.get(5));
    assertThat(server.asyncResult(uuids.get(5)).get(TIMEOUT)).containsExactly(6L);
  }

  /**
   * Go encodes the header as Go does ({@code "Headers":{"machinery_fairness_key":"noisy"}}); the
   * Java fetch finds it and moves the tasks to their lanes, so the two "quiet" tasks Go sent after
   * forty "noisy" ones run long before those forty are done.
   */
  @Test
  void javaWorkersShareTurnsBetweenTheFairnessKeysOfTasksGoSent() {
    queues = InteropQueue.create(Pair.REDIS_REDIS, "fairness");
    List<String> uuids = goSends("fairness");
    assertThat(uuids).hasSize(42);
    assertThat(queues.redis().llen(queues.queue)).isEqualTo(42);
    List<String> ran = new CopyOnWriteArrayList<>();
    Server server = javaServer(queues, ran);
    await().atMost(TIMEOUT).until(() -> ran.size() == 42);
    // without the lanes the two would be the last of the 42
    assertThat(ran.indexOf(uuids.get(40))).isLessThan(15);
    assertThat(ran.indexOf(uuids.get(41))).isLessThan(15);
    assertThat(server.asyncResult(uuids.get(41)).get(TIMEOUT)).containsExactly(42L);
  }
}
