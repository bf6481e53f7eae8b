package io.machinery.backend.memcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend.Trigger;
import io.machinery.spi.GroupMeta;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import java.util.zip.CRC32;
import net.spy.memcached.internal.OperationFuture;
import net.spy.memcached.ops.Operation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Memcache backend at its edges, against a real memcached (a {@link CuttingProxy} drops a
 * connection at a chosen command):
 *
 * <ul>
 *   <li>a chord whose {@code cas} was carried out is not lost when its answer is: the winner rides
 *       in the meta the {@code cas} writes, so the member asking again hears WON_BEFORE; a meta
 *       triggered by the previous version answers from its separate winner key;
 *   <li>a release cut short at any of its writes leaves the trigger its winner's or released with
 *       no winner named anywhere (the previous version's key is gone before the meta is released);
 *   <li>group UUIDs up to memcached's 250-byte key limit trigger and purge;
 *   <li>failures are MachineryExceptions, also for purges and on a closed backend;
 *   <li>an expiry past 2038 is clamped, not wrapped negative;
 *   <li>a value over memcached's item limit is refused before it is sent (memcached's {@code
 *       SERVER_ERROR} would fail the other operations on the connection), and a FAILURE's error
 *       text is cut to fit;
 *   <li>the group refresh of a member's final state is best effort;
 *   <li>an asynchronous write that timed out is cancelled, never sent late.
 * </ul>
 */
class MemcacheBackendEdgeCasesIT {
  private InetSocketAddress address;
  private MemcacheBackend backend;
  private RawMemcached raw;

  @BeforeEach
  void connect() throws IOException {
    address = GoMemcacheWire.servers(TestEndpoints.memcacheAddr()).get(0);
    backend = MemcacheBackend.builder(config(120)).build();
    raw = new RawMemcached(address);
  }

  @AfterEach
  void close() throws IOException {
    backend.close();
    raw.close();
  }

  private static Config config(int expireIn) {
    return Config.builder()
        .resultBackend("memcache://" + TestEndpoints.memcacheAddr())
        .resultsExpireIn(expireIn)
        .build();
  }

  private static Signature task(String name) {
    return Signature.builder(name).args(Arg.of(1L)).build();
  }

  private byte[] metaJson(String group) throws IOException {
    return raw.get(group).value();
  }

  private boolean chordTriggeredInMemcached(String group) throws IOException {
    return WireCodec.decodeGroupMeta(raw.get(group).value()).chordTriggered();
  }

  /**
   * The worker retries a chord step that threw (ChordCompletion: chordStep); a first delivery that
   * then hears LOST acknowledges the member and nobody sends the callback. So a member whose cas
   * set ChordTriggered must hear WON, or WON_BEFORE when it asks again.
   */
  private static void assertTheWinIsNotLost(
      MemcacheBackend backend, String group, String member, Trigger first, Throwable failure) {
    if (first == Trigger.WON) {
      return;
    }
    Trigger again =
        await()
            .atMost(Duration.ofSeconds(20))
            .ignoreExceptions()
            .until(() -> backend.triggerChord(group, member), Objects::nonNull);
    assertThat(again)
        .as(
            "the member's cas set ChordTriggered, its first call answered %s / threw %s; asked"
                + " again it must hear WON_BEFORE, or no worker sends the chord callback",
            first, failure)
        .isEqualTo(Trigger.WON_BEFORE);
  }

