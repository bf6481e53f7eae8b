package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.FrozenServer;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A Pub/Sub that stops answering (the test server's process frozen with {@code SIGSTOP}) costs a
 * publish at most the broker's publish timeout, with an error that says so, and publishing works
 * again once it answers. Google's Java library alone retries a publish for up to 10 minutes.
 */
@Tag("disruptive") // freezes the shared Pub/Sub server: make test runs it alone, after the parallel
// build
class GcpPubSubHungServerIT {
  private static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(2);

  private final String project = PubSubProjects.name("machinery-test");
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "hung_it_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubProjects.delete(project);
  }

  @Test
  void aPublishIntoAFrozenServerFailsWithinThePublishTimeoutAndWorksAgainAfter() throws Exception {
    try (GcpPubSubBroker broker =
            PubSubProjects.broker(config).publishTimeout(PUBLISH_TIMEOUT).build();
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      publish(broker); // topics created, connected
      try (FrozenServer frozen =
          FrozenServer.freeze("pubsub", TestEndpoints.pubsubEmulatorHost())) {
        long started = System.nanoTime();
        Throwable failure =
            CompletableFuture.runAsync(() -> publish(broker), threads)
                .handle((ok, error) -> error)
                .get(PUBLISH_TIMEOUT.toSeconds() + 8, TimeUnit.SECONDS);
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(failure).as("a publish into the frozen server fails").isNotNull();
        assertThat(failure.getCause())
            .isInstanceOf(MachineryException.class)
            .hasMessageContaining("no answer from Pub/Sub within the publish timeout")
            .hasMessageContaining(config.defaultQueue());
        assertThat(took).isLessThan(PUBLISH_TIMEOUT.plusSeconds(3));
      }
      publish(broker);
    }
  }

  private void publish(GcpPubSubBroker broker) {
    Signature s = Signature.builder("add").routingKey(config.defaultQueue()).build();
    broker.publish(s, WireCodec.encode(s));
  }
}
