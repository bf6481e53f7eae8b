package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The asynchronous and batch sends ({@code sendTaskAsync}, {@code sendTasks}) keep {@code
 * sendTask}'s contract: PENDING stored and the message published, Go's error texts, listeners told
 * once per task, nothing published after a refused or failed PENDING. Memory broker and backend
 * (the Redis and AMQP paths: {@code RedisSendIT}, {@code AmqpSendIT}).
 */
class SendTasksTest {
  private final Config config = Config.builder().defaultQueue("send_tasks_test").build();
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend memory = MemoryBackend.create(config, Clock.systemUTC());
  private final FaultyBackend backend = new FaultyBackend(memory);
  private final List<String> sent = new CopyOnWriteArrayList<>();
  private Server server = server(null);

  private Server server(java.util.function.@Nullable Consumer<Signature> prePublish) {
    return server(broker, prePublish);
  }

  private Server server(
      io.machinery.spi.Broker through,
      java.util.function.@Nullable Consumer<Signature> prePublish) {
    Server.Builder b =
        Server.builder()
            .config(config)
            .broker(through)
            .backend(backend)
            .listener(
                new TaskListener() {
                  @Override
                  public void sent(Signature signature, @Nullable Throwable error) {
                    sent.add(signature.uuid() + (error == null ? "" : " failed"));
                  }
                });
    if (prePublish != null) {
      b.prePublishHandler(prePublish);
    }
    return b.build();
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    memory.close();
  }

  private List<String> queued() {
    return broker.pendingTasks("").stream().map(Signature::uuid).toList();
  }

  private State stored(String uuid) {
    return memory.getState(uuid).map(TaskState::state).orElseThrow();
  }

  @Test
  void aBatchIsStoredPendingAndPublishedInOrder() {
    List<Signature> batch = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      batch.add(Signature.create("noop"));
    }
    List<AsyncResult> results = server.sendTasks(batch);

