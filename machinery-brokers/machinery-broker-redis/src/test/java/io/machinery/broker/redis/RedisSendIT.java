package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskState;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The send path on a real Redis (Redis broker + Redis backend): one round trip per send (the
 * PENDING write and the push in flight together), the asynchronous send, the batch send, and the
 * states Go reads.
 */
class RedisSendIT {
  private String queue;
  private Config config;
  private RedisSession redis;
  private RedisBroker broker;
  private RedisBackend backend;
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeEach
  void setUp() {
    queue = "send_it_" + UUID.randomUUID().toString().substring(0, 8);
    config =
        Config.builder()
            .broker(TestEndpoints.redisUrl())
            .resultBackend(TestEndpoints.redisUrl())
            .defaultQueue(queue)
            .resultsExpireIn(300)
            .redis(io.machinery.config.RedisConfig.DEFAULT.withDelayedTasksKey("delayed_" + queue))
            .build();
    redis = RedisSession.open(TestEndpoints.redisUrl(), config);
    broker = RedisBroker.create(config);
    backend = RedisBackend.create(config);
    closeables.add(backend);
    closeables.add(broker);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    redis.await(redis.commands().del(queue, "delayed_" + queue));
    redis.close();
  }

  private Server server(Backend b) {
    Server server = Server.builder().config(config).broker(broker).backend(b).build();
    closeables.add(0, server);
    return server;
  }

  private long queueLength() {
    return redis.await(redis.commands().llen(queue));
  }

  private State stored(String uuid) {
    return backend.getState(uuid).map(TaskState::state).orElseThrow();
  }

