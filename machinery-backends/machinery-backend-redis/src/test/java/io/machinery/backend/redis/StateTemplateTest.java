package io.machinery.backend.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class StateTemplateTest {
  private static final OffsetDateTime CREATED =
      OffsetDateTime.of(2026, 11, 27, 11, 36, 15, 369_603_522, ZoneOffset.UTC);

  private static Signature task(String uuid) {
    return Signature.builder("add").uuid(uuid).build();
  }

  /**
   * What Go's mergeNewTaskState stores: the new state with TaskName and CreatedAt of the stored
   * one.
   */
  private static byte[] goMerge(TaskState next, TaskState stored) {
    return WireCodec.encode(next.withCarriedForward(stored));
  }

  private static byte[] spliced(TaskState next, byte[] stored) {
    return StateTemplate.of(next).with(StateTemplate.carried(stored));
  }

  @Test
  void everyStateSplicedOverAPendingOneIsWhatGoStores() {
    for (String uuid :
        List.of(
            "task_aacbc24a-4c56-4e74-a813-255f13eef782", "chord_x", "odd \"uuid\" <&> \u2028 é")) {
      Signature s = task(uuid);
      TaskState pending = TaskState.pending(s, CREATED);
      byte[] stored = WireCodec.encode(pending);
      List<TaskState> states =
          List.of(
              TaskState.received(s),
              TaskState.started(s),
              TaskState.retry(s),
              TaskState.success(s, List.of()),
              TaskState.success(s, List.of(TaskResult.of(2L))),
              TaskState.success(
                  s,
                  List.of(
                      TaskResult.of("uint64", new BigInteger("18446744073709551615")),
                      TaskResult.of("float64", 0.1),
                      TaskResult.of("string", "\"CreatedAt\":\"x\""))),
              TaskState.failure(s, "oops \"quoted\"\n"));
      for (TaskState next : states) {
        assertThat(new String(spliced(next, stored), StandardCharsets.UTF_8))
            .isEqualTo(new String(goMerge(next, pending), StandardCharsets.UTF_8));
      }
    }
  }

  @Test
  void theCarriedValuesOfAStateWhoseResultsMentionTheKeysAreTheTopLevelOnes() {
    Signature s = task("task_1");
    TaskState stored =
        TaskState.success(
                s,
                List.of(
                    TaskResult.of("string", "\"TaskName\":\"evil\""),
                    TaskResult.of("[]string", List.of("\"CreatedAt\":\"2000-01-01T00:00:00Z\""))))
            .withCarriedForward(TaskState.pending(s, CREATED));
    StateTemplate.Carried carried = StateTemplate.carried(WireCodec.encode(stored));
    assertThat(new String(carried.name(), StandardCharsets.UTF_8)).isEqualTo("\"add\"");
    assertThat(new String(carried.createdAt(), StandardCharsets.UTF_8))
        .isEqualTo("\"2026-11-27T11:36:15.369603522Z\"");
  }

  @Test
  void aStoredStateInAnotherLayoutIsReadAsGoWouldReadIt() {
    byte[] stored =
        "{\"taskname\": \"add\", \"state\": \"PENDING\", \"createdat\": \"2026-11-27T11:36:15.5+02:00\"}"
            .getBytes(StandardCharsets.UTF_8);
    StateTemplate.Carried carried = StateTemplate.carried(stored);
    assertThat(new String(carried.name(), StandardCharsets.UTF_8)).isEqualTo("\"add\"");
    assertThat(new String(carried.createdAt(), StandardCharsets.UTF_8))
        .isEqualTo("\"2026-11-27T11:36:15.5+02:00\"");
  }

  @Test
  void nothingOrSomethingUnreadableCarriesGosZeroValues() {
    assertThat(StateTemplate.carried(null)).isSameAs(StateTemplate.Carried.ZERO);
    assertThat(StateTemplate.carried("not json".getBytes(StandardCharsets.UTF_8)))
        .isSameAs(StateTemplate.Carried.ZERO);
    TaskState received = TaskState.received(task("task_1"));
    assertThat(StateTemplate.of(received).with(StateTemplate.Carried.ZERO))
        .isEqualTo(WireCodec.encode(received));
  }

  @Test
  void aStateFromGoCarriesItsExactBytes() throws IOException {
    Path captured = Path.of("../../interop/go/captured/redis-state-add-pending.json");
    org.junit.jupiter.api.Assertions.assertTrue(
        Files.exists(captured),
        "interop/go/captured is part of the repository; this checkout is incomplete");
    byte[] pending = Files.readAllBytes(captured);
    TaskState decoded = WireCodec.decodeTaskState(pending);
    Signature s = task(decoded.taskUuid());
    byte[] received = StateTemplate.of(TaskState.received(s)).with(StateTemplate.carried(pending));
    byte[] goReceived =
        Files.readAllBytes(Path.of("../../interop/go/captured/redis-state-add-received.json"));
    assertThat(new String(received, StandardCharsets.UTF_8))
        .isEqualTo(new String(goReceived, StandardCharsets.UTF_8));
    assertThat(WireCodec.decodeTaskState(received).state()).isEqualTo(State.RECEIVED);
  }

  @Test
  void aStateWithItsOwnNameOrCreationTimeIsRefused() {
    assertThatThrownBy(() -> StateTemplate.of(TaskState.pending(task("task_1"), CREATED)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
