package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Control features beside Go workers: AMQP broker, AMQP result backend, whose control plane keeps
 * the revocations in RabbitMQ. Each result has one reader here (reading a state takes it away, in
 * Go as in Java).
 */
class AmqpAmqpControlInteropIT extends ControlInteropSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_AMQP;
  }

  /**
   * As the suite's, with the AMQP-only control plane keeping the revocation (its ledger in
   * RabbitMQ) and one reader per state (reading takes it away): Go reads the cancelled task as
   * FAILURE {@code cancelled}, a Go worker runs it anyway, and Java reads its SUCCESS.
   */
  @Test
  @Override
  void goReadsACancelledTaskAsFailedAndGoWorkersIgnoreRevocations() {
    InteropQueue q = queues("cancel");
    Server server = javaServer(q, null);
    AsyncResult cancelled = server.sendTask(add(1, 2)); // no worker consumes the queue yet
    String uuid = cancelled.taskUuid();
    assertThat(server.cancel(List.of(uuid))).isEqualTo(1);
    JsonNode goRead = GoHarness.result(q.goArgs(), uuid);
    assertThat(goRead.path("state").asText()).isEqualTo("FAILURE");
    assertThat(goRead.path("error").asText()).isEqualTo(Server.CANCELLED_ERROR);

    GoHarness.GoWorker go = goWorker(q, "2");
    assertThat(server.sendTask(add(5, 6)).get(TIMEOUT)).containsExactly(11L);
    await("the Go worker runs the cancelled task")
        .atMost(TIMEOUT)
        .until(() -> uuids(goStarts(go, "add")).contains(uuid));
    assertThat(server.asyncResult(uuid).get(TIMEOUT)).containsExactly(3L);
  }

  /**
   * A task the Go worker ran has, in its state queue, the cancel's FAILURE and then the Go worker's
   * states: read one by one (each read takes one away) up to its SUCCESS.
   */
  @Override
  void assertCancelledTaskEnded(Server server, String uuid, boolean ranOnGo, long value) {
    if (!ranOnGo) {
      super.assertCancelledTaskEnded(server, uuid, false, value);
      return;
    }
    AtomicReference<TaskState> success = new AtomicReference<>();
    await("the Go worker's SUCCESS of " + uuid)
        .atMost(TIMEOUT)
        .until(
            () -> {
              server
                  .backend()
                  .getState(uuid)
                  .filter(state -> state.state() == State.SUCCESS)
                  .ifPresent(success::set);
              return success.get() != null;
            });
    assertThat(success.get().results()).extracting(TaskResult::value).containsExactly(value);
  }
}
