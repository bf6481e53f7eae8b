package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/** The event SPI, the MDC and the post-task outcome handler, on the memory broker and backend. */
class TaskListenerTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Backoff FAST = new Backoff(Duration.ofMillis(1), Duration.ofMillis(5));

  /** Records every event as text, and the thread each run event came on. */
  static final class Recording implements TaskListener {
    final List<String> events = new CopyOnWriteArrayList<>();
    final List<TaskOutcome> outcomes = new CopyOnWriteArrayList<>();
    final Map<String, List<String>> threads = new ConcurrentHashMap<>();

    private void run(Signature s, String event) {
      events.add(event + " " + s.name());
      threads
          .computeIfAbsent(
              s.uuid() + "/" + MessageHeaders.attempt(s), k -> new CopyOnWriteArrayList<>())
          .add(Thread.currentThread().getName() + "#" + Thread.currentThread().threadId());
    }

    @Override
    public Signature publishing(Signature signature) {
      events.add("publishing " + signature.name());
      return signature.toBuilder().header("x-test", "from-listener").build();
    }

    @Override
    public void sent(Signature signature, @Nullable Throwable error) {
      events.add("sent " + signature.name() + (error == null ? "" : " error"));
    }

    @Override
    public void received(Signature s, String queue) {
      run(s, "received");
    }

    @Override
    public void started(Signature s) {
      run(s, "started");
    }

    @Override
    public void finished(TaskOutcome outcome) {
      outcomes.add(outcome);
      run(outcome.signature(), "finished " + outcome.state());
    }

    @Override
    public void notRun(Signature s, String reason) {
      run(s, "notRun");
    }

    @Override
    public void deadLettered(String queue, @Nullable Signature signature, String reason) {
      events.add("deadLettered " + (signature == null ? "?" : signature.name()));
    }

    List<String> eventsOf(String name) {
      return events.stream()
          .filter(e -> e.endsWith(" " + name) || e.contains(" " + name + " "))
          .toList();
    }
  }

  private final Config config = Config.DEFAULT;
  private final Recording recording = new Recording();
  private final Map<String, String> seenInTask = new ConcurrentHashMap<>();

  /**
   * "name: CAUSE" of each notRun, as a listener that overrides the method with the cause sees it.
   */
  private final List<String> causes = new CopyOnWriteArrayList<>();

  /** Records each notRun's cause into {@link #causes}. */
  private final TaskListener recordingCauses =
      new TaskListener() {
        @Override
        public void notRun(Signature s, NotRunCause cause, String reason) {
          causes.add(s.name() + ": " + cause);
        }
      };

  /** Thrown from the next {@code started} of the listener in front, when set. */
  private final java.util.concurrent.atomic.AtomicReference<@Nullable Error> startedThrows =
      new java.util.concurrent.atomic.AtomicReference<>();

  /** How many more times the listener in front throws an Error from {@code received}. */
  private final java.util.concurrent.atomic.AtomicInteger receivedErrorsLeft =
      new java.util.concurrent.atomic.AtomicInteger();

  private MemoryBroker broker;
  private MemoryBackend memory;
  private FaultyBackend backend;
  private Server server;
  private Worker worker;

  @BeforeEach
  void setUp() {
    broker = MemoryBroker.create(config, Clock.systemUTC());
    memory = MemoryBackend.create(config, Clock.systemUTC());
    backend = new FaultyBackend(memory);
    server =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .listener(
                new TaskListener() {
                  @Override
                  public void received(Signature s, String queue) {
                    if (receivedErrorsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                      throw new AssertionError("a listener's own assertion");
                    }
                    throw new IllegalStateException("a broken listener");
                  }

                  @Override
                  public Signature publishing(Signature s) {
                    throw new IllegalStateException("a broken listener");
                  }

                  @Override
                  public void started(Signature s) {
                    Error error = startedThrows.getAndSet(null);
                    if (error != null) {
                      throw error;
                    }
                  }
                })
            .listener(recording)
            .listener(recordingCauses)
            .build();
    server.registerTask(
        "hello",
        TaskFunction.withContext(
            List.of(),
            false,
            (ctx, args) -> {
              seenInTask.put("name", String.valueOf(MDC.get(Worker.MDC_TASK_NAME)));
              seenInTask.put("uuid", String.valueOf(MDC.get(Worker.MDC_TASK_UUID)));
              seenInTask.put("header", String.valueOf(ctx.signature().headers().get("x-test")));
              return "hi";
            }));
    server.registerTask(
        "boom",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("it broke");
            }));
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    memory.close();
  }

  private Worker.Builder workerBuilder() {
    return server.workerBuilder("listener-test").concurrency(2).bookkeepingBackoff(FAST, d -> {});
  }

  private void launch(Worker.Builder builder) {
    worker = builder.build();
    worker.launchAsync();
  }

  @Test
  void aSuccessfulTaskGoesThroughEveryEventInOrderWithItsNameAndUuidInTheMdc() {
    List<TaskOutcome> handled = new CopyOnWriteArrayList<>();
    launch(workerBuilder().postTaskOutcomeHandler(handled::add));

    AsyncResult result = server.sendTask(Signature.create("hello"));

    assertThat(result.get(TIMEOUT)).containsExactly("hi");
    await().atMost(TIMEOUT).until(() -> recording.outcomes.size() == 1);
    assertThat(recording.eventsOf("hello"))
        .contains("sent hello")
        .filteredOn(e -> !e.startsWith("sent"))
        .containsExactly(
            "publishing hello", "received hello", "started hello", "finished SUCCESS hello");
    assertThat(seenInTask)
        .containsEntry("name", "hello")
        .containsEntry("uuid", result.signature().uuid())
        .containsEntry("header", "from-listener");
    TaskOutcome outcome = recording.outcomes.get(0);
    assertThat(outcome.state()).isEqualTo(State.SUCCESS);
    assertThat(outcome.error()).isEmpty();
    assertThat(outcome.recorded()).isTrue();
    assertThat(outcome.runTime().isNegative()).isFalse();
    assertThat(handled)
        .singleElement()
        .satisfies(o -> assertThat(o.state()).isEqualTo(State.SUCCESS));
    // received, started and finished come on one thread, so a listener can hold a scope across them
    assertThat(recording.threads.values())
        .allSatisfy(list -> assertThat(list).hasSize(3).containsOnly(list.get(0)));
    assertThat(MDC.get(Worker.MDC_TASK_UUID)).as("the sender's MDC is restored").isNull();
  }

  @Test
  void aFailingTaskReportsARetryThenAFailureWithItsError() {
    List<TaskOutcome> handled = new CopyOnWriteArrayList<>();
    launch(workerBuilder().postTaskOutcomeHandler(handled::add));

    Signature boom = Signature.builder("boom").retryCount(1).build();
    AsyncResult result = server.sendTask(boom.toBuilder().retryTimeout(0).build());

    await().atMost(Duration.ofSeconds(20)).until(() -> recording.outcomes.size() == 2);
    assertThat(recording.outcomes)
        .extracting(TaskOutcome::state)
        .containsExactly(State.RETRY, State.FAILURE);
    assertThat(recording.outcomes).allSatisfy(o -> assertThat(o.error()).contains("it broke"));
    assertThat(recording.outcomes.get(1).signature().uuid()).isEqualTo(result.signature().uuid());
    assertThat(handled).extracting(TaskOutcome::state).containsExactly(State.RETRY, State.FAILURE);
    // the retry is a send of its own, made from inside the first run
    assertThat(recording.eventsOf("boom"))
        .filteredOn(e -> !e.startsWith("sent"))
        .containsExactly(
            "publishing boom",
            "received boom",
            "started boom",
            "publishing boom",
            "finished RETRY boom",
            "received boom",
            "started boom",
            "finished FAILURE boom");
  }

  @Test
  void anUndecodableMessageIsReportedAsDeadLetteredWithoutASignature() {
    launch(workerBuilder());
    broker.pushRaw(config.defaultQueue(), "not json".getBytes(StandardCharsets.UTF_8));

    await().atMost(TIMEOUT).until(() -> recording.events.contains("deadLettered ?"));
    assertThat(recording.events).doesNotContain("received ?");
  }

  @Test
  void aRunWhoseOutcomeCannotBeRecordedIsFinishedUnrecordedThenDeadLettered() {
    backend.failing(FaultyBackend.Op.SUCCESS, FaultyBackend.ALWAYS);
    launch(workerBuilder().bookkeepingAttempts(1));

    server.sendTask(Signature.create("hello"));

    await().atMost(TIMEOUT).until(() -> recording.events.contains("deadLettered hello"));
    assertThat(recording.outcomes)
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.state()).isEqualTo(State.SUCCESS);
              assertThat(o.recorded()).isFalse();
            });
    // "sent" may come anywhere: the worker can take the message before the sender returns from
    // publish
    assertThat(recording.eventsOf("hello"))
        .filteredOn(e -> !e.startsWith("sent"))
        .containsExactly(
            "publishing hello",
            "received hello",
            "started hello",
            "finished SUCCESS hello",
            "deadLettered hello");
  }

  @Test
  void everyAnnouncedSendEndsInOneSentEventEvenWhenTheSendIsRefused() {
    launch(workerBuilder());
    Group group = Group.of(Signature.create("hello"), Signature.create("hello"));
    server.sendChord(Chord.of(group, Signature.create("callback")), 0);
    await()
        .atMost(TIMEOUT)
        .until(() -> recording.events.stream().filter(e -> e.startsWith("finished")).count() == 2);
    await().atMost(TIMEOUT).until(() -> recording.events.contains("sent callback"));
    assertThat(recording.eventsOf("callback"))
        .as("checking the callback before the group is sent is no send")
        .containsExactly("publishing callback", "sent callback");

    Group bad =
        Group.of(
            Signature.create("refused"),
            Signature.create("refused", Arg.of("int64", "not a number")));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> server.sendGroup(bad, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(recording.eventsOf("refused"))
        .containsExactly("publishing refused", "sent refused error");
  }

  @Test
  void aRunAbandonedByShutdownEndsInNotRunWithTheReason() {
    java.util.concurrent.CountDownLatch never = new java.util.concurrent.CountDownLatch(1);
    List<String> reasons = new CopyOnWriteArrayList<>();
    try (Server own =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(memory)
            .listener(
                new TaskListener() {
                  @Override
                  public void notRun(Signature signature, String reason) {
                    reasons.add(signature.name() + ": " + reason);
                  }
                })
            .listener(recording)
            .listener(recordingCauses)
            .build()) {
      own.registerTask(
          "hold",
          TaskFunction.of(
              () -> {
                never.await();
                return null;
              }));
      Worker holder = own.workerBuilder("abandon").concurrency(1).build();
      holder.launchAsync();
      own.sendTask(Signature.create("hold"));
      await().atMost(TIMEOUT).until(() -> recording.events.contains("started hold"));

      holder.quitAbruptly();

      await().atMost(TIMEOUT).until(() -> reasons.contains("hold: abandoned by shutdown"));
      assertThat(reasons)
          .as("a listener that overrides only the old notRun still gets the text")
          .containsExactly("hold: abandoned by shutdown");
      await().atMost(TIMEOUT).until(() -> causes.contains("hold: SHUTDOWN"));
      assertThat(recording.eventsOf("hold"))
          .doesNotContain("finished SUCCESS hold", "finished FAILURE hold");
    }
  }

  /**
   * The backend failed before the function ran (RECEIVED could not be stored): an outage to alert
   * on, told apart from a shutdown. The message is requeued and the next delivery runs.
   */
  @Test
  void aRunTheBackendStoppedBeforeItRanIsNotRunBecauseTheBackendFailed() {
    backend.failing(FaultyBackend.Op.RECEIVED, 1);
    launch(workerBuilder().requeueBackoff(FAST));

    runsAgainAfterOneNotRun("hello: BACKEND_FAILED");
    assertThat(recording.eventsOf("hello"))
        .as("a listener that overrides only the old notRun is still told")
        .filteredOn(e -> !e.startsWith("sent") && !e.startsWith("publishing"))
        .containsExactly(
            "received hello",
            "notRun hello",
            "received hello",
            "started hello",
            "finished SUCCESS hello");
  }

  /**
   * As above, the backend's write failing in its future (a pipelining backend) rather than thrown.
   */
  @Test
  void aRunWhoseEarlyWriteFailedInItsFutureIsNotRunBecauseTheBackendFailed() {
    backend.failingInFutures();
    backend.failing(FaultyBackend.Op.RECEIVED, 1);
    launch(workerBuilder().requeueBackoff(FAST));

    runsAgainAfterOneNotRun("hello: BACKEND_FAILED");
  }

  /**
   * An exception before the function ran that did not come from the backend's call (here the
   * server's clock, asked whether the task expired) is an ERROR, not a backend outage. The message
   * is requeued and the next delivery runs.
   */
  @Test
  void aRunStoppedBeforeItRanByAnythingButTheBackendIsNotRunBecauseOfAnError() {
    java.util.concurrent.atomic.AtomicBoolean clockFails =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    Clock failingOnce =
        new Clock() {
          @Override
          public java.time.ZoneId getZone() {
            return java.time.ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(java.time.ZoneId zone) {
            return this;
          }

          @Override
          public java.time.Instant instant() {
            if (askedWhetherATaskExpired() && clockFails.getAndSet(false)) {
              throw new java.time.DateTimeException("a clock that failed");
            }
            return java.time.Instant.now();
          }
        };
    try (Server own =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .clock(failingOnce)
            .listener(recordingCauses)
            .build()) {
      own.registerTask("expiring", TaskFunction.of(() -> "ran"));
      Worker ownWorker = own.workerBuilder("clock-test").requeueBackoff(FAST).build();
      ownWorker.launchAsync();
      try {
        AsyncResult result =
            own.sendTask(
                Signature.create("expiring").toBuilder()
                    .expiresAt(java.time.Instant.now().plus(Duration.ofHours(1)))
                    .build());

        assertThat(result.get(TIMEOUT)).containsExactly("ran");
        assertThat(causes).containsExactly("expiring: ERROR");
      } finally {
        ownWorker.quit();
      }
    }
  }

  /** Whether the caller is the worker asking whether a task expired (TaskExecution#expired). */
  private static boolean askedWhetherATaskExpired() {
    return StackWalker.getInstance()
        .walk(
            frames ->
                frames.anyMatch(
                    f ->
                        f.getClassName().equals(TaskExecution.class.getName())
                            && f.getMethodName().equals("expired")));
  }

  /**
   * An Error from a listener's {@code received} (an assertion, a missing class, no memory): the
   * task does not run this time, every listener hears {@code received} and then {@code notRun}
   * ERROR, a log line names the task, the message is requeued and the worker's thread carries on
   * with the next delivery.
   */
  @Test
  void anErrorFromAListenersReceivedStopsTheRunAndTheMessageIsRequeued() {
    receivedErrorsLeft.set(1);
    ch.qos.logback.classic.Logger workerLog =
        (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Worker.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
        new ch.qos.logback.core.read.ListAppender<>();
    logged.start();
    workerLog.addAppender(logged);
    try {
      launch(workerBuilder().concurrency(1).requeueBackoff(FAST));

      AsyncResult result = server.sendTask(Signature.create("hello"));

      assertThat(result.get(TIMEOUT)).containsExactly("hi");
      await().atMost(TIMEOUT).until(() -> recording.outcomes.size() == 1);
      assertThat(causes).containsExactly("hello: ERROR");
      assertThat(recording.eventsOf("hello"))
          .filteredOn(e -> !e.startsWith("sent") && !e.startsWith("publishing"))
          .containsExactly(
              "received hello",
              "notRun hello",
              "received hello",
              "started hello",
              "finished SUCCESS hello");
      assertThat(logged.list)
          .anySatisfy(
              event -> {
                assertThat(event.getLevel()).isEqualTo(ch.qos.logback.classic.Level.ERROR);
                assertThat(event.getFormattedMessage()).contains(result.taskUuid());
                assertThat(event.getThrowableProxy().getClassName())
                    .isEqualTo(AssertionError.class.getName());
              });
    } finally {
      workerLog.detachAppender(logged);
    }
  }

  /**
   * An Error from a listener's {@code finished} comes after the outcome was recorded: it is logged
   * with the task and ignored, and the message is settled as the outcome says. It escaped before,
   * so the worker requeued the message and a task that had failed for good ran a second time.
   */
  @Test
  void anErrorFromAListenersFinishedLeavesTheRecordedOutcomeAndRunsNothingAgain() {
    java.util.concurrent.atomic.AtomicInteger runs =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean finishedThrows =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    try (Server own =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(memory)
            .listener(
                new TaskListener() {
                  @Override
                  public void finished(TaskOutcome outcome) {
                    if (finishedThrows.getAndSet(false)) {
                      throw new AssertionError("a listener's own assertion");
                    }
                  }
                })
            .listener(recording)
            .build()) {
      own.registerTask(
          "fails",
          TaskFunction.of(
              () -> {
                runs.incrementAndGet();
                throw new IllegalStateException("for good");
              }));
      Worker ownWorker =
          own.workerBuilder("finished-test").concurrency(1).requeueBackoff(FAST).build();
      ownWorker.launchAsync();
      AsyncResult result = own.sendTask(Signature.create("fails"));
      await().atMost(TIMEOUT).until(() -> !finishedThrows.get());

      ownWorker.quit(); // waits for the delivery to be settled

      assertThat(runs).hasValue(1);
      assertThat(broker.requeueCount()).as("the message was not requeued").isZero();
      assertThat(memory.getState(result.taskUuid()))
          .hasValueSatisfying(state -> assertThat(state.state()).isEqualTo(State.FAILURE));
      assertThat(recording.eventsOf("fails"))
          .filteredOn(e -> !e.startsWith("sent") && !e.startsWith("publishing"))
          .as("the listeners after the one that threw were still told")
          .containsExactly("received fails", "started fails", "finished FAILURE fails");
    }
  }

  /** A listener whose {@code received} always throws an Error: the poison rule applies. */
  @Test
  void aTaskWhoseReceivedAlwaysThrowsAnErrorIsDeadLetteredPastMaxDeliveries() {
    receivedErrorsLeft.set(Integer.MAX_VALUE);
    launch(workerBuilder().requeueBackoff(FAST).maxDeliveries(1));

    AsyncResult result = server.sendTask(Signature.create("hello"));

    await().atMost(TIMEOUT).until(() -> recording.events.contains("deadLettered hello"));
    assertThat(causes).containsExactly("hello: ERROR", "hello: ERROR");
    assertThat(recording.eventsOf("hello")).doesNotContain("started hello");
    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(memory.getState(result.taskUuid()))
                    .hasValueSatisfying(
                        state -> {
                          assertThat(state.state()).isEqualTo(State.FAILURE);
                          assertThat(state.error()).contains("a listener threw in received");
                        }));
  }

  /**
   * An Error before the function ran (here from a listener's {@code started}, as a tracing library
   * missing a class would throw): not a backend outage, not a shutdown. The message is requeued.
   */
  @Test
  void aRunAnErrorStoppedBeforeItRanIsNotRunBecauseOfAnError() {
    startedThrows.set(new NoClassDefFoundError("io/example/Missing"));
    launch(workerBuilder().requeueBackoff(FAST));

    runsAgainAfterOneNotRun("hello: ERROR");
  }

  /**
   * Whatever an abandoned run throws on its way out (here an Error from a listener interrupted by
   * the shutdown, before the function ran), its cause is the shutdown.
   */
  @Test
  void aRunAbandonedWhileItFailsIsNotRunBecauseOfTheShutdown() {
    java.util.concurrent.CountDownLatch blocking = new java.util.concurrent.CountDownLatch(1);
    try (Server own =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(memory)
            .listener(
                new TaskListener() {
                  @Override
                  public void started(Signature s) {
                    blocking.countDown();
                    try {
                      new java.util.concurrent.CountDownLatch(1).await();
                    } catch (InterruptedException e) {
                      throw new AssertionError("interrupted by the shutdown", e);
                    }
                  }

                  @Override
                  public void notRun(Signature s, NotRunCause cause, String reason) {
                    causes.add(s.name() + ": " + cause);
                  }
                })
            .build()) {
      own.registerTask("hold", TaskFunction.of(() -> null));
      Worker holder = own.workerBuilder("abandon-failing").concurrency(1).build();
      holder.launchAsync();
      own.sendTask(Signature.create("hold"));
      await().atMost(TIMEOUT).until(() -> blocking.getCount() == 0);

      holder.quitAbruptly();

      await().atMost(TIMEOUT).until(() -> !causes.isEmpty());
      assertThat(causes).containsExactly("hold: SHUTDOWN");
    }
  }

  @Test
  void aServerWithoutListenersUsesTheNoOpAndSkipsEveryEvent() {
    assertThat(Listeners.of(List.of())).isSameAs(Listeners.NONE);
    try (Server plain = Server.builder().build()) {
      assertThat(plain.listener()).isSameAs(Listeners.NONE);
    }
  }

  /**
   * Sends a task whose first run the worker does not make: it runs on its next delivery, and the
   * listeners were told once why the first did not run ({@code cause}: "name: CAUSE").
   */
  private void runsAgainAfterOneNotRun(String cause) {
    AsyncResult result = server.sendTask(Signature.create("hello"));

    assertThat(result.get(TIMEOUT)).containsExactly("hi");
    await().atMost(TIMEOUT).until(() -> recording.outcomes.size() == 1);
    assertThat(causes).containsExactly(cause);
  }
}