  /**
   * The real backend, except that the answer to the PENDING writes (one task's or a batch's) is
   * held back until {@code gate} completes: whatever the sender does before that, it did without
   * waiting for PENDING.
   */
  private static Backend heldBack(Backend real, CompletableFuture<Void> gate) {
    return (Backend)
        Proxy.newProxyInstance(
            Backend.class.getClassLoader(),
            new Class<?>[] {Backend.class},
            (proxy, method, args) -> {
              try {
                Object result = method.invoke(real, args);
                if (method.getName().equals("setStatePendingAsync")
                    || method.getName().equals("setStatePendingAllAsync")) {
                  return ((CompletableFuture<?>) result).thenCombine(gate, (a, b) -> null);
                }
                return result;
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  @Test
  void aSendPushesTheMessageWithoutWaitingForItsPendingWrite() throws Exception {
    CompletableFuture<Void> gate = new CompletableFuture<>();
    Server server = server(heldBack(backend, gate));

    CompletableFuture<AsyncResult> sent = server.sendTaskAsync(Signature.create("noop"));

    // the push went out while the PENDING answer is still held back: both were in flight together
    await().atMost(Duration.ofSeconds(10)).until(() -> queueLength() == 1);
    assertThat(sent).isNotDone();
    gate.complete(null);
    AsyncResult result = sent.get();
    assertThat(stored(result.signature().uuid())).isEqualTo(State.PENDING);
    assertThat(WireCodec.decodeSignature(redis.await(redis.commands().lindex(queue, 0))).uuid())
        .isEqualTo(result.signature().uuid());
  }

  @Test
  void onConnectionsOfTheirOwnThePublishWaitsForPendingAsInGo() throws Exception {
    RedisSession own = RedisSession.open(TestEndpoints.redisUrl(), config);
    RedisBackend separate = RedisBackend.builder(config).session(own).build();
    closeables.add(own);
    closeables.add(0, separate);
    assertThat(separate.writeOrder()).isNotEqualTo(broker.writeOrder());
    CompletableFuture<Void> gate = new CompletableFuture<>();
    Server server = server(heldBack(separate, gate));

    Signature task = Signature.create("noop");
    CompletableFuture<AsyncResult> sent = server.sendTaskAsync(task);

    // two connections give no order between them: the push waits for PENDING's answer (Go's order)
    await().atMost(Duration.ofSeconds(10)).until(() -> backend.getState(task.uuid()).isPresent());
    assertThat(queueLength()).isZero();
    assertThat(sent).isNotDone();
    gate.complete(null);
    sent.get();
    assertThat(queueLength()).isEqualTo(1);
  }

  @Test
  void aBrokerAndABackendOnTheSameRedisShareOneConnectionUntilBothAreClosed() {
    assertThat(broker.writeOrder()).isPresent().isEqualTo(backend.writeOrder());
    RedisBackend second = RedisBackend.create(config);
    second.close();
    broker.close();
    // the backend's owner has not closed it: the shared connection still works for it
    Signature task = Signature.create("noop");
    backend.setStatePending(task);
    assertThat(stored(task.uuid())).isEqualTo(State.PENDING);
  }

  @Test
  void onAClusterThePublishWaitsForPending() {
    Config cluster =
        Config.builder()
            .broker(TestEndpoints.redisClusterUrl())
            .resultBackend(TestEndpoints.redisClusterUrl())
            .defaultQueue(queue)
            .build();
    try (RedisBroker b = RedisBroker.create(cluster);
        RedisBackend be = RedisBackend.create(cluster)) {
      // one session, but the PENDING key and the queue live in different slots, on different node
      // connections
      assertThat(b.writeOrder()).isEmpty();
      assertThat(be.writeOrder()).isEmpty();
    }
  }

  @Test
  void sendTaskWaitsForBothAndStoresGosPendingState() {
    Server server = server(backend);
    AsyncResult result = server.sendTask(Signature.create("noop"));

    TaskState state = backend.getState(result.signature().uuid()).orElseThrow();
    assertThat(state.state()).isEqualTo(State.PENDING);
    assertThat(state.taskName()).isEqualTo("noop");
    assertThat(state.createdAt()).isNotNull();
    assertThat(queueLength()).isEqualTo(1);
  }

  @Test
  void aBatchIsStoredAndPushedInOrder() {
    Server server = server(backend);
    List<Signature> batch = new ArrayList<>();
    for (int i = 0; i < 2_500; i++) { // three pushes of at most 1,000
      batch.add(Signature.create("noop"));
    }
    List<AsyncResult> results = server.sendTasks(batch);

    assertThat(results).hasSize(2_500);
    List<byte[]> queued = redis.await(redis.commands().lrange(queue, 0, -1));
    assertThat(queued).hasSize(2_500);
    for (int i : new int[] {0, 999, 1_000, 2_499}) {
      String uuid = results.get(i).signature().uuid();
      assertThat(WireCodec.decodeSignature(queued.get(i)).uuid()).isEqualTo(uuid);
      assertThat(stored(uuid)).isEqualTo(State.PENDING);
    }
  }

  @Test
  void aBatchWithADelayedTaskPutsItAsideAndTheRestInTheQueue() {
    Server server = server(backend);
    Signature later =
        Signature.builder("noop").eta(java.time.Instant.now().plus(Duration.ofHours(1))).build();
    List<AsyncResult> results =
        server.sendTasks(List.of(Signature.create("noop"), later, Signature.create("noop")));

    assertThat(queueLength()).isEqualTo(2);
    assertThat(broker.delayedTasks())
        .extracting(Signature::uuid)
        .containsExactly(results.get(1).signature().uuid());
  }

  @Test
  void aFailedPublishIsGosPublishMessageError() throws Exception {
    Server server = server(backend);
    broker.close();

    assertThatThrownBy(() -> server.sendTask(Signature.create("noop")))
        .isInstanceOf(MachineryException.class)
        .hasMessageStartingWith("Publish message error: ");
    CompletableFuture<AsyncResult> async = server.sendTaskAsync(Signature.create("noop"));
    assertThatThrownBy(async::get)
        .isInstanceOf(ExecutionException.class)
        .cause()
        .hasMessageStartingWith("Publish message error: ");
  }

  @Test
  void aBadSignatureIsRefusedAtOnceAndNothingIsStored() {
    Server server = server(backend);
    assertThatThrownBy(
            () ->
                server.sendTasksAsync(
                    List.of(Signature.create("noop"), Signature.builder("").build())))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(queueLength()).isZero();
  }
}
