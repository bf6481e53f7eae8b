package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * The task's ids are in the MDC while the broker publishes it, and the caller's MDC is put back
 * after.
 */
class TaskMdcTest {
  @Test
  void theBrokerPublishesWithTheTaskInTheMdcAndTheCallersValuesComeBack() {
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    Map<String, String> seen = new ConcurrentHashMap<>();
    Broker capturing =
        new DelegatingBroker(memory) {
          @Override
          public void publish(Signature signature, byte[] message) {
            seen.put("uuid", String.valueOf(MDC.get(Worker.MDC_TASK_UUID)));
            seen.put("name", String.valueOf(MDC.get(Worker.MDC_TASK_NAME)));
            seen.put("group", String.valueOf(MDC.get(Worker.MDC_GROUP_UUID)));
            seen.put("queue", String.valueOf(MDC.get(Worker.MDC_QUEUE)));
            seen.put("request", String.valueOf(MDC.get("request")));
            memory.publish(signature, message);
          }

          @Override
          public void close() {
            memory.close();
          }
        };
    MDC.put(Worker.MDC_TASK_UUID, "the caller's own task");
    MDC.put("request", "the caller's request");
    try (Server server = Server.builder().broker(capturing).build()) {
      String uuid = server.sendTask(Signature.create("hello")).signature().uuid();

      assertThat(seen)
          .containsEntry("uuid", uuid)
          .containsEntry("name", "hello")
          .containsEntry("group", "null")
          .containsEntry("queue", Config.DEFAULT.defaultQueue())
          .containsEntry("request", "the caller's request");
      assertThat(MDC.get(Worker.MDC_TASK_UUID)).isEqualTo("the caller's own task");
      assertThat(MDC.get(Worker.MDC_TASK_NAME)).isNull();
      assertThat(MDC.get("request")).isEqualTo("the caller's request");
    } finally {
      MDC.clear();
      capturing.close();
    }
  }
}
