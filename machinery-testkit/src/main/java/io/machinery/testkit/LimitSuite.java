package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskBreaker;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.embedded.LocalTaskLimiter;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.TaskLimiter;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of task limits and priorities (issue #17, items 3 and 4) over one broker × backend
 * pair. Subclass it as {@link ControlSuite} is subclassed; override the capability flags where the
 * broker differs:
 *
 * <ul>
 *   <li>{@link #createLimiter()}: the limiter every worker of a test shares (default in-process);
 *   <li>{@link #priorityConfig(Config)}: what the broker needs to honour {@code Priority} (AMQP:
 *       {@code x-max-priority}); {@link #honoursPriority()} false makes the priority tests assert
 *       that tasks still run, in any order;
 *   <li>{@link #sharesLowPriorities()}: whether low priorities get a guaranteed share while higher
 *       ones are waiting (memory and Redis: yes; RabbitMQ's priority queues are strict);
 *   <li>{@link #sharesTurnsBetweenFairnessKeys()}: whether the broker takes one task of each
 *       waiting fairness key in turn (memory, Redis with fairness on); if not, the fairness tests
 *       assert that keyed tasks run like any others.
 * </ul>
 *
 * <p>Rates are measured with the start times the tasks record, with a tolerance; caps with a
 * counter of runs in progress; waits are Awaitility conditions and latches, never sleeps.
 *
 * <p>Size: the contract of rate limits, concurrency caps and priorities, one short test each, run
 * by every broker's subclass.
 */
public abstract class LimitSuite {
  protected static final Duration TIMEOUT = Duration.ofSeconds(30);

  /** Short, so limited tests do not crawl; the bound is the worker's, tested here by its effect. */
  protected static final Duration MAX_LIMIT_DELAY = Duration.ofMillis(200);

  protected Config config;
  protected Broker broker;
  protected Backend backend;
  protected Server server;
  protected TaskLimiter limiter;
  protected CountingLimiter counting;

  /** Start times (System.nanoTime) of task "stamp", in start order. */
  protected final List<Long> stamps = new CopyOnWriteArrayList<>();

  /** Names (first argument) of task "record", in start order. */
  protected final List<String> order = new CopyOnWriteArrayList<>();

  /** Runs of task "hold" in progress, per key, and the most seen at once. */
  protected final Map<String, AtomicInteger> running = new ConcurrentHashMap<>();

  protected final Map<String, AtomicInteger> mostRunning = new ConcurrentHashMap<>();
  protected final AtomicInteger holdsStarted = new AtomicInteger();

  /** Whether task "call_downstream" fails, as if the service it calls were down. */
  protected final AtomicBoolean downstreamDown = new AtomicBoolean();

  /** Runs of task "call_downstream", and the attempt each successful one was, by task UUID. */
  protected final AtomicInteger downstreamCalls = new AtomicInteger();

  protected final Map<String, Integer> downstreamSucceededAt = new ConcurrentHashMap<>();
  protected final List<CountDownLatch> latches = new ArrayList<>();
  private final List<Worker> workers = new ArrayList<>();
  private final List<AutoCloseable> cleanups = new ArrayList<>();

  protected abstract Broker createBroker(Config config);

  protected abstract Backend createBackend(Config config);

  protected Config baseConfig() {
    return Config.DEFAULT;
  }

  /**
   * The limiter shared by the test's workers; closed after the test.
   *
   * @return a new limiter
   */
  protected TaskLimiter createLimiter() {
    return LocalTaskLimiter.create();
  }

  /**
   * The config for a queue with priorities.
   *
   * @param config the test's config, with its unique queue
   * @return the config to use
   */
  protected Config priorityConfig(Config config) {
    return config;
  }

  /**
   * Capability: whether higher {@code Priority} values run first.
   *
   * @return true when honoured
   */
  protected boolean honoursPriority() {
    return true;
  }

  /**
   * Capability: whether low priorities get a share while higher ones wait.
   *
   * @return true for the weighted fetch of memory and Redis
   */
  protected boolean sharesLowPriorities() {
    return true;
  }

  /**
   * Capability: whether the broker shares turns between fairness keys ({@link
   * io.machinery.spi.FairShares}).
   *
   * @return true for the memory broker and Redis with fairness on
   */
  protected boolean sharesTurnsBetweenFairnessKeys() {
    return false;
  }

  /**
   * Capability: whether tasks of one priority run in the order they were sent (one worker slot, no
   * retries). False where the broker does not keep order (Pub/Sub without ordering keys): the FIFO
   * test then asserts that every task ran.
   *
   * @return true when a queue is first in, first out
   */
  protected boolean keepsFifoOrder() {
    return true;
  }

  /**
   * Capability: whether the broker's inspector reads queue sizes; if not (Pub/Sub), the inspection
   * test counts through the listing. Mirrors {@link InspectorContract}'s switch.
   *
   * @return true when {@code Inspector.queue} gives sizes
   */
  protected boolean countsSizes() {
    return true;
  }

  /**
   * Capability: whether the broker's inspector lists pending tasks; if not (SQS: reading hides a
   * message from workers), the inspection test checks only the count. Mirrors {@link
   * InspectorContract}'s switch.
   *
   * @return true when {@code Inspector.pending} lists
   */
  protected boolean listsPending() {
    return true;
  }

  @BeforeEach
  void start() {
    config = priorityConfig(BrokerContract.uniqueQueue(baseConfig(), "limit_"));
    broker = createBroker(config);
    backend = createBackend(config);
    limiter = createLimiter();
    counting = new CountingLimiter(limiter, limiterNamespace());
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    registerTasks(server);
  }

  @AfterEach
  void stop() throws Exception {
    latches.forEach(CountDownLatch::countDown);
    for (AutoCloseable c : cleanups) {
      c.close();
    }
    server.close();
    broker.close();
    backend.close();
    limiter.close();
  }

  /**
   * What the test's limiters put before every key: the test's unique queue, so that the same suite
   * run by several modules at once on one Redis (CI builds modules in parallel) counts each test's
   * caps and rates apart (else one module's {@code user:a} would be a cap on another's).
   */
  private String limiterNamespace() {
    return config.defaultQueue() + "/";
  }

  /** Launches a worker of {@code server} with the given limits, all sharing the test's limiter. */
  protected Worker launch(Server s, int concurrency, Map<String, TaskLimit> limits) {
    return launch(s, concurrency, limits, counting);
  }

  /** Launches a worker with the given limits on {@code limiter}. */
  protected Worker launch(
      Server s, int concurrency, Map<String, TaskLimit> limits, TaskLimiter limiter) {
    Worker.Builder b =
        s.workerBuilder("limits-" + workers.size())
            .concurrency(concurrency)
            .limiter(limiter)
            .maxLimitDelay(MAX_LIMIT_DELAY);
    limits.forEach(b::limit);
    Worker w = b.build();
    workers.add(w);
    w.launchAsync();
    return w;
  }

  protected int newLatch() {
    latches.add(new CountDownLatch(1));
    return latches.size() - 1;
  }

  protected void registerTasks(Server s) {
    s.registerTask(
        "stamp",
        TaskFunction.of(
            Long.class,
            n -> {
              stamps.add(System.nanoTime());
              return n;
            }));
    s.registerTask(
        "record",
        TaskFunction.of(
            String.class,
            name -> {
              order.add(name);
              return name;
            }));
    s.registerTask(
        "add",
        TaskFunction.varargs(
            long[].class, numbers -> java.util.stream.LongStream.of(numbers).sum()));
    s.registerTask(
        "call_downstream",
        TaskFunction.withContext(
            List.of(),
            false,
            (context, args) -> {
              downstreamCalls.incrementAndGet();
              if (downstreamDown.get()) {
                throw new IOException("downstream refused the connection");
              }
              downstreamSucceededAt.put(context.signature().uuid(), context.attempt());
              return "called";
            }));
    s.registerTask(
        "hold",
        TaskFunction.withContext(
            List.of(Long.class, String.class),
            false,
            (context, args) -> {
              String key = (String) args[1];
              int now = running.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
              mostRunning
                  .computeIfAbsent(key, k -> new AtomicInteger())
                  .accumulateAndGet(now, Math::max);
              holdsStarted.incrementAndGet();
              try {
                CountDownLatch latch = latches.get(((Long) args[0]).intValue());
                if (!latch.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                  throw new IllegalStateException("latch " + args[0] + " was never released");
                }
              } finally {
                running.computeIfAbsent(key, k -> new AtomicInteger()).decrementAndGet();
              }
              return key;
            }));
  }

  private static int count(Map<String, AtomicInteger> counters, String key) {
    AtomicInteger c = counters.get(key);
    return c == null ? 0 : c.get();
  }

  protected AsyncResult hold(int latch, String key) {
    return server.sendTask(Signature.create("hold", Arg.of((long) latch), Arg.of(key)));
  }

  // ------------------------------------------------------------------------------------- limits

  @Test
  void aRateSpacesTheStartsOfATask() {
    // 20 a second, one at a time: 11 starts span at least 10 intervals of 50 ms. All are queued
    // before the worker starts, so it meets them together and must refuse some however slowly
    // they were sent (a busy machine sent them over 50 ms apart: nothing to refuse).
    List<AsyncResult> results = new ArrayList<>();
    for (long i = 0; i < 11; i++) {
      results.add(server.sendTask(Signature.create("stamp", Arg.of(i))));
    }
    launch(
        server,
        10,
        Map.of("stamp", TaskLimit.builder().rate(20, Duration.ofSeconds(1)).burst(1).build()));
    for (AsyncResult r : results) {
      r.get(TIMEOUT);
    }
    List<Long> sorted = new ArrayList<>(stamps);
    Collections.sort(sorted);
    double spanMillis = (sorted.get(sorted.size() - 1) - sorted.get(0)) / 1e6;
    // 10 intervals of 50 ms; the tolerance is for a task that records its time a little late
    assertThat(spanMillis).isGreaterThanOrEqualTo(10 * 50 * 0.8);
    assertThat(counting.refused()).isPositive();
  }

  @Test
  void aBurstStartsAtOnceThenTheRateHolds() {
    // 5 a second in bursts of 5: 5 start together, the 6th waits about 200 ms after the first
    launch(server, 10, Map.of("stamp", TaskLimit.rate(5, Duration.ofSeconds(1))));
    List<AsyncResult> results = new ArrayList<>();
    for (long i = 0; i < 6; i++) {
      results.add(server.sendTask(Signature.create("stamp", Arg.of(i))));
    }
    results.forEach(r -> r.get(TIMEOUT));
    List<Long> sorted = new ArrayList<>(stamps);
    Collections.sort(sorted);
    assertThat((sorted.get(5) - sorted.get(0)) / 1e6).isGreaterThanOrEqualTo(200 * 0.8);
  }

  @Test
  void aCapBoundsRunsInProgressAndTheRestWaitWithoutASlot() {
    launch(server, 10, Map.of("hold", TaskLimit.maxConcurrent(2)));
    List<Integer> gates = new ArrayList<>();
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      int gate = newLatch();
      gates.add(gate);
      results.add(hold(gate, "k"));
    }
    await().atMost(TIMEOUT).until(() -> holdsStarted.get() == 2);
    // the other four were asked about and refused, more than once each: they wait elsewhere
    await().atMost(TIMEOUT).until(() -> counting.refused() >= 8);
    assertThat(holdsStarted.get()).isEqualTo(2);
    for (int gate : gates) {
      latches.get(gate).countDown();
    }
    results.forEach(r -> assertThat(r.get(TIMEOUT)).containsExactly("k"));
    assertThat(count(mostRunning, "k")).isEqualTo(2);
    // a slot is given back after the message is settled, which may follow the stored result
    // (SQS deletes in batches)
    await().atMost(TIMEOUT).until(() -> counting.held() == 0);
  }

  @Test
  void aLimitedTaskDoesNotHoldUpOtherTasks() {
    // concurrency 2: one slot runs the capped task, the other must stay free for everything else
    launch(server, 2, Map.of("hold", TaskLimit.maxConcurrent(1)));
    int first = newLatch();
    int second = newLatch();
    AsyncResult running1 = hold(first, "k");
    await().atMost(TIMEOUT).until(() -> holdsStarted.get() == 1);
    AsyncResult waiting = hold(second, "k");
    await().atMost(TIMEOUT).until(() -> counting.refused() >= 1);
    for (long i = 0; i < 5; i++) {
      assertThat(server.sendTask(Signature.create("add", Arg.of(i), Arg.of(1L))).get(TIMEOUT))
          .containsExactly(i + 1);
    }
    assertThat(holdsStarted.get()).isEqualTo(1);
    latches.get(first).countDown();
    latches.get(second).countDown();
    assertThat(running1.get(TIMEOUT)).containsExactly("k");
    assertThat(waiting.get(TIMEOUT)).containsExactly("k");
  }

  @Test
  void aKeyFunctionGivesEachKeyItsOwnCap() {
    TaskLimit perKey =
        TaskLimit.builder().maxConcurrent(1).key(s -> "user:" + s.args().get(1).value()).build();
    launch(server, 10, Map.of("hold", perKey));
    int a1 = newLatch();
    int b1 = newLatch();
    int a2 = newLatch();
    AsyncResult ra1 = hold(a1, "a");
    AsyncResult rb1 = hold(b1, "b");
    awaitHolds("a and b start: different keys", () -> holdsStarted.get() == 2);
    AsyncResult ra2 = hold(a2, "a");
    awaitHolds("the second a is refused", () -> counting.refusedKeys().contains("user:a"));
    assertThat(count(running, "a")).isEqualTo(1);
    latches.get(a1).countDown();
    awaitHolds("the second a starts once the first ended", () -> holdsStarted.get() == 3);
    latches.forEach(CountDownLatch::countDown);
    List.of(ra1, rb1, ra2).forEach(r -> r.get(TIMEOUT));
    assertThat(count(mostRunning, "a")).isEqualTo(1);
  }

  /**
   * Waits until {@code condition} holds; if it does not within {@link #TIMEOUT}, fails saying what
   * the holds and the limiter had done by then (whether a waiting task was still being offered and
   * refused, or no longer offered at all).
   */
  private void awaitHolds(String what, java.util.concurrent.Callable<Boolean> condition) {
    try {
      await().atMost(TIMEOUT).until(condition);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(
          "not within "
              + TIMEOUT
              + ": "
              + what
              + "; holds started "
              + holdsStarted.get()
              + ", running "
              + running
              + ", refusals "
              + counting.refused()
              + " (keys "
              + counting.refusedKeys()
              + "), slots held "
              + counting.held(),
          e);
    }
  }

  /**
   * Whether a second broker, backend and limiter built from the same config share state (real
   * servers); false for in-JVM ones, which the "other process" of a test then shares.
   *
   * @return true when separate instances share state
   */
  protected boolean separateInstancesShareState() {
    return true;
  }

  /**
   * Another process, in effect: a server with its own broker, backend and limiter where separate
   * instances share state (else the test's), its limiter counted; closed after the test.
   */
  private Server otherProcess(CountingLimiter[] counted) {
    boolean separate = separateInstancesShareState();
    Broker otherBroker = separate ? createBroker(config) : broker;
    Backend otherBackend = separate ? createBackend(config) : backend;
    TaskLimiter otherLimiter = separate ? createLimiter() : limiter;
    counted[0] = new CountingLimiter(otherLimiter, limiterNamespace());
    Server second =
        Server.builder().config(config).broker(otherBroker).backend(otherBackend).build();
    registerTasks(second);
    cleanups.add(0, second);
    if (separate) {
      cleanups.add(otherBroker);
      cleanups.add(otherBackend);
      cleanups.add(otherLimiter);
    }
    return second;
  }

  @Test
  void workersOfSeveralProcessesShareOneCap() {
    CountingLimiter[] other = new CountingLimiter[1];
    Server second = otherProcess(other);
    launch(server, 5, Map.of("hold", TaskLimit.maxConcurrent(3)));
    launch(second, 5, Map.of("hold", TaskLimit.maxConcurrent(3)), other[0]);
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      results.add(hold(newLatch(), "shared"));
    }
    await().atMost(TIMEOUT).until(() -> holdsStarted.get() == 3);
    // both workers were refused: the cap holds across them
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                counting.refused() >= 1
                    && other[0].refused() >= 1
                    && counting.refused() + other[0].refused() >= 15);
    assertThat(holdsStarted.get()).isEqualTo(3);
    latches.forEach(CountDownLatch::countDown);
    results.forEach(r -> r.get(TIMEOUT));
    assertThat(count(mostRunning, "shared")).isEqualTo(3);
  }

  @Test
  void workersOfSeveralProcessesShareOneRate() {
    CountingLimiter[] other = new CountingLimiter[1];
    Server second = otherProcess(other);
    TaskLimit rate = TaskLimit.builder().rate(20, Duration.ofSeconds(1)).burst(1).build();
    launch(server, 5, Map.of("stamp", rate));
    launch(second, 5, Map.of("stamp", rate), other[0]);
    List<AsyncResult> results = new ArrayList<>();
    for (long i = 0; i < 11; i++) {
      results.add(server.sendTask(Signature.create("stamp", Arg.of(i))));
    }
    results.forEach(r -> r.get(TIMEOUT));
    List<Long> sorted = new ArrayList<>(stamps);
    Collections.sort(sorted);
    // 10 intervals of 50 ms between the first and the last start, whichever worker ran them
    assertThat((sorted.get(sorted.size() - 1) - sorted.get(0)) / 1e6)
        .isGreaterThanOrEqualTo(10 * 50 * 0.8);
  }

  // ----------------------------------------------------------------------------------- breakers

  /**
   * Two failures open the breaker; five tasks sent then reach the worker and are parked, not run
   * (their offers are counted by the breaker's key function); once the downstream is back, the
   * trial after {@code openFor} closes the breaker and each of the five runs once, on its first
   * attempt. {@code openFor} is long enough that the five are parked before any trial.
   */
  @Test
  void anOpenBreakerParksTasksWithoutSpendingTheirRetriesUntilATrialSucceeds() {
    Map<String, Integer> offers = new ConcurrentHashMap<>();
    Worker worker =
        server
            .workerBuilder("breakers")
            .concurrency(2)
            .breaker(
                "call_downstream",
                TaskBreaker.builder()
                    .failureRate(1.0)
                    .window(2)
                    .minimumRuns(2)
                    .openFor(Duration.ofSeconds(5))
                    .key(
                        signature -> {
                          offers.merge(signature.uuid(), 1, Integer::sum);
                          return "downstream";
                        })
                    .build())
            .build();
    workers.add(worker);
    worker.launchAsync();
    downstreamDown.set(true);
    for (int i = 0; i < 2; i++) {
      AsyncResult failing = server.sendTask(Signature.create("call_downstream"));
      assertThatThrownBy(() -> failing.get(TIMEOUT))
          .hasMessageContaining("downstream refused the connection");
    }
    assertThat(worker.breakerStates()).containsEntry("downstream", TaskBreaker.State.OPEN);

    List<AsyncResult> parked = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      parked.add(server.sendTask(Signature.builder("call_downstream").retryCount(1).build()));
    }
    await()
        .atMost(TIMEOUT)
        .until(() -> parked.stream().allMatch(r -> offers.containsKey(r.signature().uuid())));
    assertThat(downstreamCalls).hasValue(2);
    assertThat(parked).allSatisfy(r -> assertThat(r.state()).isNotIn(State.STARTED, State.SUCCESS));

    downstreamDown.set(false);
    parked.forEach(r -> assertThat(r.get(TIMEOUT)).containsExactly("called"));
    assertThat(downstreamCalls).hasValue(7);
    assertThat(parked)
        .allSatisfy(r -> assertThat(downstreamSucceededAt).containsEntry(r.signature().uuid(), 1));
    assertThat(worker.breakerStates()).containsEntry("downstream", TaskBreaker.State.CLOSED);
  }

  // ---------------------------------------------------------------------------------- priorities

  /** Sends low then high priorities before any worker runs; one slot; records the run order. */
  @Test
  void higherPrioritiesRunFirst() {
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      results.add(sendRecord("low" + i, 0));
    }
    for (int i = 0; i < 4; i++) {
      results.add(sendRecord("mid" + i, 4));
    }
    for (int i = 0; i < 4; i++) {
      results.add(sendRecord("high" + i, 9));
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    assertThat(order).hasSize(12);
    if (!honoursPriority()) {
      return;
    }
    // the first nine takes are strict; the tenth is the low bands' share
    assertThat(order.subList(0, 4)).allMatch(n -> n.startsWith("high"));
    assertThat(order.subList(4, 8)).allMatch(n -> n.startsWith("mid"));
    // within one priority, first in first out
    assertThat(order.subList(0, 4)).containsExactly("high0", "high1", "high2", "high3");
  }

  @Test
  void lowPrioritiesAreNotStarvedForEver() {
    List<AsyncResult> results = new ArrayList<>();
    results.add(sendRecord("low", 0));
    for (int i = 0; i < 30; i++) {
      results.add(sendRecord("high" + i, 9));
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    if (!honoursPriority()) {
      return;
    }
    int lowAt = order.indexOf("low");
    if (sharesLowPriorities()) {
      // one take in ten goes to a lower band while higher ones wait
      assertThat(lowAt).isBetween(1, 10);
    } else {
      assertThat(lowAt).isEqualTo(30);
    }
  }

  @Test
  void priorityZeroAloneKeepsFifoOrder() {
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      results.add(sendRecord("t" + i, 0));
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    List<String> sent = List.of("t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9");
    if (keepsFifoOrder()) {
      assertThat(order).containsExactlyElementsOf(sent);
    } else {
      assertThat(order).containsExactlyInAnyOrderElementsOf(sent);
    }
  }

  @Test
  void inspectionCountsEveryPriority() {
    if (broker.inspector().isEmpty()) {
      return;
    }
    for (int p : new int[] {0, 1, 5, 9, 200}) {
      sendRecord("p" + p, p);
    }
    io.machinery.Inspection inspection = io.machinery.Inspection.of(server);
    String queue = config.defaultQueue();
    awaitWaiting(inspection, queue, 5);
    if (!listsPending()) {
      return;
    }
    assertThat(
            inspection.pending(config.defaultQueue(), 0, 10).stream()
                .map(s -> s.args().get(0).value()))
        .containsExactlyInAnyOrder("p0", "p1", "p5", "p9", "p200");
  }

  // ------------------------------------------------------------------------------------ fairness

  /**
   * One key's backlog of 30 tasks is sent first, then two tasks each of keys "a" and "b" and two
   * without a key; one slot. With fair shares the six quiet tasks run within the first eight takes
   * (a round is one take per key and one unkeyed), not after the backlog.
   */
  @Test
  void aBacklogOfOneKeyDoesNotHoldUpTheOthers() {
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      results.add(sendKeyed("noisy" + i, "noisy"));
    }
    for (int i = 0; i < 2; i++) {
      results.add(sendKeyed("a" + i, "a"));
      results.add(sendKeyed("b" + i, "b"));
      results.add(sendRecord("plain" + i, 0));
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    assertThat(order).hasSize(36);
    if (!sharesTurnsBetweenFairnessKeys()) {
      return;
    }
    List<String> quiet = List.of("a0", "a1", "b0", "b1", "plain0", "plain1");
    assertThat(order.subList(0, 8)).containsAll(quiet);
    // within a key, first in first out
    assertThat(order.stream().filter(n -> n.startsWith("noisy")).toList())
        .containsExactlyElementsOf(
            java.util.stream.IntStream.range(0, 30).mapToObj(i -> "noisy" + i).toList());
    assertThat(order.indexOf("a0")).isLessThan(order.indexOf("a1"));
  }

  /** Keys that wait get one turn each, round-robin, however long their backlogs are. */
  @Test
  void waitingKeysTakeTurns() {
    List<AsyncResult> results = new ArrayList<>();
    for (String key : List.of("x", "y", "z")) {
      for (int i = 0; i < 5; i++) {
        results.add(sendKeyed(key + i, key));
      }
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    assertThat(order).hasSize(15);
    if (!sharesTurnsBetweenFairnessKeys()) {
      return;
    }
    for (int round = 0; round < 5; round++) {
      assertThat(order.subList(round * 3, round * 3 + 3))
          .as("round %d", round)
          .containsExactly("x" + round, "y" + round, "z" + round);
    }
  }

  /**
   * A key of weight 3 takes three tasks in a row when its turn comes and a key of weight 1 one, so
   * about three of every four takes while both wait are the first key's; weights are listed, and
   * weight 1 removes one. Where the broker keeps no lanes, setting a weight is refused.
   */
  @Test
  void aKeyOfWeightThreeTakesAboutThreeOfEveryFourTasks() {
    if (broker.inspector().isEmpty()) {
      return;
    }
    io.machinery.Inspection inspection = io.machinery.Inspection.of(server);
    String queue = config.defaultQueue();
    if (!sharesTurnsBetweenFairnessKeys()) {
      assertThatThrownBy(() -> inspection.setFairnessWeight(queue, "heavy", 3))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    inspection.setFairnessWeight(queue, "heavy", 3);
    inspection.setFairnessWeight(queue, "other", 5);
    inspection.setFairnessWeight(queue, "other", 1);
    assertThat(inspection.fairnessWeights(queue)).containsExactly(java.util.Map.entry("heavy", 3));
    assertThatThrownBy(() -> inspection.setFairnessWeight(queue, "heavy", 0))
        .isInstanceOf(IllegalArgumentException.class);
    List<AsyncResult> results = new ArrayList<>();
    // Sent to an empty Redis queue, a keyed task goes to the plain list, where an idle consumer's
    // blocking move may take it outside the turns: a key of its own, left out below.
    results.add(sendKeyed("first", "first"));
    for (int i = 0; i < 9; i++) {
      results.add(sendKeyed("heavy" + i, "heavy"));
    }
    for (int i = 0; i < 5; i++) {
      results.add(sendKeyed("light" + i, "light"));
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    List<String> taken = order.stream().filter(n -> !n.equals("first")).toList();
    assertThat(taken).hasSize(14);
    // Three of every four takes are heavy's while both wait: two of the first eight are light's.
    // A consumer that fetched ahead and gives tasks back (its slot did not free within 50 ms) puts
    // them at the head of their lanes, not the ring back where it was, so one turn may run long:
    // one light task is allowed too. Without weights four of eight would be light's.
    assertThat(taken.subList(0, 8).stream().filter(n -> n.startsWith("light")).count())
        .as("light's takes among the first eight of %s", taken)
        .isBetween(1L, 2L);
    assertThat(taken.stream().filter(n -> n.startsWith("heavy")).toList())
        .as("within a key, first in first out")
        .containsExactlyElementsOf(
            java.util.stream.IntStream.range(0, 9).mapToObj(i -> "heavy" + i).toList());
  }

  /**
   * Keyed tasks are counted and listed with the rest of their queue; where the broker keeps lanes,
   * they are also paged, listed by key and purged with it (elsewhere no keys are listed).
   */
  @Test
  void inspectionCountsAndListsKeyedTasks() {
    if (broker.inspector().isEmpty()) {
      return;
    }
    // first: a keyed task sent to an empty Redis queue goes to the plain list, not its lane
    sendRecord("plain", 0);
    sendKeyed("k1", "tenant-1");
    sendKeyed("k2", "tenant-2");
    sendKeyed("k3", "tenant-2");
    io.machinery.Inspection inspection = io.machinery.Inspection.of(server);
    String queue = config.defaultQueue();
    awaitWaiting(inspection, queue, 4);
    if (!listsPending()) {
      return;
    }
    assertThat(inspection.pending(queue, 0, 10).stream().map(s -> s.args().get(0).value()))
        .containsExactlyInAnyOrder("k1", "k2", "k3", "plain");
    if (!sharesTurnsBetweenFairnessKeys()) {
      assertThat(inspection.fairnessKeys(queue, 10)).isEmpty();
      return; // purging is the inspector contract's; here only what fair lanes add
    }
    assertThat(inspection.pending(queue, 1, 2)).hasSize(2);
    assertThat(inspection.fairnessKeys(queue, 10))
        .containsExactly(java.util.Map.entry("tenant-1", 1L), java.util.Map.entry("tenant-2", 2L));
    assertThat(inspection.fairnessKeys(queue, 1)).containsOnlyKeys("tenant-1");
    assertThat(inspection.purge(queue)).isEqualTo(4);
    assertThat(inspection.fairnessKeys(queue, 10)).isEmpty();
    assertThat(inspection.queue(queue).pending()).isZero();
    assertThat(inspection.pending(queue, 0, 10)).isEmpty();
  }

  /**
   * Waits until the inspector sees {@code count} tasks waiting in {@code queue}: by its sizes, or
   * by its listing where it has none.
   */
  private void awaitWaiting(io.machinery.Inspection inspection, String queue, int count) {
    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(
                        countsSizes()
                            ? inspection.queue(queue).pending()
                            : inspection.pending(queue, 0, 10).size())
                    .isEqualTo(count));
  }

  protected AsyncResult sendKeyed(String name, String fairnessKey) {
    return server.sendTask(
        Signature.builder("record").args(Arg.of(name)).fairnessKey(fairnessKey).build());
  }

  protected AsyncResult sendRecord(String name, int priority) {
    return server.sendTask(
        Signature.builder("record").args(Arg.of(name)).priority(priority).build());
  }
}
