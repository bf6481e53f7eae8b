package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.config.GcpPubSubConfig;
import io.machinery.embedded.EagerLock;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * The README's Pub/Sub example, verbatim, on the emulator ({@code PUBSUB_EMULATOR_HOST}) with a
 * project of its own.
 */
class GcpPubSubReadmeExampleIT {

  @Test
  void theReadmeExampleRuns() throws Exception {
    String project = PubSubProjects.name("machinery-test");
    String redisUrl = TestEndpoints.redisUrl();
    TestEndpoints.pubsubEmulatorHost(); // fails clearly in CI when the emulator is not running
    List<Object> sum;
    try {
      // README:gcppubsub:begin
      Config config =
          Config.builder()
              .broker(
                  "gcppubsub://"
                      + project
                      + "/machinery_tasks") // Go's URL: PROJECT/SUBSCRIPTION; the topic is
              // DefaultQueue
              .resultBackend(redisUrl)
              .gcpPubSub(
                  GcpPubSubConfig.DEFAULT.withMaxExtension(
                      Duration.ofMinutes(30))) // Go's GCPPubSub.MaxExtension
              .build();
      try (GcpPubSubBroker broker =
              GcpPubSubBroker.builder(config) // io.machinery:machinery-broker-gcppubsub
                  .createMissing(
                      true) // opt-in; by default a missing topic or subscription fails build() with
                  // the gcloud commands
                  .build();
          RedisBackend backend = RedisBackend.create(config);
          Server server = Server.create(config, broker, backend, EagerLock.create())) {
        server.registerTask("add", TaskFunction.varargs(long[].class, n -> LongStream.of(n).sum()));
        server.newWorker("pubsub-worker", 10).launchAsync();
        sum =
            server
                .sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)))
                .get(Duration.ofSeconds(30));
      }
      // README:gcppubsub:end
    } finally {
      PubSubProjects.delete(project);
    }
    assertThat(sum).containsExactly(3L);
  }
}
