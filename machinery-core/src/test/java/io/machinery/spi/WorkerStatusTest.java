package io.machinery.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.MalformedMessageException;
import io.machinery.TaskBreaker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkerStatusTest {
  private static final Instant T = Instant.parse("2026-11-30T04:00:00.123456Z");

  @Test
  void theJsonEncodingRoundTrips() {
    WorkerStatus status =
        new WorkerStatus(
            "h:1:w:abcd",
            "h",
            1,
            "w",
            "machinery_tasks",
            10,
            2,
            true,
            T,
            T.plusSeconds(5),
            List.of(new WorkerStatus.RunningTask("task_1", "add", T.plusSeconds(1))),
            List.of(
                new WorkerStatus.ScheduledEntry("nightly", "0 3 * * *", T.plusSeconds(60), null)),
            Map.of(),
            "",
            "",
            Map.of(),
            false);

    assertThat(WorkerStatus.fromJson(status.toJson())).isEqualTo(status);
  }

  @Test
  void aStartingWorkerSaysSoAndAnOlderStatusWithoutTheFieldReadsAsNotStarting() {
    WorkerStatus starting =
        new WorkerStatus(
            "id",
            "h",
            1,
            "w",
            "q",
            1,
            0,
            false,
            T,
            T,
            List.of(),
            List.of(),
            Map.of(),
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:6379",
            Map.of(),
            true);
    assertThat(WorkerStatus.fromJson(starting.toJson()).starting()).isTrue();
    String older =
        new String(starting.toJson(), java.nio.charset.StandardCharsets.UTF_8)
            .replace("\"starting\":true,", "");
    assertThat(older).doesNotContain("starting");
    assertThat(WorkerStatus.fromJson(older.getBytes(java.nio.charset.StandardCharsets.UTF_8)))
        .isEqualTo(
            new WorkerStatus(
                "id",
                "h",
                1,
                "w",
                "q",
                1,
                0,
                false,
                T,
                T,
                List.of(),
                List.of(),
                Map.of(),
                "redis://127.0.0.1:6379",
                "redis://127.0.0.1:6379",
                Map.of(),
                false));
  }

  @Test
  void breakersThatAreNotClosedTravelAndAnUnknownStateIsLeftOut() {
    Map<String, TaskBreaker.State> states = new HashMap<>();
    states.put("host:a", TaskBreaker.State.OPEN);
    states.put("host:b", TaskBreaker.State.CLOSED);
    states.put("host:c", TaskBreaker.State.HALF_OPEN);
    for (int i = 0; i < 200; i++) {
      states.put("z" + i, TaskBreaker.State.OPEN);
    }
    Map<String, TaskBreaker.State> sent = WorkerStatus.notClosed(states);
    assertThat(sent).hasSize(WorkerStatus.MAX_BREAKERS).doesNotContainKey("host:b");
    assertThat(sent.keySet()).startsWith("host:a", "host:c");
    WorkerStatus status =
        new WorkerStatus(
            "id",
            "h",
            1,
            "w",
            "q",
            1,
            0,
            false,
            T,
            T,
            List.of(),
            List.of(),
            sent,
            "redis://old:6379 -> amqp://new:5672",
            "redis://old:6379 -> mongodb://new:27017",
            Map.of(),
            false);
    assertThat(WorkerStatus.fromJson(status.toJson())).isEqualTo(status);

    String json =
        "{\"id\":\"x\",\"host\":\"h\",\"pid\":7,\"consumerTag\":\"w\",\"queue\":\"q\",\"concurrency\":1,\"busy\":0,"
            + "\"startedAt\":\"2026-11-30T04:00:00Z\",\"heartbeatAt\":\"2026-11-30T04:00:01Z\","
            + "\"breakers\":{\"a\":\"OPEN\",\"b\":\"TRIPPED\",\"c\":7}}";
    assertThat(WorkerStatus.fromJson(json.getBytes(StandardCharsets.UTF_8)).breakers())
        .containsExactly(Map.entry("a", TaskBreaker.State.OPEN));
  }

  @Test
  void theLimitsInForceTravelWithTheirSourceAndAtMostTheBoundOfThemTheFirstByName() {
    Map<String, WorkerStatus.LimitInForce> limits = new HashMap<>();
    limits.put(
        "charge", new WorkerStatus.LimitInForce(2, Duration.ofSeconds(1), 2, 1, false, true));
    limits.put("fetch", new WorkerStatus.LimitInForce(0, Duration.ZERO, 0, 4, true, false));
    for (int i = 0; i < 200; i++) {
      limits.put(
          "z" + i, new WorkerStatus.LimitInForce(1, Duration.ofMinutes(1), 1, 0, false, false));
    }
    WorkerStatus status = status(limits);
    assertThat(status.limits()).hasSize(WorkerStatus.MAX_LIMITS);
    assertThat(status.limits().keySet()).startsWith("charge", "fetch").doesNotContain("z99");
    WorkerStatus read = WorkerStatus.fromJson(status.toJson());
    assertThat(read).isEqualTo(status);
    assertThat(read.limits().get("charge").describe())
        .isEqualTo("2 per 1s, burst 2, at most 1 at once");
    assertThat(read.limits().get("fetch").describe()).isEqualTo("at most 4 at once, per key");

    String json =
        new String(status(Map.of("charge", limits.get("charge"))).toJson(), StandardCharsets.UTF_8);
    assertThat(json)
        .as("the period as a task limit setting encodes it")
        .contains(
            "\"limits\":{\"charge\":{\"ratePermits\":2,\"ratePeriodMillis\":1000,\"burst\":2,"
                + "\"maxConcurrent\":1,\"perKey\":false,\"fromControlPlane\":true}}");
  }

  @Test
  void aStatusWithoutLimitsReadsAsNoneAndABadLimitIsRefused() {
    String older =
        "{\"id\":\"x\",\"host\":\"h\",\"pid\":7,\"consumerTag\":\"w\",\"queue\":\"q\",\"concurrency\":1,\"busy\":0,"
            + "\"startedAt\":\"2026-11-30T04:00:00Z\",\"heartbeatAt\":\"2026-11-30T04:00:01Z\"}";
    assertThat(WorkerStatus.fromJson(older.getBytes(StandardCharsets.UTF_8)).limits())
        .as("an older worker's status tells no limits")
        .isEmpty();
    assertThat(
            new WorkerStatus(
                    "x", "h", 1, "w", "q", 1, 0, false, T, T, List.of(), List.of(), Map.of(), "",
                    "", Map.of(), false)
                .limits())
        .isEmpty();

    String negative =
        older.replace(
            "}",
            ",\"limits\":{\"a\":{\"ratePermits\":-1,\"ratePeriodMillis\":1000,\"burst\":0,\"maxConcurrent\":0}}}");
    assertThatThrownBy(() -> WorkerStatus.fromJson(negative.getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("cannot be negative");
    String noPeriod = older.replace("}", ",\"limits\":{\"a\":{\"maxConcurrent\":1}}}");
    assertThatThrownBy(() -> WorkerStatus.fromJson(noPeriod.getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("ratePermits");
  }

  private static WorkerStatus status(Map<String, WorkerStatus.LimitInForce> limits) {
    return new WorkerStatus(
        "id", "h", 1, "w", "q", 1, 0, false, T, T, List.of(), List.of(), Map.of(), "", "", limits,
        false);
  }

  @Test
  void unknownFieldsAreIgnoredAndBadInputIsRefusedClearly() {
    String json =
        "{\"id\":\"x\",\"host\":\"h\",\"pid\":7,\"consumerTag\":\"w\",\"queue\":\"q\",\"concurrency\":1,\"busy\":0,"
            + "\"startedAt\":\"2026-11-30T04:00:00Z\",\"heartbeatAt\":\"2026-11-30T04:00:01Z\",\"future\":{\"a\":1}}";
    assertThat(WorkerStatus.fromJson(json.getBytes(StandardCharsets.UTF_8)).pid()).isEqualTo(7);
    assertThat(WorkerStatus.fromJson(json.getBytes(StandardCharsets.UTF_8)).broker())
        .as("an older worker's status has no broker")
        .isEmpty();
    assertThat(WorkerStatus.fromJson(json.getBytes(StandardCharsets.UTF_8)).resultBackend())
        .as("nor result backend")
        .isEmpty();

    assertThatThrownBy(() -> WorkerStatus.fromJson("{\"id\":1}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("not a worker status");
    assertThatThrownBy(
            () ->
                WorkerStatus.fromJson(
                    "[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class);
    assertThatThrownBy(() -> WorkerStatus.fromJson(new byte[WorkerStatus.MAX_JSON_BYTES + 1]))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("over the limit");
  }
}
