package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Chains as long as Go's decoder admits (its 10,000 JSON levels: 4,999 tasks with arguments, each
 * link nesting two levels): a Java worker reads and runs them, a Java producer sends them, with no
 * stack overflow on a platform or a virtual thread; one level more is refused on both sides, and a
 * hostile message nested 100,000 deep is dead-lettered while the worker carries on. Memory broker
 * and backend, real worker.
 */
class LongChainTest {
  /** The longest chain of tasks with arguments that fits Go's 10,000 levels. */
  private static final int GO_LONGEST_CHAIN = 4_999;

  /**
   * The chains run end to end: eight times the old limit of 127 tasks. Each message carries the
   * rest of the chain, so a run costs the square of its length (4,999 tasks took about a minute
   * here); the tests without a worker take the whole 4,999 through every recursive-looking step
   * (read, check, write, equality) on small stacks.
   */
  private static final int RUN_CHAIN = 1_000;

  private static final Duration PATIENCE = Duration.ofMinutes(1);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();

  /** The first argument of each "step" run, in the order the runs happened. */
  private final List<Long> ran = new CopyOnWriteArrayList<>();

  LongChainTest() {
    // step(i, previous...) records i and returns it: the next step gets it appended
    server.registerTask(
        "step",
        TaskFunction.varargs(
            long[].class,
            numbers -> {
              ran.add(numbers[0]);
              return numbers[0];
            }));
  }

  @AfterEach
  void close() {
    server.close();
    broker.close();
    backend.close();
  }

  private CountDownLatch launchWorker(boolean platformThreads, int lastStep) {
    CountDownLatch lastRan = new CountDownLatch(1);
    server
        .workerBuilder("long-chain")
        .concurrency(2)
        .platformTaskThreads(platformThreads)
        .postTaskHandler(
            task -> {
              if (task.args().get(0).value() instanceof Long i && i == lastStep) {
                lastRan.countDown();
              }
            })
        .build()
        .launchAsync();
    return lastRan;
  }

  /** Fails as soon as a message is dead-lettered, rather than at the end of its patience. */
  private void awaitLastStepOrADeadLetter(CountDownLatch lastRan) {
    await()
        .atMost(PATIENCE)
        .until(() -> lastRan.getCount() == 0 || !broker.deadLetters().isEmpty());
  }

  private static List<Long> zeroTo(int exclusive) {
    List<Long> out = new ArrayList<>(exclusive);
    for (long i = 0; i < exclusive; i++) {
      out.add(i);
    }
    return out;
  }

  private static String taskUuid(int i) {
    return String.format("task_00000000-0000-4000-8000-%012d", i);
  }

  /**
   * A chain as Go's {@code SendChain(NewChain(...))} writes it: every link with Go's 19 keys, the
   * next link in {@code OnSuccess}, the first with the queue and the {@code Headers} that {@code
   * SendTask} adds; {@code value(i)} is step i's argument, of Go type {@code type}.
   */
  private static byte[] goChain(
      int length, String type, java.util.function.IntFunction<String> value) {
    StringBuilder json = new StringBuilder(length * 400);
    for (int i = 0; i < length; i++) {
      json.append("{\"UUID\":\"")
          .append(taskUuid(i))
          .append("\",\"Name\":\"step\",\"RoutingKey\":\"")
          .append(i == 0 ? "machinery_tasks" : "")
          .append("\",\"ETA\":null,\"GroupUUID\":\"\",\"GroupTaskCount\":0,")
          .append("\"Args\":[{\"Name\":\"\",\"Type\":\"")
          .append(type)
          .append("\",\"Value\":")
          .append(value.apply(i))
          .append("}],\"Headers\":")
          .append(i == 0 ? "{}" : "null")
          .append(",\"Priority\":0,\"Immutable\":false,\"RetryCount\":0,\"RetryTimeout\":0,")
          .append("\"OnSuccess\":")
          .append(i < length - 1 ? "[" : "null");
    }
    for (int i = length - 1; i >= 0; i--) {
      json.append(i < length - 1 ? "]" : "")
          .append(",\"OnError\":null,\"ChordCallback\":null,\"BrokerMessageGroupId\":\"\",")
          .append("\"SQSReceiptHandle\":\"\",\"StopTaskDeletionOnError\":false,")
          .append("\"IgnoreWhenTaskNotRegistered\":false}");
    }
    return json.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] goChainOfSteps(int length) {
    return goChain(length, "int64", Integer::toString);
  }

