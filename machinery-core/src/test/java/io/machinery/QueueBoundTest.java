package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import io.machinery.spi.Inspector;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Bounded queues ({@link QueueBound}) on the memory broker: new work over the bound is refused or
 * waits, whole batches are admitted or refused together, and what workers send to carry on a
 * workflow is never bounded. The same on the real brokers: {@code ControlSuite}.
 */
class QueueBoundTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private final Config config = Config.builder().defaultQueue("bounded").build();
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final Inspector inspector = broker.inspector().orElseThrow();
  private final List<String> notSent = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> closeLast = new ArrayList<>();

  private Server server(QueueBound... bounds) {
    Server.Builder b =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .listener(
                new TaskListener() {
                  @Override
                  public void sent(Signature signature, @Nullable Throwable error) {
                    if (error != null) {
                      notSent.add(signature.uuid());
                    }
                  }
                });
    for (QueueBound bound : bounds) {
      b.bound(bound);
    }
    Server server = b.build();
    closeLast.add(0, server);
    return server;
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closeLast) {
      c.close();
    }
    broker.close();
    backend.close();
  }

  private static List<Signature> tasks(int n) {
    List<Signature> tasks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      tasks.add(Signature.create("noop"));
    }
    return tasks;
  }

  @Test
  void aSendOverTheBoundIsRefusedAndNothingOfItIsStored() {
    Server server = server(QueueBound.reject("", 3));
    server.sendTasks(tasks(3));
    Signature fourth = Signature.create("noop");

    assertThatThrownBy(() -> server.sendTask(fourth))
        .isInstanceOfSatisfying(
            QueueFullException.class,
            e -> {
              assertThat(e.queue()).isEqualTo("bounded");
              assertThat(e.pending()).isEqualTo(3);
              assertThat(e.maxPending()).isEqualTo(3);
              assertThat(e.waited()).isZero();
            })
        .hasMessage(
            "queue 'bounded' is full: 3 tasks waiting, bound 3 (QueueBound); nothing was sent");
    assertThat(inspector.pendingCount("bounded")).isEqualTo(3);
    assertThat(backend.getState(fourth.uuid())).isEmpty();
    assertThat(notSent).containsExactly(fourth.uuid());
  }

  @Test
  void anAsynchronousSendOverTheBoundCompletesWithTheRefusal() {
    Server server = server(QueueBound.reject("", 1));
    server.sendTask(Signature.create("noop"));

    Signature second = Signature.create("noop");

    CompletableFuture<AsyncResult> refused = server.sendTaskAsync(second);

    assertThatThrownBy(() -> refused.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(QueueFullException.class);
    assertThat(notSent).containsExactly(second.uuid());
    assertThat(backend.getState(second.uuid())).isEmpty();
  }

  @Test
  void aBatchIsAdmittedWholeOrNotAtAll() {
    Server server = server(QueueBound.reject("", 5));
    server.sendTasks(tasks(3));
    List<Signature> three = tasks(3);

    assertThatThrownBy(() -> server.sendTasks(three))
        .isInstanceOf(QueueFullException.class)
        .hasMessageContaining("no room for 3 tasks at once");
    assertThat(inspector.pendingCount("")).isEqualTo(3);
    assertThat(notSent).containsExactlyElementsOf(three.stream().map(Signature::uuid).toList());

    server.sendTasks(tasks(2));
    assertThat(inspector.pendingCount("")).isEqualTo(5);
  }

  @Test
  void aGroupOverTheBoundIsRefusedBeforeAnythingIsStored() {
    Server server = server(QueueBound.reject("", 2));
    Group group = Group.of(tasks(3));

    assertThatThrownBy(() -> server.sendGroup(group, 0)).isInstanceOf(QueueFullException.class);
    assertThat(inspector.pendingCount("")).isZero();
    assertThat(group.taskUuids()).allSatisfy(uuid -> assertThat(backend.getState(uuid)).isEmpty());
  }

  @Test
  void moreTasksThanTheBoundAreRefusedAtOnceEvenByAWaitingBound() {
    Server server = server(QueueBound.waitFor("", 2, Duration.ofMinutes(5)));

    assertThatThrownBy(() -> server.sendTasks(tasks(3)))
        .isInstanceOfSatisfying(QueueFullException.class, e -> assertThat(e.waited()).isZero())
        .hasMessage(
            "queue 'bounded' is bounded at 2 waiting tasks: 3 tasks sent at once can never fit"
                + " (QueueBound); nothing was sent");
  }

  @Test
  void aWaitingSendGoesOnceTheQueueHasRoom() throws Exception {
    Server server = server(QueueBound.waitFor("", 1, Duration.ofMinutes(5)));
    server.sendTask(Signature.create("noop"));
    Signature second = Signature.create("noop");

    CompletableFuture<AsyncResult> waiting = server.sendTaskAsync(second);
    // the queue stays full until the purge below, so the send cannot have gone yet
    assertThat(waiting).isNotDone();
    assertThat(backend.getState(second.uuid())).isEmpty();

    assertThat(inspector.purge("")).isEqualTo(1);

    assertThat(
            waiting
                .get(TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                .signature()
                .uuid())
        .isEqualTo(second.uuid());
    assertThat(inspector.pending("", 0, 10))
        .extracting(Signature::uuid)
        .containsExactly(second.uuid());
  }

  /**
   * A send made from a client's I/O thread must not block it on a reading, so an asynchronous send
   * reads its queue's size on another thread: here the memory broker's inspector, recording where
   * it is asked.
   */
  @Test
  void anAsynchronousSendNeverReadsTheQueuesSizeOnTheCallersThread() throws Exception {
    List<Thread> readers = new CopyOnWriteArrayList<>();
    Inspector recording = new RecordingInspector(inspector, readers);
    Broker counting =
        new DelegatingBroker(broker) {
          @Override
          public java.util.Optional<Inspector> inspector() {
            return java.util.Optional.of(recording);
          }
        };
    Server server =
        Server.builder()
            .config(config)
            .broker(counting)
            .backend(backend)
            .bound(QueueBound.reject("", 1))
            .build();
    closeLast.add(0, server);

    server.sendTaskAsync(Signature.create("noop")).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    CompletableFuture<AsyncResult> refused = server.sendTaskAsync(Signature.create("noop"));

    assertThatThrownBy(() -> refused.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
        .hasCauseInstanceOf(QueueFullException.class);
    assertThat(readers).hasSize(2).doesNotContain(Thread.currentThread());

    // a blocking send reads on its caller's thread, which it blocks anyway
    assertThatThrownBy(() -> server.sendTask(Signature.create("noop")))
        .isInstanceOf(QueueFullException.class);
    assertThat(readers).hasSize(3).last().isEqualTo(Thread.currentThread());
  }

  /** An inspector that records which thread asks it for a queue's size. */
  private record RecordingInspector(Inspector delegate, List<Thread> readers) implements Inspector {
    @Override
    public long pendingCount(String queue) {
      readers.add(Thread.currentThread());
      return delegate.pendingCount(queue);
    }

    @Override
    public List<io.machinery.spi.QueueStats> queues() {
      return delegate.queues();
    }

    @Override
    public io.machinery.spi.QueueStats queue(String queue) {
      return delegate.queue(queue);
    }

    @Override
    public List<Signature> pending(String queue, int offset, int limit) {
      return delegate.pending(queue, offset, limit);
    }

    @Override
    public List<Signature> delayed(String queue, int offset, int limit) {
      return delegate.delayed(queue, offset, limit);
    }

    @Override
    public List<io.machinery.spi.DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
      return delegate.deadLetters(queue, offset, limit);
    }

    @Override
    public int requeueDeadLetters(
        String queue, java.util.function.Predicate<io.machinery.spi.DeadLetterEntry> which) {
      return delegate.requeueDeadLetters(queue, which);
    }

    @Override
    public int deleteDeadLetters(
        String queue, java.util.function.Predicate<io.machinery.spi.DeadLetterEntry> which) {
      return delegate.deleteDeadLetters(queue, which);
    }

    @Override
    public long purge(String queue) {
      return delegate.purge(queue);
    }
  }

  @Test
  void interruptingABlockingSendThatWaitsForRoomSendsNothing() throws Exception {
    Server server = server(QueueBound.waitFor("", 1, Duration.ofMinutes(5)));
    server.sendTask(Signature.create("noop"));
    Signature second = Signature.create("noop");
    List<Throwable> thrown = new CopyOnWriteArrayList<>();
    Thread sender =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    server.sendTask(second);
                  } catch (RuntimeException e) {
                    thrown.add(e);
                  }
                });
    // the only timed wait on the way is the pause between two readings of the full queue
    await().atMost(TIMEOUT).until(() -> sender.getState() == Thread.State.TIMED_WAITING);

    sender.interrupt();
    sender.join(TIMEOUT.toMillis());

    assertThat(thrown).hasSize(1);
    assertThat(thrown.get(0))
        .isInstanceOf(MachineryException.class)
        .hasMessage("interrupted while waiting for room in queue 'bounded'");
    assertThat(notSent).containsExactly(second.uuid());
    assertThat(backend.getState(second.uuid())).isEmpty();
    assertThat(inspector.pendingCount("")).isEqualTo(1);
  }

  @Test
  void aWaitingSendGivesUpAfterItsLongestWait() {
    Duration longest = Duration.ofMillis(50);
    Server server = server(QueueBound.waitFor("", 1, longest));
    server.sendTask(Signature.create("noop"));

    assertThatThrownBy(() -> server.sendTask(Signature.create("noop")))
        .isInstanceOfSatisfying(
            QueueFullException.class, e -> assertThat(e.waited()).isGreaterThanOrEqualTo(longest))
        .hasMessageContaining("after waiting");
    assertThat(inspector.pendingCount("")).isEqualTo(1);
  }

  @Test
  void onlyTheBoundedQueueIsBounded() {
    Server server = server(QueueBound.reject("other", 1));
    server.sendTasks(tasks(3));
    Signature toOther = Signature.builder("noop").routingKey("other").build();
    server.sendTask(toOther);

    assertThatThrownBy(() -> server.sendTask(Signature.builder("noop").routingKey("other").build()))
        .isInstanceOf(QueueFullException.class);
    server.sendTask(Signature.create("noop"));
    assertThat(inspector.pendingCount("")).isEqualTo(4);
  }

  /**
   * The chain's second task goes to a full queue that no worker consumes: the worker that ran the
   * first task sends it anyway, as a follow-up is never bounded (were it bounded, the worker's
   * server would refuse it and store FAILURE for it).
   */
  @Test
  void whatAWorkerSendsToCarryOnAChainIsNeverBounded() {
    Server server = server(QueueBound.reject("parked", 1));
    server.sendTask(Signature.builder("noop").routingKey("parked").build());
    assertThatThrownBy(
            () -> server.sendTask(Signature.builder("noop").routingKey("parked").build()))
        .isInstanceOf(QueueFullException.class);
    server.registerTask("first", TaskFunction.of(() -> 1L));
    Worker worker = server.workerBuilder("bound_chain").concurrency(1).build();
    closeLast.add(0, worker::quit);
    worker.launchAsync();
    Signature second = Signature.builder("noop").routingKey("parked").build();

    server.sendChain(Chain.of(Signature.create("first"), second));

    await().atMost(TIMEOUT).until(() -> inspector.pendingCount("parked") == 2);
    assertThat(inspector.pending("parked", 1, 1))
        .extracting(Signature::uuid)
        .containsExactly(second.uuid());
    assertThat(backend.getState(second.uuid()).map(TaskState::state)).contains(State.PENDING);
  }

  @Test
  void aBoundNeedsABrokerThatCountsItsQueues() {
    DelegatingBroker withoutInspector = new DelegatingBroker(broker);

    assertThatThrownBy(
            () ->
                Server.builder()
                    .config(config)
                    .broker(withoutInspector)
                    .backend(backend)
                    .bound(QueueBound.reject("", 10))
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("need a broker that can count its queues");
  }

  @Test
  void theConfigsBoundsApplyWhereTheBuilderNamesNone() {
    Config bounded =
        Config.fromEnvironment(
            Map.of("DEFAULT_QUEUE", "bounded", "MACHINERY_QUEUE_BOUNDS", "bounded:2,other:1"));
    Server server =
        Server.builder()
            .config(bounded)
            .broker(broker)
            .backend(backend)
            .bound(QueueBound.reject("other", 3)) // code wins over the config, queue by queue
            .build();
    closeLast.add(0, server);
    server.sendTasks(tasks(2));
    assertThatThrownBy(() -> server.sendTask(Signature.create("noop")))
        .isInstanceOf(QueueFullException.class)
        .hasMessageContaining("bound 2");
    for (int i = 0; i < 3; i++) {
      server.sendTask(Signature.builder("noop").routingKey("other").build());
    }
    assertThatThrownBy(() -> server.sendTask(Signature.builder("noop").routingKey("other").build()))
        .isInstanceOf(QueueFullException.class)
        .hasMessageContaining("bound 3");
  }

  @Test
  void twoBoundsOnOneQueueAreRefused() {
    assertThatThrownBy(() -> server(QueueBound.reject("", 10), QueueBound.reject("bounded", 5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("two bounds for queue 'bounded'");
  }

  @Test
  void aBoundIsChecked() {
    assertThatThrownBy(() -> QueueBound.reject("q", 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> QueueBound.waitFor("q", 1, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> QueueBound.builder("q", 1).recountEvery(Duration.ofMinutes(2)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(QueueBound.waitFor("q", 7, Duration.ofSeconds(3)))
        .hasToString("QueueBound{queue 'q', at most 7 waiting, wait up to PT3S when full}");
  }
}
