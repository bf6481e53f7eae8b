package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.AsyncResult;
import io.machinery.Server;
import java.util.List;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Control features beside Go workers: AMQP broker, AMQP result backend. Each result has one reader
 * here (reading a state takes it away, in Go as in Java), and cancelling has no place to keep
 * revocations.
 */
class AmqpAmqpControlInteropIT extends ControlInteropSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_AMQP;
  }

  /**
   * AMQP's control plane keeps no revocations ({@code AmqpRedisControlInteropIT} runs the Go side
   * of cancelling): {@code Server.cancel} refuses clearly, and the task it named still runs.
   */
  @Test
  @Override
  void goReadsACancelledTaskAsFailedAndGoWorkersIgnoreRevocations() {
    Server server = javaServer(queues("cancel"), null);
    server.newWorker("amqp-only", 1).launchAsync();
    AsyncResult task = server.sendTask(add(1, 2));
    assertThatThrownBy(() -> server.cancel(List.of(task.taskUuid())))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(task.get(TIMEOUT)).containsExactly(3L);
  }

  /** As above. */
  @Test
  @Disabled("Server.cancel refuses without a control plane that keeps revocations (Redis, memory)")
  @Override
  void aMixedPoolSkipsCancelledTasksOnJavaAndRunsThemOnGo() {}
}
