package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.EagerBackend;
import io.machinery.embedded.EagerBroker;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Task limits where the worker's gate has paths of its own: the eager broker, a broken key. */
class WorkerLimitTest {

  @Test
  void onTheEagerBrokerALimitedTaskWaitsInTheSendersThreadInsteadOfBeingDropped() {
    List<Long> stamps = new CopyOnWriteArrayList<>();
    try (EagerBroker broker = EagerBroker.create(Config.DEFAULT);
        EagerBackend backend = EagerBackend.create();
        Server server = Server.builder().broker(broker).backend(backend).build()) {
      server.registerTask(
          "stamp",
          TaskFunction.of(
              () -> {
                stamps.add(System.nanoTime());
                return 1L;
              }));
      server
          .workerBuilder("eager")
          .concurrency(1)
          .limit("stamp", TaskLimit.builder().rate(20, Duration.ofSeconds(1)).burst(1).build())
          .build()
          .launchAsync();
      for (int i = 0; i < 3; i++) {
        assertThat(server.sendTask(Signature.create("stamp")).get(Duration.ofSeconds(5)))
            .containsExactly(1L);
      }
      assertThat(broker.deadLetters()).isEmpty();
    }
    List<Long> sorted = new ArrayList<>(stamps);
    Collections.sort(sorted);
    assertThat((sorted.get(2) - sorted.get(0)) / 1e6).isGreaterThanOrEqualTo(2 * 50 * 0.8);
  }

  @Test
  void aKeyFunctionThatThrowsIsAFailureToProcessAndEndsAsADeadLetterWithTheReason() {
    Config config = Config.DEFAULT;
    try (MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
        MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server = Server.builder().broker(broker).backend(backend).build()) {
      server.registerTask("send", TaskFunction.of(() -> 1L));
      server
          .workerBuilder("w")
          .concurrency(1)
          .maxDeliveries(2)
          .requeueBackoff(new Backoff(Duration.ofMillis(10), Duration.ofMillis(10)))
          .limit(
              "send",
              TaskLimit.builder()
                  .maxConcurrent(1)
                  .key(
                      s -> {
                        throw new IllegalStateException("no customer in the args");
                      })
                  .build())
          .build()
          .launchAsync();
      server.sendTask(Signature.create("send"));
      await().atMost(Duration.ofSeconds(10)).until(() -> !broker.deadLetters().isEmpty());
      assertThat(broker.deadLetters().get(0).reason())
          .contains("its task limit could not be checked")
          .contains("no customer in the args");
    }
  }
}
