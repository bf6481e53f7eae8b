package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskBreaker;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The README's circuit breaker example, verbatim, on the test Redis: while the payment provider is
 * down, ten failed charges open the breaker and the other charges are parked, not run, with their
 * retries kept.
 */
class RedisReadmeBreakerIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final Config config =
      BrokerContract.uniqueQueue(
          Config.builder()
              .broker(TestEndpoints.redisUrl())
              .resultBackend(TestEndpoints.redisUrl())
              .build(),
          "readme_breaker_");

  /** A payment provider that is down: every charge fails to connect. */
  private static final class DownProvider {
    final AtomicInteger calls = new AtomicInteger();
    final Set<String> orders = ConcurrentHashMap.newKeySet();

    String charge(String order) throws IOException {
      calls.incrementAndGet();
      orders.add(order);
      throw new IOException("payment provider: connection refused");
    }
  }

  @Test
  void theReadmeExampleParksChargesWhileTheProviderIsDown() {
    DownProvider provider = new DownProvider();
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("charge", TaskFunction.of(String.class, provider::charge));
      // README:breakers:begin
      Worker worker =
          server
              .workerBuilder("billing")
              .concurrency(10)
              .breaker(
                  "charge",
                  TaskBreaker.builder()
                      .failureRate(0.5) // open when half of
                      .window(20) // the last 20 charges failed (10 at least),
                      .openFor(Duration.ofSeconds(30)) // then park charges 30 s and try one
                      .countsAsFailure(e -> e instanceof IOException) // not a declined card
                      .build())
              .build();
      worker.launchAsync();
      // README:breakers:end
      List<AsyncResult> charges = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        charges.add(
            server.sendTask(
                Signature.builder("charge").args(Arg.of("order-" + i)).retryCount(3).build()));
      }
      await()
          .atMost(TIMEOUT)
          .until(() -> worker.breakerStates().equals(Map.of("charge", TaskBreaker.State.OPEN)));
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  charges.stream()
                      .allMatch(c -> c.state() != State.STARTED && c.state() != State.RECEIVED));
      int calls = provider.calls.get();
      // ten failures open it; runs that had started by then end as they would: the other nine
      // slots, and slots freed by a function that had ended before its outcome was counted
      assertThat(calls).isBetween(10, 30);
      // no charge ended, none ran twice: the failed ones wait for their retries, the rest parked
      assertThat(charges).allSatisfy(c -> assertThat(c.state()).isIn(State.PENDING, State.RETRY));
      assertThat(provider.orders).hasSize(calls);
      assertThat(worker.breakerStates())
          .containsExactly(Map.entry("charge", TaskBreaker.State.OPEN));
      assertThat(provider.calls).hasValue(calls);
    }
  }
}
