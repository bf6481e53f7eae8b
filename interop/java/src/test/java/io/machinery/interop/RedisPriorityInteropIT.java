package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
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
 * Priorities on Redis ({@code RedisBroker.Builder.priorities}) beside the real Go Machinery v2 on
 * the same queue: Go workers keep taking the tasks they can see (the plain list) while Java sends
 * prioritized ones (which wait in band lists for Java workers), and Java workers honour the {@code
 * Priority} of tasks a Go producer pushed to the plain list.
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
    Broker broker = RedisBroker.builder(on.javaConfig()).priorities(true).build();
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
      queues.close();
    }
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
    List<String> args = new ArrayList<>(queues.goArgs());
    args.addAll(List.of("-scenario", "priority", "-no-wait"));
    GoHarness.Run run = GoHarness.run(TIMEOUT, "send", args);
    assertThat(run.exitCode()).as(run.describe()).isZero();
    JsonNode out = run.single();
    List<String> uuids = new ArrayList<>();
    out.path("uuids").forEach(u -> uuids.add(u.asText()));
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
}
