package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.TaskDeferral.Reason;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.VirtualTime;
import io.machinery.spi.ControlPlane;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link TaskListener#deferred}: a task handed back to the broker by its limit, its breaker or for
 * want of a function is reported once per hand-back, with the reason, key and delay, and never as
 * received. Driven in virtual time on the memory broker.
 */
class TaskDeferralTest {
  /** A deferral as the listener saw it. */
  record Seen(String task, String queue, TaskDeferral deferral) {}

  private final ManualClock clock = ManualClock.at("2026-12-03T12:00:00Z");
  private final List<Seen> deferrals = new CopyOnWriteArrayList<>();
  private final List<String> received = new CopyOnWriteArrayList<>();
  private Server server;
  private VirtualTime time;

  @BeforeEach
  void start() {
    server =
        Server.builder()
            .clock(clock)
            .listener(
                new TaskListener() {
                  @Override
                  public void received(Signature signature, String queue) {
                    received.add(signature.uuid());
                  }

                  @Override
                  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
                    deferrals.add(new Seen(signature.uuid(), queue, deferral));
                  }
                })
            .build();
    server.registerTask("hello", TaskFunction.of(() -> "hi"));
    server.registerTask(
        "call",
        TaskFunction.of(
            () -> {
              throw new IOException("connection refused");
            }));
    server
        .workerBuilder("deferrals")
        .concurrency(2)
        .taskEvents(true)
        .limit("hello", TaskLimit.builder().rate(1, Duration.ofMinutes(1)).burst(1).build())
        .breaker(
            "call",
            TaskBreaker.builder().window(1).minimumRuns(1).openFor(Duration.ofHours(1)).build())
        .build()
        .launchAsync();
    time = VirtualTime.of(server);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void aLimitWithoutRoomReportsEachHandBackUntilTheTaskRuns() {
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      results.add(server.sendTask(Signature.create("hello")));
    }
    time.runUntilIdle();

    assertThat(deferrals)
        .hasSize(2)
        .allSatisfy(
            seen -> {
              assertThat(seen.deferral().reason()).isEqualTo(Reason.LIMIT);
              assertThat(seen.deferral().key()).isEqualTo("hello");
              assertThat(seen.deferral().delay()).isPositive();
              assertThat(seen.queue()).isEqualTo(server.config().defaultQueue());
              assertThat(received)
                  .as("a deferred task was not received")
                  .doesNotContain(seen.task());
            });

    time.advance(Duration.ofMinutes(5));
    assertThat(results).allSatisfy(r -> assertThat(r.state()).isEqualTo(State.SUCCESS));
    assertThat(received).hasSize(3);
  }

  @Test
  void anOpenBreakerReportsTheParkedTaskUnderItsKey() {
    AsyncResult first = server.sendTask(Signature.create("call"));
    time.runUntilIdle();
    assertThat(first.state()).isEqualTo(State.FAILURE);
    assertThat(deferrals).isEmpty();

    AsyncResult parked = server.sendTask(Signature.create("call"));
    time.runUntilIdle();

    assertThat(deferrals)
        .singleElement()
        .satisfies(
            seen -> {
              assertThat(seen.task()).isEqualTo(parked.taskUuid());
              assertThat(seen.deferral().reason()).isEqualTo(Reason.BREAKER);
              assertThat(seen.deferral().key()).isEqualTo("call");
              assertThat(seen.deferral().delay()).isGreaterThan(Duration.ofMinutes(30));
            });
    assertThat(received).doesNotContain(parked.taskUuid());
    assertThat(parked.state()).isEqualTo(State.PENDING);
  }

  @Test
  void aTaskWithoutAFunctionHereIsReportedAsUnregistered() {
    AsyncResult unknown = server.sendTask(Signature.create("nobody_has_this"));
    time.runUntilIdle();

    assertThat(deferrals)
        .singleElement()
        .satisfies(
            seen -> {
              assertThat(seen.task()).isEqualTo(unknown.taskUuid());
              assertThat(seen.deferral().reason()).isEqualTo(Reason.UNREGISTERED);
              assertThat(seen.deferral().key()).isEqualTo("nobody_has_this");
              assertThat(seen.deferral().delay()).isPositive();
              assertThat(seen.deferral().times()).isEqualTo(1);
            });
    assertThat(received).isEmpty();
  }

  @Test
  void aTasksHistoryShowsItsFirstHandBackAndThenEachPowerOfTwo() {
    AsyncResult unknown = server.sendTask(Signature.create("nobody_has_this"));
    time.advance(Duration.ofSeconds(30)); // back-off 100 ms doubling: handed back 9 times

    assertThat(deferrals)
        .extracting(seen -> seen.deferral().times())
        .containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9);
    Inspection inspection = Inspection.of(server);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> inspection.history(unknown.taskUuid()).size() == 4);
    assertThat(inspection.history(unknown.taskUuid()))
        .allSatisfy(
            event -> {
              assertThat(event.kind()).isEqualTo(ControlPlane.TaskEvent.Kind.DEFERRED);
              assertThat(event.error()).contains("task nobody_has_this is not registered");
            })
        .extracting(ControlPlane.TaskEvent::error)
        .map(error -> error.substring(error.lastIndexOf("(")))
        .containsExactly("(time 1)", "(time 2)", "(time 4)", "(time 8)");
  }
}
