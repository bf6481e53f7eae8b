package io.machinery.interop;

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

  /** AMQP's control plane keeps no revocations; {@code AmqpRedisControlInteropIT} runs this. */
  @Test
  @Disabled("Server.cancel refuses without a control plane that keeps revocations (Redis, memory)")
  @Override
  void goReadsACancelledTaskAsFailedAndGoWorkersIgnoreRevocations() {}

  /** As above. */
  @Test
  @Disabled("Server.cancel refuses without a control plane that keeps revocations (Redis, memory)")
  @Override
  void aMixedPoolSkipsCancelledTasksOnJavaAndRunsThemOnGo() {}
}
