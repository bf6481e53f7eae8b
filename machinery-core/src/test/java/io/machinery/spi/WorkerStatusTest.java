package io.machinery.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.MalformedMessageException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
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
                new WorkerStatus.ScheduledEntry("nightly", "0 3 * * *", T.plusSeconds(60), null)));

    assertThat(WorkerStatus.fromJson(status.toJson())).isEqualTo(status);
  }

  @Test
  void unknownFieldsAreIgnoredAndBadInputIsRefusedClearly() {
    String json =
        "{\"id\":\"x\",\"host\":\"h\",\"pid\":7,\"consumerTag\":\"w\",\"queue\":\"q\",\"concurrency\":1,\"busy\":0,"
            + "\"startedAt\":\"2026-11-30T04:00:00Z\",\"heartbeatAt\":\"2026-11-30T04:00:01Z\",\"future\":{\"a\":1}}";
    assertThat(WorkerStatus.fromJson(json.getBytes(StandardCharsets.UTF_8)).pid()).isEqualTo(7);

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
