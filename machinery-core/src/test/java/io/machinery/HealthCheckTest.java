package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HealthCheckTest {
  private final Config config = Config.DEFAULT;
  private final MemoryBroker memoryBroker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend memoryBackend = MemoryBackend.create(config, Clock.systemUTC());
  private final CountDownLatch hang = new CountDownLatch(1);
  private final java.util.concurrent.atomic.AtomicInteger probes =
      new java.util.concurrent.atomic.AtomicInteger();

  @AfterEach
  void tearDown() {
    hang.countDown();
    memoryBroker.close();
    memoryBackend.close();
  }

  /**
   * A fake broker whose reads never answer (a hung connection), delegating the rest to the memory
   * broker.
   */
  private Broker hangingBroker() {
    return new DelegatingBroker(memoryBroker) {
      @Override
      public List<Signature> pendingTasks(String queue) {
        probes.incrementAndGet();
        try {
          hang.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return List.of();
      }

      @Override
      public List<Signature> delayedTasks() {
        return List.of();
      }
    };
  }

  @Test
  void upWhileBrokerAndBackendAnswerAndTheWorkersConsume() {
    try (Server server =
        Server.builder().config(config).broker(memoryBroker).backend(memoryBackend).build()) {
      Worker worker = server.newWorker("health-1", 1);
      worker.launchAsync();

      HealthCheck.Report report = HealthCheck.create(server).check();

      assertThat(report.healthy()).isTrue();
      assertThat(report.consumingWorkers()).containsExactly("health-1");
      assertThat(report.toString()).startsWith("UP");

      worker.quit();
      HealthCheck.Report after = HealthCheck.create(server).check();
      assertThat(after.healthy()).isFalse();
      assertThat(after.stoppedWorkers()).containsExactly("health-1");
    }
  }

  @Test
  void aFailingBackendIsDownWithTheReason() {
    FaultyBackend backend =
        new FaultyBackend(memoryBackend).failing(FaultyBackend.Op.GET_STATE, FaultyBackend.ALWAYS);
    try (Server server =
        Server.builder().config(config).broker(memoryBroker).backend(backend).build()) {
      HealthCheck.Report report = HealthCheck.create(server).check();

      assertThat(report.healthy()).isFalse();
      assertThat(report.brokerError()).isNull();
      assertThat(report.backendError()).contains("injected failure of GET_STATE");
    }
  }

  @Test
  void aBrokerThatDoesNotAnswerIsDownAfterTheTimeoutInsteadOfHangingTheCaller() {
    try (Server server =
        Server.builder().config(config).broker(hangingBroker()).backend(memoryBackend).build()) {
      HealthCheck.Report report = HealthCheck.create(server, Duration.ofMillis(200)).check();

      assertThat(report.healthy()).isFalse();
      assertThat(report.brokerError()).isEqualTo("no answer within PT0.2S");
      assertThat(report.backendError()).isNull();

      HealthCheck check = HealthCheck.create(server, Duration.ofMillis(50));
      check.check();
      check.check();
      assertThat(probes.get())
          .as("a hung probe is waited for again, not started anew")
          .isEqualTo(2);
    }
  }
}