  /** The connection drops right after the cas was carried out, before its answer arrives. */
  @Test
  void aChordWhoseCasLandedIsNotLostWhenTheConnectionDropsBeforeTheAnswer() throws Exception {
    String group = Uuids.newGroupUuid();
    String member = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(member));
    cutShort(
        "the cas's answer lost",
        line -> line.startsWith("cas " + group + " "),
        true,
        MemcacheBackend.DEFAULT_OPERATION_TIMEOUT,
        viaProxy -> {
          Trigger first = null;
          Throwable failure = null;
          try {
            first = viaProxy.triggerChord(group, member);
          } catch (MachineryException e) {
            failure = e;
          }
          await()
              .alias("the cas was carried out")
              .atMost(Duration.ofSeconds(5))
              .until(() -> chordTriggeredInMemcached(group));
          assertTheWinIsNotLost(viaProxy, group, member, first, failure);
        });
  }

  /** What a test does with a backend whose connection is cut short ({@link #cutShort}). */
  private interface OnCutConnection {
    void run(MemcacheBackend viaProxy) throws Exception;
  }

  /**
   * Runs {@code steps} with a backend of its own whose connection goes through a {@link
   * CuttingProxy} that drops it once, at the first command line {@code at} matches: before
   * memcached has that command, or ({@code carriedOut}) right after memcached carried it out,
   * before its answer arrives; then checks that the connection was cut, once ({@code scenario}
   * names the case in a failure).
   */
  private void cutShort(
      String scenario,
      Predicate<String> at,
      boolean carriedOut,
      Duration operationTimeout,
      OnCutConnection steps)
      throws Exception {
    try (CuttingProxy proxy = new CuttingProxy(address);
        MemcacheBackend viaProxy =
            MemcacheBackend.builder(config(120))
                .url("memcache://127.0.0.1:" + proxy.port())
                .operationTimeout(operationTimeout)
                .build()) {
      if (carriedOut) {
        proxy.cutAfter(at);
      } else {
        proxy.cutOn(at);
      }
      steps.run(viaProxy);
      assertThat(proxy.cuts()).as("%s: connections cut", scenario).isEqualTo(1);
    }
  }

  /** The winner is one field after Go's; every byte Go reads is as Go writes it. */
  @Test
  void theTriggeringCasWritesGosMetaWithTheWinnerAppended() throws IOException {
    String group = Uuids.newGroupUuid();
    String member = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(member));
    GroupMeta meta = WireCodec.decodeGroupMeta(raw.get(group).value());
    assertThat(backend.triggerChord(group, member)).isEqualTo(Trigger.WON);
    String gos =
        new String(WireCodec.encode(meta.withChordTriggered(true)), StandardCharsets.UTF_8);
    assertThat(raw.get(group).text())
        .isEqualTo(
            gos.substring(0, gos.length() - 1) + ",\"MachineryChordWinner\":\"" + member + "\"}");
    assertThat(WireCodec.decodeGroupMeta(raw.get(group).value()))
        .isEqualTo(meta.withChordTriggered(true));
    assertThat(backend.triggerChord(group, member)).isEqualTo(Trigger.WON_BEFORE);
    assertThat(backend.triggerChord(group, Uuids.newTaskUuid())).isEqualTo(Trigger.LOST);
    assertThat(backend.triggerChord(group)).isFalse();
  }

  /**
   * A meta triggered by the previous version (or by Go) has no winner field: the previous version's
   * key {@code <group>_chord_winner} is asked (a rolling upgrade).
   */
  @Test
  void aChordTriggeredByThePreviousVersionAnswersFromItsWinnerKey() throws IOException {
    String group = Uuids.newGroupUuid();
    String member = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(member));
    GroupMeta meta = WireCodec.decodeGroupMeta(raw.get(group).value());
    long expiry = backend.expiration();
    raw.set(group, expiry, WireCodec.encode(meta.withChordTriggered(true)));
    assertThat(backend.triggerChord(group, member)).isEqualTo(Trigger.LOST);
    raw.set(group + "_chord_winner", expiry, member.getBytes(StandardCharsets.UTF_8));
    assertThat(backend.triggerChord(group, member)).isEqualTo(Trigger.WON_BEFORE);
    assertThat(backend.triggerChord(group, Uuids.newTaskUuid())).isEqualTo(Trigger.LOST);
  }

  /**
   * A release writes Go's meta untriggered, without the winner; a trigger the previous version kept
   * under {@code <group>_chord_winner} is released by that winner, and the key goes with it: a Go
   * worker's trigger afterwards is not taken for that member's (it would fire the chord again).
   */
  @Test
  void aChordTriggeredByThePreviousVersionIsReleasedByItsWinnerAndItsKeyGoes() throws IOException {
    String group = Uuids.newGroupUuid();
    String member = Uuids.newTaskUuid();
    String other = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(member, other));
    GroupMeta meta = WireCodec.decodeGroupMeta(raw.get(group).value());
    long expiry = backend.expiration();
    raw.set(group, expiry, WireCodec.encode(meta.withChordTriggered(true)));
    raw.set(group + "_chord_winner", expiry, member.getBytes(StandardCharsets.UTF_8));

    assertThat(backend.releaseChordTrigger(group, other)).as("held by another").isFalse();
    assertThat(backend.releaseChordTrigger(group, "")).as("no member").isFalse();
    assertThat(backend.releaseChordTrigger(group, member)).isTrue();
    assertThat(raw.get(group).value()).isEqualTo(WireCodec.encode(meta));
    assertThat(raw.get(group + "_chord_winner")).as("the previous version's key").isNull();

    raw.set(group, expiry, WireCodec.encode(meta.withChordTriggered(true))); // a Go worker's
    assertThat(backend.triggerChord(group, member)).isEqualTo(Trigger.LOST);
    assertThat(backend.releaseChordTrigger(group, member)).as("held by Go").isFalse();
  }

  /**
   * A release cut short at any of its writes (the worker dies there, or the connection drops before
   * or after memcached carried the write out) leaves the trigger either still its winner's (the
   * winner hears WON_BEFORE, another member LOST) or released with no winner named anywhere: never
   * held by nobody (the callback lost), and never a released meta beside a key naming the old
   * winner (a Go worker's trigger would make it win again). Asked again, the release finishes.
   */
  @Test
  void aReleaseCutShortLeavesTheTriggerItsWinnersOrReleased() throws Exception {
    List<String> cutPoints = List.of("first cas", "delete", "second cas");
    for (String cutPoint : cutPoints) {
      for (boolean carriedOut : List.of(false, true)) {
        String group = Uuids.newGroupUuid();
        String member = Uuids.newTaskUuid();
        String other = Uuids.newTaskUuid();
        backend.initGroup(group, List.of(member, other));
        GroupMeta meta = WireCodec.decodeGroupMeta(raw.get(group).value());
        long expiry = backend.expiration();
        raw.set(group, expiry, WireCodec.encode(meta.withChordTriggered(true)));
        raw.set(group + "_chord_winner", expiry, member.getBytes(StandardCharsets.UTF_8));
        String scenario = cutPoint + (carriedOut ? ", carried out" : ", not carried out");

        int[] casSeen = {0};
        int casToCut = cutPoint.equals("second cas") ? 2 : 1;
        Predicate<String> at =
            cutPoint.equals("delete")
                ? line -> line.startsWith("delete " + group + "_chord_winner")
                : line -> line.startsWith("cas " + group + " ") && ++casSeen[0] == casToCut;
        cutShort(
            scenario,
            at,
            carriedOut,
            Duration.ofMillis(500), // close() waits for it, six times
            viaProxy ->
                assertThatThrownBy(() -> viaProxy.releaseChordTrigger(group, member))
                    .as(scenario)
                    .isInstanceOf(MachineryException.class));

        if (carriedOut) {
          await()
              .alias(scenario + ": memcached carried the write out")
              .atMost(Duration.ofSeconds(5))
              .until(
                  () ->
                      switch (cutPoint) {
                        case "first cas" ->
                            member.equals(MemcacheBackend.winnerField(metaJson(group)));
                        case "delete" -> raw.get(group + "_chord_winner") == null;
                        default -> !chordTriggeredInMemcached(group);
                      });
        }
        if (chordTriggeredInMemcached(group)) {
          assertThat(backend.triggerChord(group, member))
              .as("%s: still triggered, the winner must still be known", scenario)
              .isEqualTo(Trigger.WON_BEFORE);
          assertThat(backend.triggerChord(group, other)).as(scenario).isEqualTo(Trigger.LOST);
          assertThat(backend.releaseChordTrigger(group, member)).as(scenario).isTrue();
        } else {
          assertThat(raw.get(group + "_chord_winner"))
              .as("%s: released, the previous version's key must be gone", scenario)
              .isNull();
          assertThat(backend.releaseChordTrigger(group, member)).as(scenario).isFalse();
        }
        assertThat(raw.get(group).value()).as(scenario).isEqualTo(WireCodec.encode(meta));
        assertThat(raw.get(group + "_chord_winner")).as(scenario).isNull();
        assertThat(backend.triggerChord(group, other)).as(scenario).isEqualTo(Trigger.WON);
      }
    }
  }

  /** A group UUID that is a valid memcached key, with no room for a suffix, still triggers. */
  @Test
  void aLongGroupUuidThatIsAValidKeyDoesNotLoseTheChord() throws Exception {
    String group = "group_" + "a".repeat(244);
    assertThat(group).hasSize(250);
    String member = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(member));
    Trigger first = null;
    Throwable failure = null;
    try {
      first = backend.triggerChord(group, member);
    } catch (MachineryException e) {
      failure = e;
    }
    assertThat(chordTriggeredInMemcached(group)).isTrue();
    assertTheWinIsNotLost(backend, group, member, first, failure);
    assertThat(backend.triggerChord(group, member)).isEqualTo(Trigger.WON_BEFORE);
    // triggered by Go (no winner field): no previous version's key to ask, it would not be a key
    GroupMeta meta = WireCodec.decodeGroupMeta(raw.get(group).value());
    raw.set(group, backend.expiration(), WireCodec.encode(meta));
    assertThat(backend.triggerChord(group, member)).isEqualTo(Trigger.LOST);
    assertThat(backend.releaseChordTrigger(group, member)).as("held by Go").isFalse();
    // won by the member again: released without a key to delete (it would not be a key)
    raw.set(
        group, backend.expiration(), MemcacheBackend.withWinner(WireCodec.encode(meta), member));
    assertThat(backend.releaseChordTrigger(group, member)).isTrue();
    assertThat(chordTriggeredInMemcached(group)).isFalse();
  }

  /** Backend SPI: failures are MachineryExceptions; and purging a group that exists works. */
  @Test
  void purgingALongGroupUuidWorksAndFailuresAreMachineryExceptions() throws IOException {
    String group = "group_" + "b".repeat(234);
    backend.initGroup(group, List.of(Uuids.newTaskUuid()));
    assertThatCode(() -> backend.purgeGroupMeta(group)).doesNotThrowAnyException();
    assertThat(raw.get(group)).isNull();
    assertThatThrownBy(() -> backend.purgeState("task with spaces"))
        .isInstanceOf(MachineryException.class);
    assertThatThrownBy(() -> backend.purgeGroupMeta("group with spaces"))
        .isInstanceOf(MachineryException.class);
  }

  @Test
  void aClosedBackendFailsPurgesWithAMachineryException() {
    MemcacheBackend closed = MemcacheBackend.builder(config(120)).build();
    closed.close();
    assertThatThrownBy(() -> closed.purgeState(Uuids.newTaskUuid()))
        .isInstanceOf(MachineryException.class);
    assertThatThrownBy(() -> closed.purgeGroupMeta(Uuids.newGroupUuid()))
        .isInstanceOf(MachineryException.class);
  }

  /**
   * Config accepts results_expire_in up to Integer.MAX_VALUE; now + 20 years overflows int32, which
   * memcached would take as "expired already": the expiry is clamped to 2038 instead.
   */
  @Test
  void aResultsExpiryOfTwentyYearsKeepsStates() {
    Config twentyYears =
        Config.builder()
            .resultBackend("memcache://" + TestEndpoints.memcacheAddr())
            .resultsExpiry(Duration.ofDays(365L * 20))
            .build();
    try (MemcacheBackend longLived = MemcacheBackend.builder(twentyYears).build()) {
      Signature add = task("add");
      longLived.setStatePending(add);
      assertThat(longLived.expiration())
          .as("memcached's exptime (now + 20 years, clamped)")
          .isEqualTo(Integer.MAX_VALUE);
      assertThat(longLived.getState(add.uuid())).as("the state just stored").isPresent();
    }
  }

  /**
   * A result over memcached's 1 MB item limit (under spymemcached's 20 MB check) would be refused
   * by memcached with SERVER_ERROR, which fails the other writes in flight on the shared connection
   * (other workers' tasks): it is refused before it is sent, with an IllegalArgumentException the
   * worker turns into a FAILURE.
   */
  @Test
  void anOversizedResultFailsOnlyItsOwnWrite() {
    Signature big = task("big");
    String huge = "x".repeat(2 * 1024 * 1024);
    CompletableFuture<Void> bigWrite =
        CompletableFuture.runAsync(
            () -> backend.setStateSuccess(big, List.of(TaskResult.of("string", huge))));
    List<Throwable> collateral = new ArrayList<>();
    int written = 0;
    while (!bigWrite.isDone() || written == 0) {
      List<CompletableFuture<Void>> batch = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        batch.add(backend.setStateReceivedAsync(task("small")));
      }
      for (CompletableFuture<Void> write : batch) {
        try {
          write.join();
        } catch (CompletionException e) {
          collateral.add(e.getCause());
        }
        written++;
      }
    }
    Throwable bigFailure = bigWrite.handle((v, e) -> e).join();
    assertThat(bigFailure).as("the oversized write fails").isNotNull();
    assertThat(collateral)
        .as(
            "of %d small writes in flight beside the oversized one (which failed with %s), none"
                + " fails",
            written, bigFailure)
        .isEmpty();
    assertThatThrownBy(() -> backend.setStateSuccess(big, List.of(TaskResult.of("string", huge))))
        .isInstanceOf(MachineryException.class)
        .hasCauseInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("larger than memcached holds");
  }

  /** With the server's {@code -I} told, the limit follows it. */
  @Test
  void theItemSizeLimitIsTheBuildersToSet() {
    try (MemcacheBackend small = MemcacheBackend.builder(config(120)).maxItemSize(4096).build()) {
      Signature task = task("add");
      assertThatThrownBy(
              () -> small.setStateSuccess(task, List.of(TaskResult.of("string", "y".repeat(5000)))))
          .hasCauseInstanceOf(IllegalArgumentException.class);
      small.setStateSuccess(task, List.of(TaskResult.of("string", "y".repeat(3000))));
      assertThat(small.getState(task.uuid()).orElseThrow().isSuccess()).isTrue();
    }
    assertThatThrownBy(() -> MemcacheBackend.builder(config(120)).maxItemSize(100))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** A FAILURE is always storable: an error text too long is cut, saying how long it was. */
  @Test
  void aFailureWithAnErrorTooLongForAnItemIsStoredCut() {
    Signature task = task("fails");
    String error = "<&>".repeat(1024 * 1024); // Go's JSON writes each as six bytes
    backend.setStateFailure(task, error);
    TaskState stored = backend.getState(task.uuid()).orElseThrow();
    assertThat(stored.isFailure()).isTrue();
    assertThat(stored.error())
        .startsWith("<&><&>")
        .endsWith(
            "… (cut: "
                + error.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                + " bytes in all)");
    String fits = "e".repeat(900_000);
    backend.setStateFailure(task, fits);
    assertThat(backend.getState(task.uuid()).orElseThrow().error()).isEqualTo(fits);
  }

  private static long crc(String key) {
    CRC32 crc = new CRC32();
    crc.update(key.getBytes(StandardCharsets.UTF_8));
    return crc.getValue();
  }

  /**
   * Two servers; the group's meta lives on the second, which goes down; the member's state lives on
   * the first. The SUCCESS is stored, and the group refresh (beyond Go) failing does not make
   * setStateSuccess throw (the worker would retry the step and dead-letter the message); Go's
   * worker records SUCCESS and goes on.
   */
  @Test
  void aMembersSuccessIsNotFailedByTheGroupRefreshWhenTheGroupsServerIsDown() throws Exception {
    String group;
    do {
      group = Uuids.newGroupUuid();
    } while (crc(group) % 2 != 1);
    Signature member;
    do {
      member = task("add").toBuilder().groupUuid(group).groupTaskCount(1).build();
    } while (crc(member.uuid()) % 2 != 0);
    CuttingProxy proxy = new CuttingProxy(address);
    try (MemcacheBackend two =
        MemcacheBackend.builder(config(120))
            .url(
                "memcache://"
                    + address.getHostString()
                    + ":"
                    + address.getPort()
                    + ",127.0.0.1:"
                    + proxy.port())
            .build()) {
      two.initGroup(group, List.of(member.uuid()));
      proxy.close(); // the group's server goes down
      Signature done = member;
      Throwable failure = null;
      try {
        two.setStateSuccess(done, List.of(TaskResult.of(2L)));
      } catch (MachineryException e) {
        failure = e;
      }
      assertThat(raw.get(member.uuid()).text()).as("SUCCESS is stored").contains("\"SUCCESS\"");
      assertThat(failure).as("setStateSuccess, though SUCCESS was stored").isNull();
    }
  }

  /** A RECEIVED or STARTED still queued when the caller gives up is cancelled, not sent later. */
  @Test
  void anAsynchronousWriteThatTimesOutIsCancelled() {
    AtomicBoolean cancelled = new AtomicBoolean();
    CountDownLatch answered = new CountDownLatch(1);
    Operation operation =
        (Operation)
            Proxy.newProxyInstance(
                Operation.class.getClassLoader(),
                new Class<?>[] {Operation.class},
                (p, method, args) -> {
                  if (method.getName().equals("cancel")) {
                    cancelled.set(true);
                    answered.countDown(); // as spymemcached's operations complete when cancelled
                  }
                  return method.getReturnType() == boolean.class ? false : null;
                });
    try (var executor = Executors.newSingleThreadExecutor();
        MemcacheBackend quick =
            MemcacheBackend.builder(config(120)).operationTimeout(Duration.ofMillis(50)).build()) {
      OperationFuture<Boolean> queued = new OperationFuture<>("queued", answered, 60_000, executor);
      queued.setOperation(operation);
      CompletableFuture<Void> done = quick.completion(queued, "queued");
      assertThatThrownBy(done::join).hasCauseInstanceOf(TimeoutException.class);
      await().atMost(Duration.ofSeconds(5)).untilTrue(cancelled);
    }
  }
}
