package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * The chart's samples, taken by hand on the memory broker: sizes, running, finished and new dead
 * letters.
 */
class SamplerTest {
  @Test
  void countsRunningTasksThatFinishAndDeadLettersThatAppear() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (Server server = Server.builder().build()) {
      server.registerTask(
          "hold",
          TaskFunction.of(
              () -> {
                release.await();
                return "ok";
              }));
      Inspection inspection = Inspection.of(server);
      Worker worker =
          server
              .workerBuilder("sampler")
              .concurrency(2)
              .heartbeatInterval(Duration.ofMillis(100))
              .maxUnregisteredRequeues(1)
              .build();
      worker.launchAsync();
      try (Sampler sampler = new Sampler(inspection, true, Clock.systemUTC(), 3)) {
        server.sendTask(Signature.create("hold"));
        server.sendTask(Signature.create("hold"));
        await().atMost(Duration.ofSeconds(10)).until(() -> inspection.inFlight("").size() == 2);
        sampler.sample();
        assertThat(sampler.samples())
            .singleElement()
            .satisfies(
                s -> {
                  assertThat(s.running()).isEqualTo(2);
                  assertThat(s.finished()).isZero();
                  assertThat(s.newDeadLetters()).isZero();
                });

        release.countDown();
        server.sendTask(Signature.create("nobody_has_this"));
        await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () ->
                    inspection.inFlight("").isEmpty() && inspection.queue("").deadLettered() == 1);
        sampler.sample();
        Sampler.Sample second = sampler.samples().get(1);
        assertThat(second.running()).isZero();
        assertThat(second.finished()).as("both seen running, both gone").isEqualTo(2);
        assertThat(second.newDeadLetters()).isEqualTo(1);
        assertThat(second.deadLettered()).isEqualTo(1);

        sampler.sample();
        sampler.sample();
        assertThat(sampler.samples()).as("a ring of 3").hasSize(3);
        assertThat(sampler.samples().get(0).finished()).as("the oldest was dropped").isEqualTo(2);
        assertThat(sampler.samples().get(2).finished()).isZero();
        assertThat(sampler.samples().get(2).newDeadLetters()).isZero();
      } finally {
        release.countDown();
        worker.quit();
      }
    }
  }
}