    List<String> uuids = batch.stream().map(Signature::uuid).toList();
    assertThat(results).extracting(r -> r.signature().uuid()).containsExactlyElementsOf(uuids);
    assertThat(queued()).containsExactlyElementsOf(uuids);
    assertThat(uuids).allSatisfy(uuid -> assertThat(stored(uuid)).isEqualTo(State.PENDING));
    assertThat(sent).containsExactlyInAnyOrderElementsOf(uuids);
  }

  @Test
  void anAsynchronousSendCompletesWithTheTasksHandle() throws Exception {
    Signature task = Signature.create("noop");
    AsyncResult result = server.sendTaskAsync(task).get();

    assertThat(result.signature().uuid()).isEqualTo(task.uuid());
    assertThat(queued()).containsExactly(task.uuid());
    assertThat(stored(task.uuid())).isEqualTo(State.PENDING);
  }

  /**
   * A group's members are stored PENDING in runs whose writes go out at once, and still every one
   * before the first is published (Go's order: no worker finds a member without its state).
   */
  @Test
  void aGroupLargerThanAPendingRunIsStoredPendingBeforeAnyMemberIsPublished() {
    List<Signature> members = new ArrayList<>();
    for (int i = 0; i < 2 * TaskSender.PENDING_RUN + 1; i++) {
      members.add(Signature.create("noop"));
    }
    Group group = Group.of(members);
    List<String> notPendingAtFirstPublish = new CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicBoolean first =
        new java.util.concurrent.atomic.AtomicBoolean();
    io.machinery.spi.Broker watched =
        (io.machinery.spi.Broker)
            java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(),
                new Class<?>[] {io.machinery.spi.Broker.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("publish") && first.compareAndSet(false, true)) {
                    for (String uuid : group.taskUuids()) {
                      if (memory.getState(uuid).map(TaskState::state).orElse(null)
                          != State.PENDING) {
                        notPendingAtFirstPublish.add(uuid);
                      }
                    }
                  }
                  try {
                    return method.invoke(broker, args);
                  } catch (java.lang.reflect.InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    server.close();
    server = server(watched, null);

    server.sendGroup(group, 0);

    assertThat(first).isTrue();
    assertThat(notPendingAtFirstPublish).isEmpty();
    assertThat(queued()).containsExactlyInAnyOrderElementsOf(group.taskUuids());
  }

  @Test
  void aGroupWhosePendingWriteFailsIsGosErrorAndNothingIsPublished() {
    backend.failing(FaultyBackend.Op.PENDING, FaultyBackend.ALWAYS);
    Group group = Group.of(Signature.create("noop"), Signature.create("noop"));

    assertThatThrownBy(() -> server.sendGroup(group, 0))
        .isInstanceOf(MachineryException.class)
        .hasMessageStartingWith("Set state pending error: ");
    assertThat(queued()).isEmpty();
    assertThat(sent).hasSize(2).allSatisfy(line -> assertThat(line).endsWith(" failed"));
  }

  @Test
  void aFailedPendingWriteIsGosErrorAndNothingIsPublished() {
    backend.failing(FaultyBackend.Op.PENDING, FaultyBackend.ALWAYS);

    assertThatThrownBy(() -> server.sendTask(Signature.create("noop")))
        .isInstanceOf(MachineryException.class)
        .hasMessageStartingWith("Set state pending error: ");
    CompletableFuture<AsyncResult> async = server.sendTaskAsync(Signature.create("noop"));
    assertThatThrownBy(async::get)
        .isInstanceOf(ExecutionException.class)
        .cause()
        .hasMessageStartingWith("Set state pending error: ");
    assertThatThrownBy(
            () -> server.sendTasks(List.of(Signature.create("noop"), Signature.create("noop"))))
        .hasMessageStartingWith("Set state pending error: ");
    assertThat(queued()).isEmpty();
    assertThat(sent).hasSize(4).allSatisfy(line -> assertThat(line).endsWith(" failed"));
  }

  @Test
  void aRefusingPrePublishHandlerStopsTheSendWithItsOwnException() {
    server.close();
    server =
        server(
            signature -> {
              throw new IllegalStateException("not now");
            });

    assertThatThrownBy(() -> server.sendTask(Signature.create("noop")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("not now");
    assertThat(queued()).isEmpty();
    assertThat(sent).hasSize(1).allSatisfy(line -> assertThat(line).endsWith(" failed"));
  }

  @Test
  void aBadSignatureInABatchIsRefusedAtOnceBeforeAnythingIsStored() {
    Signature good = Signature.create("noop");
    assertThatThrownBy(() -> server.sendTasksAsync(List.of(good, Signature.builder("").build())))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(queued()).isEmpty();
    assertThat(memory.getState(good.uuid())).isEmpty();
    assertThat(server.sendTasksAsync(List.of())).isCompletedWithValue(List.of());
  }

  // ------------------------------------------------------------------ pipelined (one connection)

  /**
   * A broker on the backend's connection ({@link io.machinery.spi.Broker#writeOrder()}), as the
   * Redis broker and backend share one: the sender pipelines PENDING and the publish, a long list
   * in runs of {@link TaskSender#WRITE_CHUNK}.
   */
  private Server pipelinedServer() {
    Object connection = new Object();
    backend.writingOn(connection);
    io.machinery.spi.Broker onConnection =
        new DelegatingBroker(broker) {
          @Override
          public java.util.Optional<Object> writeOrder() {
            return java.util.Optional.of(connection);
          }
        };
    server.close();
    server = server(onConnection, null);
    return server;
  }

  private static List<Signature> noops(int n) {
    List<Signature> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      batch.add(Signature.create("noop"));
    }
    return batch;
  }

  @Test
  void aLongPipelinedListIsStoredPendingAndPublishedInOrder() {
    List<Signature> batch = noops(TaskSender.WRITE_CHUNK * 3 + 5);
    pipelinedServer().sendTasks(batch);

    List<String> uuids = batch.stream().map(Signature::uuid).toList();
    assertThat(queued()).containsExactlyElementsOf(uuids);
    assertThat(uuids).allSatisfy(uuid -> assertThat(stored(uuid)).isEqualTo(State.PENDING));
    assertThat(sent).containsExactlyInAnyOrderElementsOf(uuids);
  }

  @Test
  void aRunWhosePendingWritesFailIsNotPublishedNorAreTheRunsAfterIt() {
    int chunk = TaskSender.WRITE_CHUNK;
    List<Signature> batch = noops(chunk * 4);
    Server pipelined = pipelinedServer();
    backend.failingAfter(FaultyBackend.Op.PENDING, chunk * 2 + 1); // in the third run

    assertThatThrownBy(() -> pipelined.sendTasks(batch))
        .isInstanceOf(MachineryException.class)
        .hasMessageStartingWith("Set state pending error: ");
    List<String> uuids = batch.stream().map(Signature::uuid).toList();
    assertThat(queued()).containsExactlyElementsOf(uuids.subList(0, chunk * 2));
    assertThat(backend.calls(FaultyBackend.Op.PENDING)).isEqualTo(chunk * 3);
    assertThat(sent.stream().filter(line -> line.endsWith(" failed"))).hasSize(chunk * 2);
    assertThat(sent).hasSize(chunk * 4);
  }
}
