package io.machinery.interop;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/** Java sends, Go works: AMQP broker, AMQP result backend. */
class AmqpAmqpJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_AMQP;
  }

  /**
   * Known limitation, not a flake to retry: with Go's AMQP result backend a Go worker that sees the group
   * complete calls TriggerChord (true while no marker queue exists), fails GroupTaskStates ("Already consumed")
   * and then deletes the group's state queue unconditionally (deferred PurgeGroupMeta), racing the Java worker
   * that is reading those states; about one run in six loses the callback. Go's protocol cannot be fixed from the
   * Java side; the same chord shared by Go and Java workers on the Redis backend passes (see the Redis pairs).
   */
  @Test
  @Disabled("Go's AMQP backend purges a group's states while a Java worker reads them; see the Javadoc above")
  @Override
  void chordSharedByGoAndJavaWorkers() {}
}