  /** How many signatures follow each other through {@code OnSuccess}, counted without recursion. */
  private static int chainLength(Signature first) {
    int length = 1;
    for (Signature s = first; !s.onSuccess().isEmpty(); s = s.onSuccess().get(0)) {
      length++;
    }
    return length;
  }

  /** Runs {@code body} on a platform thread of a 256 KiB stack, a quarter of the JVM default. */
  private static void onASmallStack(ThrowingRunnable body) throws InterruptedException {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread thread = new Thread(null, () -> run(body, failure), "small-stack", 256 * 1024);
    thread.start();
    thread.join();
    assertThat(failure.get()).isNull();
  }

  /** Runs {@code body} on a virtual thread, as a worker runs its tasks by default. */
  private static void onAVirtualThread(ThrowingRunnable body) throws InterruptedException {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread.ofVirtual().start(() -> run(body, failure)).join();
    assertThat(failure.get()).isNull();
  }

  private static void run(ThrowingRunnable body, AtomicReference<Throwable> failure) {
    try {
      body.run();
    } catch (Throwable t) {
      failure.set(t);
    }
  }

  private interface ThrowingRunnable {
    void run() throws Exception;
  }

  // ----------------------------------------------------------------------------------------------

  /**
   * Go's bytes, as a Go producer sends them, read and run by a Java worker on virtual threads (the
   * default); each next link is sent by the worker, a Java producer.
   */
  @Test
  void aJavaWorkerRunsInOrderALongChainSentByGo() throws InterruptedException {
    CountDownLatch lastRan = launchWorker(false, RUN_CHAIN - 1);
    broker.pushRaw(config.defaultQueue(), goChainOfSteps(RUN_CHAIN));

    awaitLastStepOrADeadLetter(lastRan);
    assertThat(broker.deadLetters()).isEmpty();
    assertThat(ran).containsExactlyElementsOf(zeroTo(RUN_CHAIN));
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(backend.getState(taskUuid(RUN_CHAIN - 1)))
                    .hasValueSatisfying(
                        state -> assertThat(state.state()).isEqualTo(State.SUCCESS)));
    assertThat(broker.deadLetters()).isEmpty();
  }

  /** {@link Server#sendChain}, then a Java worker on platform task threads. */
  @Test
  void aJavaProducerSendsALongChainAndItRunsInOrder() throws InterruptedException {
    List<Signature> steps = new ArrayList<>();
    for (long i = 0; i < RUN_CHAIN; i++) {
      steps.add(Signature.create("step", Arg.of(i)));
    }
    Chain chain = Chain.of(steps);
    CountDownLatch lastRan = launchWorker(true, RUN_CHAIN - 1);

    ChainAsyncResult result = server.sendChain(chain);

    awaitLastStepOrADeadLetter(lastRan);
    assertThat(broker.deadLetters()).isEmpty();
    assertThat(ran).containsExactlyElementsOf(zeroTo(RUN_CHAIN));
    assertThat(result.get(PATIENCE)).containsExactly((long) RUN_CHAIN - 1);
    assertThat(broker.deadLetters()).isEmpty();
  }

  @Test
  void aChainOneLinkLongerThanGoAdmitsIsRefusedWhenSentAndWhenRead() {
    List<Signature> steps = new ArrayList<>();
    for (long i = 0; i <= GO_LONGEST_CHAIN; i++) {
      steps.add(Signature.create("step", Arg.of(i)));
    }
    Chain chain = Chain.of(steps);
    assertThatThrownBy(() -> server.sendChain(chain))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nests deeper than the 10000 JSON levels a worker decodes");
    assertThat(broker.pendingTasks(config.defaultQueue())).isEmpty();
    assertThat(backend.getState(chain.tasks().get(0).uuid())).isEmpty();

    // Go's own decoder refuses it too ("exceeded max depth"): 10,001 levels
    assertThatThrownBy(() -> WireCodec.decodeSignature(goChainOfSteps(GO_LONGEST_CHAIN + 1)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("nesting depth (10001) exceeds the maximum allowed (10000");
  }

  /**
   * The bound is Go's exactly, on the sender's side too: 5,000 tasks without arguments nest 10,000
   * levels (the last one's empty {@code Args} array at 10,000) and are sent, and a worker reads
   * them; 5,001 are refused before anything is stored.
   */
  @Test
  void theSenderAdmitsExactlyTheTenThousandLevelsGoAdmits() {
    List<Signature> steps = new ArrayList<>();
    for (int i = 0; i < GO_LONGEST_CHAIN + 2; i++) {
      steps.add(Signature.create("noop"));
    }
    Chain tooLong = Chain.of(steps);
    assertThatThrownBy(() -> server.sendChain(tooLong))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nests deeper than the 10000 JSON levels a worker decodes");
    assertThat(backend.getState(tooLong.tasks().get(0).uuid())).isEmpty();

    Chain longest = Chain.of(steps.subList(1, steps.size()));
    server.sendChain(longest);
    assertThat(broker.pendingTasks(config.defaultQueue()))
        .singleElement()
        .satisfies(first -> assertThat(chainLength(first)).isEqualTo(GO_LONGEST_CHAIN + 1));
  }

  /**
   * Go's bytes read and written again byte for byte, on both of the encoder's paths (integers take
   * the plain one, floats Jackson's), on a small platform stack and on a virtual thread.
   */
  @Test
  void aGoChainAsLongAsGoAdmitsDecodesAndReEncodesByteForByteOnSmallStacks()
      throws InterruptedException {
    byte[] integers = goChainOfSteps(GO_LONGEST_CHAIN);
    byte[] floats = goChain(GO_LONGEST_CHAIN, "float64", i -> i + ".5");
    ThrowingRunnable roundTrips =
        () -> {
          for (byte[] go : List.of(integers, floats)) {
            Signature first = WireCodec.decodeSignature(go);
            assertThat(chainLength(first)).isEqualTo(GO_LONGEST_CHAIN);
            assertThat(new String(WireCodec.encode(first), StandardCharsets.UTF_8))
                .isEqualTo(new String(go, StandardCharsets.UTF_8));
            Signature again = WireCodec.decodeSignature(go);
            assertThat(again).isEqualTo(first).hasSameHashCodeAs(first);
            assertThat(again.toString()).contains(taskUuid(0));
            WireCodec.checkTask(again);
          }
        };
    onASmallStack(roundTrips);
    onAVirtualThread(roundTrips);
  }

  @Test
  void equalityTellsApartChainsThatDifferOnlyInTheirLastLink() throws InterruptedException {
    byte[] go = goChainOfSteps(GO_LONGEST_CHAIN);
    byte[] other =
        goChain(GO_LONGEST_CHAIN, "int64", i -> i == GO_LONGEST_CHAIN - 1 ? "-1" : "" + i);
    onASmallStack(
        () ->
            assertThat(WireCodec.decodeSignature(go))
                .isNotEqualTo(WireCodec.decodeSignature(other)));
  }

  /**
   * A message of 100,000 nested arrays, and one of 50,000 links nested through {@code OnSuccess},
   * are refused with the reason, dead-lettered, and the worker runs the next task.
   */
  @Test
  void aHundredThousandLevelsAreDeadLetteredAndTheWorkerCarriesOn() throws InterruptedException {
    CountDownLatch afterwards = launchWorker(false, 7);
    int depth = 100_000;
    broker.pushRaw(
        config.defaultQueue(),
        ("[".repeat(depth) + "]".repeat(depth)).getBytes(StandardCharsets.UTF_8));
    StringBuilder links = new StringBuilder();
    for (int i = 0; i < depth / 2; i++) {
      links
          .append("{\"UUID\":\"")
          .append(taskUuid(i))
          .append("\",\"Name\":\"step\",\"OnSuccess\":[");
    }
    links.append("{}").append("]}".repeat(depth / 2));
    broker.pushRaw(config.defaultQueue(), links.toString().getBytes(StandardCharsets.UTF_8));

    server.sendTask(Signature.create("step", Arg.of(7L)));

    assertThat(afterwards.await(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(ran).containsExactly(7L);
    await().atMost(PATIENCE).until(() -> broker.deadLetters().size() == 2);
    assertThat(broker.deadLetters())
        .hasSize(2)
        .allSatisfy(dead -> assertThat(dead.reason()).contains("nesting depth"))
        .anySatisfy(dead -> assertThat(dead.reason()).contains("maximum allowed (256 levels"))
        .anySatisfy(dead -> assertThat(dead.reason()).contains("maximum allowed (10000,"));
  }
}
