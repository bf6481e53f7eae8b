package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskBreaker;
import io.machinery.TaskDeferral;
import io.machinery.TaskFunction;
import io.machinery.TaskListener;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.ControlPlane.BreakerOpening;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Breakers opened on every worker through the Redis control plane: two servers with connections of
 * their own (as two services would be), a worker each on a queue of its own. Each worker's charges
 * fail fewer times than its own breaker needs to open; counted together in the cluster's window
 * they open the key on both, and a charge then sent to either is parked without calling the
 * provider. An operator's close reaches both.
 */
class RedisSharedBreakerIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  /** Breaker keys are cluster-wide: a task name of this run's own. */
  private final String charge = "charge_" + UUID.randomUUID().toString().substring(0, 8);

  private final AtomicInteger calls = new AtomicInteger();
  private final Set<String> parked = ConcurrentHashMap.newKeySet();

  private Config config(String prefix) {
    return BrokerContract.uniqueQueue(
        Config.builder()
            .broker(TestEndpoints.redisUrl())
            .resultBackend(TestEndpoints.redisUrl())
            .build(),
        prefix);
  }

  /** Whether the provider refuses every charge; when not, the first charge waits for this. */
  private volatile boolean providerDown = true;

  private final CountDownLatch firstChargeHeld = new CountDownLatch(1);

  private String call(String order) throws IOException, InterruptedException {
    if (calls.incrementAndGet() == 1 && !providerDown) {
      assertThat(firstChargeHeld.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    }
    if (providerDown) {
      throw new IOException("payment provider: connection refused");
    }
    return "charged " + order;
  }

  /** A server over a broker and a backend of its own (its own connections to the one Redis). */
  private record OwnConnections(RedisBroker broker, RedisBackend backend, Server server)
      implements AutoCloseable {
    @Override
    public void close() {
      server.close();
      backend.close();
      broker.close();
    }
  }

  private OwnConnections ownConnections(String queuePrefix) {
    Config config = config(queuePrefix);
    RedisBroker broker = RedisBroker.create(config);
    RedisBackend backend = RedisBackend.create(config);
    return new OwnConnections(broker, backend, server(config, broker, backend));
  }

  private Server server(Config config, RedisBroker broker, RedisBackend backend) {
    Server server =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .listener(
                new TaskListener() {
                  @Override
                  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
                    if (deferral.reason() == TaskDeferral.Reason.BREAKER) {
                      parked.add(signature.uuid());
                    }
                  }
                })
            .build();
    server.registerTask(charge, TaskFunction.of(String.class, this::call));
    return server;
  }

  private Worker worker(Server server, String consumerTag) {
    Worker worker =
        server
            .workerBuilder(consumerTag)
            .concurrency(4)
            .heartbeatInterval(Duration.ofMillis(200))
            .breaker(
                charge,
                // README:shared-breakers:begin
                TaskBreaker.builder()
                    .failureRate(0.5)
                    .window(20)
                    .openFor(Duration.ofSeconds(30))
                    .shared(true) // count runs for the whole cluster, open the key on every worker
                    .build()
                // README:shared-breakers:end
                )
            .build();
    worker.launchAsync();
    return worker;
  }

  @Test
  void theClustersFailedRunsOpenTheKeyOnEveryWorkerAndAnOperatorClosesItEverywhere() {
    try (OwnConnections a = ownConnections("shared_breaker_a_");
        OwnConnections b = ownConnections("shared_breaker_b_")) {
      Server server1 = a.server();
      Server server2 = b.server();
      Worker one = worker(server1, "billing-a");
      Worker two = worker(server2, "billing-b");
      // 6 failed charges each: under the 10 runs either breaker needs alone (window 20)
      List<AsyncResult> charges = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        charges.add(server1.sendTask(Signature.builder(charge).args(Arg.of("a-" + i)).build()));
        charges.add(server2.sendTask(Signature.builder(charge).args(Arg.of("b-" + i)).build()));
      }
      await()
          .atMost(TIMEOUT)
          .until(() -> charges.stream().allMatch(c -> c.state() == State.FAILURE));
      Inspection operator = Inspection.of(server2); // either server reads the same Redis
      await().atMost(TIMEOUT).until(() -> operator.openBreakers().containsKey(charge));
      BreakerOpening opening = Objects.requireNonNull(operator.openBreakers().get(charge));
      assertThat(opening.reason()).matches("1[0-2] of the cluster's last 1[0-2] runs failed");
      assertThat(opening.openedBy()).containsAnyOf(":billing-a:", ":billing-b:");
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  one.breakerStates().get(charge) == TaskBreaker.State.OPEN
                      && two.breakerStates().get(charge) == TaskBreaker.State.OPEN);

      assertThat(calls).hasValue(12);
      AsyncResult waiting =
          server1.sendTask(Signature.builder(charge).args(Arg.of("a-late")).build());
      await().atMost(TIMEOUT).until(() -> parked.contains(waiting.signature().uuid()));
      assertThat(waiting.state()).isEqualTo(State.PENDING); // parked: not run
      assertThat(calls).hasValue(12);

      operator.closeBreaker(charge);
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  one.breakerStates().equals(Map.of(charge, TaskBreaker.State.CLOSED))
                      && two.breakerStates().equals(Map.of(charge, TaskBreaker.State.CLOSED)));
    }
  }

  /**
   * When an opening ends, the first worker to get a charge runs the cluster's one trial with it;
   * the other parks its charges (a charge sent to it meanwhile too) until the trial passed, then
   * both close and every charge runs. Without the cluster's trial each worker would run one.
   */
  @Test
  void whenAnOpeningEndsOneWorkerRunsTheTrialForTheClusterAndItsPassClosesBoth() {
    providerDown = false; // back from maintenance; its first charge is held while we look
    try (OwnConnections a = ownConnections("shared_trial_a_");
        OwnConnections b = ownConnections("shared_trial_b_")) {
      Server server1 = a.server();
      Server server2 = b.server();
      Worker one = worker(server1, "billing-a");
      Worker two = worker(server2, "billing-b");
      Inspection operator = Inspection.of(server2);
      operator.openBreaker(charge, Duration.ofSeconds(1), "provider maintenance", "ops");
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  one.breakerStates().get(charge) == TaskBreaker.State.OPEN
                      && two.breakerStates().get(charge) == TaskBreaker.State.OPEN);
      await().atMost(TIMEOUT).until(() -> !operator.openBreakers().containsKey(charge));

      List<AsyncResult> charges = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        charges.add(server1.sendTask(Signature.builder(charge).args(Arg.of("a-" + i)).build()));
        charges.add(server2.sendTask(Signature.builder(charge).args(Arg.of("b-" + i)).build()));
      }
      await().atMost(TIMEOUT).until(() -> calls.get() == 1); // the trial, held
      BreakerOpening trial = Objects.requireNonNull(operator.openBreakers().get(charge));
      assertThat(trial.trial()).isTrue();
      boolean firstRunsIt = trial.openedBy().contains(":billing-a:");
      Server other = firstRunsIt ? server2 : server1;
      Worker otherWorker = firstRunsIt ? two : one;
      AsyncResult meanwhile =
          other.sendTask(Signature.builder(charge).args(Arg.of("meanwhile")).build());
      charges.add(meanwhile);
      await().atMost(TIMEOUT).until(() -> parked.contains(meanwhile.signature().uuid()));
      assertThat(otherWorker.breakerStates()).containsEntry(charge, TaskBreaker.State.HALF_OPEN);
      assertThat(calls).as("one trial run for the cluster").hasValue(1);

      firstChargeHeld.countDown(); // the trial passes
      await()
          .atMost(TIMEOUT)
          .until(() -> charges.stream().allMatch(c -> c.state() == State.SUCCESS));
      assertThat(calls).hasValue(5);
      assertThat(operator.openBreakers()).doesNotContainKey(charge);
      assertThat(one.breakerStates()).containsEntry(charge, TaskBreaker.State.CLOSED);
      assertThat(two.breakerStates()).containsEntry(charge, TaskBreaker.State.CLOSED);
    }
  }
}
