package io.machinery.backend.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Connection;
import io.machinery.Signature;
import io.machinery.TaskState;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** What the AMQP backend's tests share: their setting, their tasks and the steps of a chord. */
final class AmqpBackendTesting {
  private AmqpBackendTesting() {}

  /** The AMQP backend's tests' setting: broker and result backend on the test RabbitMQ. */
  static Config testConfig() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.amqpUrl())
        .build();
  }

  /** A connection of the test's own, named {@code name}, to the test RabbitMQ. */
  static Connection connect(String name) throws Exception {
    return AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection(name);
  }

  /** A member of a group of {@code count} without a callback: nothing of it is kept. */
  static Signature groupMember(String group, int count) {
    return Signature.builder("add").groupUuid(group).groupTaskCount(count).build();
  }

  /** A member of a chord: it carries the callback, so its final state is also kept for recovery. */
  static Signature chordMember(String group, int count) {
    return Signature.builder("add")
        .groupUuid(group)
        .groupTaskCount(count)
        .chordCallback(Signature.create("sum"))
        .build();
  }

  /** Every state queued for a task, oldest first (reads consume: it reads until there is none). */
  static List<TaskState> readAll(AmqpBackend backend, String taskUuid) {
    List<TaskState> read = new ArrayList<>();
    for (var state = backend.getState(taskUuid);
        state.isPresent();
        state = backend.getState(taskUuid)) {
      read.add(state.get());
    }
    return read;
  }

  /** A winner took the complete group and was killed before it sent the callback. */
  static void aWinnerTookTheGroupAndDied(Config config, String group, int count) {
    try (AmqpBackend winner = AmqpBackend.create(config)) {
      assertThat(winner.groupCompleted(group, count)).isTrue();
      assertThat(winner.triggerChord(group)).isTrue();
    } // killed: the states it took are gone with it
  }

  /**
   * The chord's taker reads the group's states, exactly one of each of {@code members}, and settles
   * the chord (the callback was sent).
   */
  static void takesTheStatesOfAndSettles(AmqpBackend taker, String group, Signature... members) {
    assertThat(taker.groupTaskStates(group, members.length))
        .extracting(TaskState::taskUuid)
        .containsExactlyInAnyOrder(
            Arrays.stream(members).map(Signature::uuid).toArray(String[]::new));
    taker.purgeGroupMeta(group);
  }
}
