package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.QueueBound;
import io.machinery.QueueFullException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The README's bounded-queue example, verbatim, on the test Redis (no worker). */
class RedisReadmeBoundIT {
  private final Config config =
      BrokerContract.uniqueQueue(
          Config.builder()
              .broker(TestEndpoints.redisUrl())
              .resultBackend(TestEndpoints.redisUrl())
              .build(),
          "readme_bound_");

  private void purgeEmails() {
    try (RedisBroker broker = RedisBroker.create(config)) {
      Inspector inspector = broker.inspector().orElseThrow();
      inspector.purge("emails");
    }
  }

  @BeforeEach
  @AfterEach
  void emptyTheQueue() {
    purgeEmails();
  }

  @Test
  void theReadmeExampleRuns() {
    List<String> out = new ArrayList<>();
    // README:bounds:begin
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server =
            Server.builder()
                .config(config)
                .broker(broker)
                .backend(backend)
                .bound(QueueBound.reject("emails", 2)) // refuse at once
                .bound(QueueBound.waitFor("imports", 10_000, Duration.ofMinutes(1))) // wait
                .build()) {
      for (String to : List.of("a@example.com", "b@example.com", "c@example.com")) {
        try {
          server.sendTask(
              Signature.builder("send_email").routingKey("emails").args(Arg.of(to)).build());
          out.add("sent to " + to);
        } catch (QueueFullException e) { // nothing was stored or published: answer 503
          out.add(e.getMessage());
        }
      }
    }
    // README:bounds:end
    assertThat(out)
        .containsExactly(
            "sent to a@example.com",
            "sent to b@example.com",
            "queue 'emails' is full: 2 tasks waiting, bound 2 (QueueBound); nothing was sent");
  }
}
