package io.machinery.backend.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Edge cases of the AMQP backend: states too large for RabbitMQ, a closed backend's chord wins. */
class AmqpBackendEdgeCasesIT extends AmqpBackendFixture {
  /** The newest state of a task, which the read consumes with every older one. */
  private static TaskState latest(AmqpBackend from, String taskUuid) {
    return AmqpBackendTesting.readAll(from, taskUuid).getLast();
  }

  /**
   * Results over RabbitMQ's max_message_size (16 MiB by default on RabbitMQ 4) are refused with an
   * IllegalArgumentException, nothing stored, so the worker stores FAILURE with the reason. Before,
   * the publish went out: RabbitMQ closed the publishing channel (406), failing the other states in
   * flight on it too, and the worker retried it as an outage until the task was dead-lettered with
   * its state stuck at STARTED.
   */
  @Test
  void resultsTooLargeForAStateMessageAreRefused() {
    Signature task = Signature.create("big");
    backend.setStatePending(task);
    String huge = "x".repeat(AmqpBackend.DEFAULT_MAX_STATE_BYTES + 1);

    assertThatThrownBy(() -> backend.setStateSuccess(task, List.of(TaskResult.of(huge))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(task.uuid())
        .hasMessageContaining("max_message_size");

    assertThat(latest(backend, task.uuid()).state()).isEqualTo(State.PENDING);
    backend.setStateFailure(task, "too large");
    assertThat(latest(backend, task.uuid()).error()).isEqualTo("too large");
  }

  /**
   * A limit of the operator's own (a RabbitMQ with a smaller max_message_size) is kept, and the
   * builder refuses one too small for a FAILURE.
   */
  @Test
  void theStateSizeLimitIsConfigurable() {
    try (AmqpBackend small =
        AmqpBackend.builder(config).maxStateBytes(AmqpBackend.MIN_MAX_STATE_BYTES).build()) {
      Signature task = Signature.create("big");
      assertThatThrownBy(
              () ->
                  small.setStateSuccess(
                      task, List.of(TaskResult.of("x".repeat(AmqpBackend.MIN_MAX_STATE_BYTES)))))
          .isInstanceOf(IllegalArgumentException.class);
      small.setStateSuccess(task, List.of(TaskResult.of("fits")));
      assertThat(latest(small, task.uuid()).state()).isEqualTo(State.SUCCESS);
    }
    assertThatThrownBy(() -> AmqpBackend.builder(config).maxStateBytes(1024))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * A FAILURE is always storable: an error text of any length is cut (it would otherwise be over
   * max_message_size and fail like a too large SUCCESS, leaving the task without a final state).
   */
  @Test
  void aFailuresErrorTextIsCutToFit() {
    Signature task = Signature.create("fails");
    String error = "é".repeat(AmqpBackend.DEFAULT_MAX_STATE_BYTES / 2 + 1); // over 16 MiB in UTF-8

    backend.setStateFailure(task, error);

    TaskState stored = latest(backend, task.uuid());
    assertThat(stored.state()).isEqualTo(State.FAILURE);
    assertThat(stored.error().length()).isLessThan(AmqpBackend.MAX_ERROR_BYTES);
    assertThat(stored.error())
        .startsWith("éé")
        .endsWith("(cut: " + (AmqpBackend.DEFAULT_MAX_STATE_BYTES + 2) + " bytes in all)");
  }

  /**
   * A backend on a shared client that won a chord and is closed before releasing it lets go of the
   * marker, as a stopped worker's connection does. Before, the marker consumer lived on with the
   * shared connection: every other worker took it for a living winner and never recovered the
   * chord, and the channel leaked.
   */
  @Test
  void closingABackendOnASharedClientLetsGoOfItsChordWins() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature member = AmqpBackendTesting.chordMember(group, 1);
    try (AmqpClient shared =
        AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl()))).build()) {
      AmqpBackend onShared = AmqpBackend.builder(config).client(shared).build();
      onShared.setStateSuccess(member, List.of(TaskResult.of(1L)));
      assertThat(onShared.groupCompleted(group, 1)).isTrue();
      assertThat(onShared.triggerChord(group)).isTrue();
      assertThat(rabbit.consumers(ChordTrigger.marker(group)))
          .as("the living winner holds the marker")
          .isEqualTo(1);

      onShared.close();

      assertThat(shared.isClosed()).isFalse();
      assertThat(rabbit.consumers(ChordTrigger.marker(group)))
          .as("a closed backend holds no marker")
          .isZero();
    } finally {
      rabbit.delete(ChordTrigger.marker(group), ChordTrigger.kept(group), member.uuid());
    }
  }
}
