package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.embedded.EagerLock;
import io.machinery.spi.QueueStats;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The README's inspection example, verbatim, on the test Redis (its own default queue, no worker).
 */
class RedisReadmeInspectionIT {

  @Test
  void theReadmeExampleRuns() {
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder()
                .broker(TestEndpoints.redisUrl())
                .resultBackend(TestEndpoints.redisUrl())
                .build(),
            "readme_insp_");
    QueueStats stats;
    List<Signature> next;
    Set<String> pausedMeanwhile;
    // README:inspection:begin
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.create(config, broker, backend, EagerLock.create())) {
      server.sendTask(Signature.create("add"));
      Inspection inspection = Inspection.of(server); // the CLI and the dashboard read the same
      stats =
          inspection.queue(
              ""); // "" = the default queue: pending, delayed, dead letters, oldest age
      next = inspection.pending("", 0, 20); // a page, oldest first
      inspection.requeueDeadLetters("", letter -> letter.reason().contains("timed out"));
      inspection
          .workers()
          .forEach(w -> System.out.println(w.id() + " busy " + w.busy() + "/" + w.concurrency()));
      inspection.pause(""); // every worker stops fetching within a heartbeat
      pausedMeanwhile = inspection.pausedQueues();
      inspection.resume("");
    }
    // README:inspection:end
    assertThat(stats.pending()).isEqualTo(1);
    assertThat(next).extracting(Signature::name).containsExactly("add");
    assertThat(pausedMeanwhile).contains(config.defaultQueue());
  }
}
