package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import io.machinery.spi.WorkerStatus;
import io.machinery.spi.WorkerStatus.LimitInForce;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A task limit set in the control plane at run time ({@link Inspection#setTaskLimit}) holds on a
 * running worker within a heartbeat, over a configured limit (whose key function stays) or as a new
 * one, and is gone when cleared; the worker's heartbeat tells the limits in force and which numbers
 * the control plane set (memory broker, the wall clock).
 */
class WorkerTaskLimitSettingTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);
  private static final Duration BEAT = Duration.ofMillis(100);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final AtomicInteger limitDeferrals = new AtomicInteger();
  private final Server server =
      Server.builder()
          .config(config)
          .broker(broker)
          .backend(backend)
          .listener(
              new TaskListener() {
                @Override
                public void deferred(Signature signature, String queue, TaskDeferral deferral) {
                  if (deferral.reason() == TaskDeferral.Reason.LIMIT) {
                    limitDeferrals.incrementAndGet();
                  }
                }
              })
          .build();
  private final Inspection inspection = Inspection.of(server);

  WorkerTaskLimitSettingTest() {
    server.registerTask("hello", TaskFunction.of(() -> "hi"));
    server.registerTask("charge", TaskFunction.of(String.class, customer -> customer));
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    backend.close();
  }

  private Worker launch() {
    Worker worker =
        server
            .workerBuilder("limit-settings")
            .concurrency(4)
            .heartbeatInterval(BEAT)
            .maxLimitDelay(Duration.ofMillis(200))
            .limit(
                "charge",
                TaskLimit.builder()
                    .maxConcurrent(10)
                    .key(signature -> "customer:" + signature.args().get(0).value())
                    .build())
            .build();
    worker.launchAsync();
    return worker;
  }

  @Test
  void aLimitSetBeforeTheWorkerStartsHoldsFromItsFirstDeliveryUntilCleared() {
    inspection.setTaskLimit("hello", TaskLimitSetting.rate(1, Duration.ofHours(1)));
    Worker worker = launch();
    assertThat(worker.limits().get("hello").interval()).isEqualTo(Duration.ofHours(1));

    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      results.add(server.sendTask(Signature.create("hello")));
    }
    // one start an hour: the first runs, the other two are handed back, again and again
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                limitDeferrals.get() >= 4
                    && results.stream().filter(r -> r.state() == State.SUCCESS).count() == 1);

    inspection.clearTaskLimit("hello");
    for (AsyncResult result : results) {
      assertThat(result.get(PATIENCE)).containsExactly("hi");
    }
    assertThat(worker.limits()).doesNotContainKey("hello");
    assertThat(inspection.taskLimits()).isEmpty();
  }

  @Test
  void aSettingReplacesTheNumbersOfAConfiguredLimitAndKeepsItsKey() {
    Worker worker = launch();
    assertThat(worker.limits().get("charge").maxConcurrent()).isEqualTo(10);

    inspection.setTaskLimit("charge", TaskLimitSetting.rate(2, Duration.ofMinutes(1)));
    TaskLimit set =
        await()
            .atMost(PATIENCE)
            .until(() -> worker.limits().get("charge"), limit -> limit.hasRate());
    assertThat(set.maxConcurrent()).as("the setting's numbers only").isZero();
    assertThat(set.interval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(set.keyOf(charge("ann"))).isEqualTo("customer:ann");

    assertThat(server.sendTask(charge("bob")).get(PATIENCE)).containsExactly("bob");
    assertThat(server.sendTask(charge("bob")).get(PATIENCE)).containsExactly("bob");
    assertThat(server.sendTask(charge("ann")).get(PATIENCE))
        .as("another customer, another budget")
        .containsExactly("ann");
    assertThat(limitDeferrals.get()).as("a burst of 2 per customer").isZero();
    AsyncResult third = server.sendTask(charge("bob"));
    await().atMost(PATIENCE).until(() -> limitDeferrals.get() >= 1);
    assertThat(third.state()).isEqualTo(State.PENDING);

    inspection.clearTaskLimit("charge");
    await().atMost(PATIENCE).until(() -> worker.limits().get("charge"), limit -> !limit.hasRate());
    assertThat(worker.limits().get("charge").maxConcurrent()).isEqualTo(10);
    assertThat(third.get(PATIENCE)).containsExactly("bob");
  }

  @Test
  void theHeartbeatTellsTheLimitsInForceAndWhichNumbersTheControlPlaneSet() {
    Worker worker =
        server
            .workerBuilder("limits-told")
            .heartbeatInterval(BEAT)
            .limit("hello", TaskLimit.maxConcurrent(4))
            .limit(
                "charge",
                TaskLimit.builder()
                    .rate(5, Duration.ofMinutes(1))
                    .burst(1)
                    .key(signature -> "customer:" + signature.args().get(0).value())
                    .build())
            .build();
    worker.launchAsync();
    String id = worker.controlPlaneId().orElseThrow();
    assertThat(statusOf(id).limits())
        .as("the worker's own limits")
        .containsExactly(
            Map.entry("charge", new LimitInForce(5, Duration.ofMinutes(1), 1, 0, true, false)),
            Map.entry("hello", new LimitInForce(0, Duration.ZERO, 0, 4, false, false)));

    inspection.setTaskLimit(
        "hello", TaskLimitSetting.rate(2, Duration.ofSeconds(1)).withMaxConcurrent(1));
    inspection.setTaskLimit("refund", TaskLimitSetting.maxConcurrent(3));
    Map<String, LimitInForce> set =
        await()
            .atMost(PATIENCE)
            .until(() -> statusOf(id).limits(), limits -> limits.containsKey("refund"));
    assertThat(set)
        .containsExactly(
            Map.entry("charge", new LimitInForce(5, Duration.ofMinutes(1), 1, 0, true, false)),
            Map.entry("hello", new LimitInForce(2, Duration.ofSeconds(1), 2, 1, false, true)),
            Map.entry("refund", new LimitInForce(0, Duration.ZERO, 0, 3, false, true)));

    inspection.setTaskLimit("charge", TaskLimitSetting.maxConcurrent(2));
    assertThat(
            await()
                .atMost(PATIENCE)
                .until(() -> statusOf(id).limits().get("charge"), LimitInForce::fromControlPlane))
        .as("a setting over a limit with a key function counts per key still")
        .isEqualTo(new LimitInForce(0, Duration.ZERO, 0, 2, true, true));

    inspection.clearTaskLimit("hello");
    inspection.clearTaskLimit("refund");
    inspection.clearTaskLimit("charge");
    Map<String, LimitInForce> own =
        Map.of(
            "charge", new LimitInForce(5, Duration.ofMinutes(1), 1, 0, true, false),
            "hello", new LimitInForce(0, Duration.ZERO, 0, 4, false, false));
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> assertThat(statusOf(id).limits()).as("back to the worker's own").isEqualTo(own));
  }

  /** The worker's status in the control plane, as its last heartbeat announced it. */
  private WorkerStatus statusOf(String id) {
    return inspection.workers().stream()
        .filter(w -> w.id().equals(id))
        .findFirst()
        .orElseThrow(() -> new AssertionError("worker " + id + " is not listed"));
  }

  private static Signature charge(String customer) {
    return Signature.builder("charge").args(Arg.of("string", customer)).build();
  }
}
