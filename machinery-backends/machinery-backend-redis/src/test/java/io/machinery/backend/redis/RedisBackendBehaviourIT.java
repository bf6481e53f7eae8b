package io.machinery.backend.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.SetArgs;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.GroupMeta;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What the Redis backend stores, byte for byte, and how it shares chords with Go workers. */
class RedisBackendBehaviourIT {
  private static final int EXPIRE = 600;
  private Config config;
  private RedisBackend backend;
  private RedisSession redis;

  @BeforeEach
  void setUp() {
    config =
        Config.builder().resultBackend(TestEndpoints.redisUrl()).resultsExpireIn(EXPIRE).build();
    backend = RedisBackend.create(config);
    redis = RedisSession.open(TestEndpoints.redisUrl(), config);
  }

  @AfterEach
  void tearDown() {
    backend.close();
    redis.close();
  }

  private byte[] raw(String key) {
    return redis.await(redis.commands().get(key));
  }

  private static Path captured(String name) {
    Path path = Path.of("../../interop/go/captured", name);
    org.junit.jupiter.api.Assertions.assertTrue(
        Files.exists(path),
        "interop/go/captured is part of the repository; this checkout is incomplete");
    return path;
  }

  @Test
  void overAStateGoWroteEveryLaterStateIsByteForByteWhatGoWrites() throws Exception {
    byte[] goPending = Files.readAllBytes(captured("redis-state-add-pending.json"));
    TaskState pending = WireCodec.decodeTaskState(goPending);
    Signature add = Signature.builder("add").uuid(pending.taskUuid()).build();
    try {
      // a lone write: the merge script
      redis.await(redis.commands().set(add.uuid(), goPending));
      backend.setStateReceived(add);
      assertThat(new String(raw(add.uuid()), StandardCharsets.UTF_8))
          .isEqualTo(Files.readString(captured("redis-state-add-received.json")));
      // a worker's writes: the write chain
      redis.await(redis.commands().set(add.uuid(), goPending));
      CompletableFuture<Void> received = backend.setStateReceivedAsync(add);
      CompletableFuture<Void> started = backend.setStateStartedAsync(add);
      backend.setStateSuccess(add, List.of(TaskResult.of(2L)));
      received.join();
      started.join();
      assertThat(new String(raw(add.uuid()), StandardCharsets.UTF_8))
          .isEqualTo(Files.readString(captured("redis-state-add-success.json")));
      long ttl = redis.await(redis.commands().ttl(add.uuid()));
      assertThat(ttl).isBetween(EXPIRE - 5L, (long) EXPIRE);
    } finally {
      redis.await(redis.commands().del(add.uuid()));
    }
  }

  @Test
  void resultDigitsSurviveTheMergeUnchanged() {
    Signature echo = Signature.create("echo");
    List<TaskResult> results =
        List.of(
            TaskResult.of("uint64", new BigInteger("18446744073709551615")),
            TaskResult.of("float64", 0.1),
            TaskResult.of("int64", 9_007_199_254_740_993L),
            TaskResult.of("float64", 200.0));
    try {
      backend.setStatePending(echo);
      TaskState pending = backend.getState(echo.uuid()).orElseThrow();
      backend.setStateSuccess(echo, results);
      assertThat(raw(echo.uuid()))
          .isEqualTo(
              WireCodec.encode(TaskState.success(echo, results).withCarriedForward(pending)));
    } finally {
      redis.await(redis.commands().del(echo.uuid()));
    }
  }

  @Test
  void aWorkerThreadsWritesEndAtTheFinalStateInOneGetAndOneSetWhenTheyComeTogether() {
    Signature task = Signature.create("add");
    try {
      backend.setStatePending(task);
      CompletableFuture<Void> received = backend.setStateReceivedAsync(task);
      CompletableFuture<Void> started = backend.setStateStartedAsync(task);
      backend.setStateFailure(task, "boom");
      received.join();
      started.join();
      TaskState state = backend.getState(task.uuid()).orElseThrow();
      assertThat(state.state()).isEqualTo(State.FAILURE);
      assertThat(state.taskName()).isEqualTo("add");
      assertThat(state.error()).isEqualTo("boom");
    } finally {
      redis.await(redis.commands().del(task.uuid()));
    }
  }

  /**
   * A worker resumed after a pause writes its late RECEIVED and STARTED: over another worker's
   * SUCCESS they are dropped, over a FAILURE (a task run again from its dead letter) they land.
   */
  @Test
  void lateEarlyStatesNeverReplaceAStoredSuccessButDoReplaceAFailure() {
    Signature succeeded = Signature.create("add");
    Signature failed = Signature.create("add");
    try {
      backend.setStatePending(succeeded);
      backend.setStateSuccess(succeeded, List.of(TaskResult.of(3L)));
      CompletableFuture<Void> received = backend.setStateReceivedAsync(succeeded);
      CompletableFuture<Void> started = backend.setStateStartedAsync(succeeded);
      received.join();
      started.join();
      TaskState state = backend.getState(succeeded.uuid()).orElseThrow();
      assertThat(state.state()).isEqualTo(State.SUCCESS);
      assertThat(state.results()).containsExactly(TaskResult.of(3L));

      backend.setStatePending(failed);
      backend.setStateFailure(failed, "boom");
      backend.setStateReceivedAsync(failed).join();
      backend.setStateStartedAsync(failed).join();
      assertThat(backend.getState(failed.uuid()).orElseThrow().state()).isEqualTo(State.STARTED);
    } finally {
      redis.await(redis.commands().del(succeeded.uuid(), failed.uuid()));
    }
  }

  /**
   * The chain read the state before another worker stored SUCCESS (a pause between the read and the
   * write): the STARTED it sends then is checked in Redis and dropped.
   */
  @Test
  void anEarlyStateWhoseReadIsOlderThanAStoredSuccessIsDroppedInRedis() {
    Signature task = Signature.create("add");
    try {
      backend.setStatePending(task);
      WriteChain chain = WriteChain.start(redis.commands(), task.uuid());
      chain.writeEarly(() -> StateTemplate.of(TaskState.received(task)), EXPIRE).join();
      assertThat(backend.getState(task.uuid()).orElseThrow().state()).isEqualTo(State.RECEIVED);

      backend.setStateSuccess(task, List.of(TaskResult.of(3L))); // the copy, meanwhile
      chain.writeEarly(() -> StateTemplate.of(TaskState.started(task)), EXPIRE).join();

      TaskState state = backend.getState(task.uuid()).orElseThrow();
      assertThat(state.state()).isEqualTo(State.SUCCESS);
      assertThat(state.results()).containsExactly(TaskResult.of(3L));
    } finally {
      redis.await(redis.commands().del(task.uuid()));
    }
  }

  /** A final write ends a chain whose read has not answered: a write after it fails, naming it. */
  @Test
  void nothingFollowsTheFinalWriteOfAChain() {
    Signature task = Signature.create("add");
    WriteChain chain = WriteChain.deferred(redis.commands(), task.uuid());
    StateTemplate success = StateTemplate.of(TaskState.success(task, List.of()));
    assertThat(
            chain.writeLast(success, EXPIRE, null, () -> CompletableFuture.completedFuture(null)))
        .succeedsWithin(Duration.ofSeconds(5));

    assertThat(chain.write(success, EXPIRE, null))
        .failsWithin(Duration.ofSeconds(5))
        .withThrowableOfType(ExecutionException.class)
        .havingCause()
        .isInstanceOf(IllegalStateException.class)
        .withMessage("the chain of " + task.uuid() + " has ended");
    assertThat(
            chain.writeLast(success, EXPIRE, null, () -> CompletableFuture.completedFuture(null)))
        .failsWithin(Duration.ofSeconds(5));
  }

  @Test
  void aGroupsExpiryIsRefreshedWhenItsTasksFinish() {
    String group = Uuids.newGroupUuid();
    Signature member = Signature.builder("add").groupUuid(group).groupTaskCount(1).build();
    try {
      backend.initGroup(group, List.of(member.uuid()));
      backend.setStatePending(member);
      redis.await(redis.commands().expire(group, 5));
      backend.setStateSuccess(member, List.of(TaskResult.of(1L)));
      assertThat(redis.await(redis.commands().ttl(group))).isGreaterThan(EXPIRE - 5L);
    } finally {
      redis.await(redis.commands().del(group, member.uuid()));
    }
  }

  @Test
  void aGroupGoCreatedCompletesAndItsChordTriggersOnce() {
    String group = Uuids.newGroupUuid();
    List<Signature> members = List.of(Signature.create("add"), Signature.create("add"));
    OffsetDateTime created =
        OffsetDateTime.of(2026, 11, 27, 11, 36, 15, 389_091_187, ZoneOffset.UTC);
    try {
      // what Go's InitGroup and SetStateSuccess write
      redis.await(
          redis
              .commands()
              .set(
                  group,
                  WireCodec.encode(
                      GroupMeta.create(
                          group, members.stream().map(Signature::uuid).toList(), created)),
                  SetArgs.Builder.ex(EXPIRE)));
      for (Signature m : members) {
        redis.await(
            redis
                .commands()
                .set(
                    m.uuid(),
                    WireCodec.encode(
                        TaskState.success(m, List.of(TaskResult.of(3L)))
                            .withCarriedForward(TaskState.pending(m, created)))));
      }
      assertThat(backend.groupCompleted(group, 2)).isTrue();
      assertThat(backend.groupTaskStates(group, 2))
          .extracting(TaskState::taskUuid)
          .containsExactly(members.get(0).uuid(), members.get(1).uuid());
      assertThat(backend.triggerChord(group)).isTrue();
      assertThat(backend.triggerChord(group)).isFalse();
      GroupMeta meta = WireCodec.decodeGroupMeta(raw(group));
      assertThat(meta.chordTriggered()).isTrue();
      assertThat(meta.createdAt()).isEqualTo(created);
      assertThat(redis.await(redis.commands().exists(RedisBackend.CHORD_MUTEX)))
          .as("the mutex is released")
          .isZero();
    } finally {
      redis.await(redis.commands().del(group, members.get(0).uuid(), members.get(1).uuid()));
    }
  }

  /**
   * The trigger flips {@code ChordTriggered} in Go's own bytes (a script, without the mutex while
   * no Go worker holds it): everything else stays byte for byte what Go's InitGroup wrote, and the
   * expiry is renewed.
   */
  @Test
  void triggeringAChordFlipsOnlyTheFlagInGosBytes() throws Exception {
    String goMeta = Files.readString(captured("redis-group-meta-init.json"));
    String group = WireCodec.decodeGroupMeta(goMeta.getBytes(StandardCharsets.UTF_8)).groupUuid();
    try {
      redis.await(
          redis
              .commands()
              .set(group, goMeta.getBytes(StandardCharsets.UTF_8), SetArgs.Builder.ex(5)));
      assertThat(backend.triggerChord(group)).isTrue();
      assertThat(new String(raw(group), StandardCharsets.UTF_8))
          .isEqualTo(goMeta.replace("\"ChordTriggered\":false", "\"ChordTriggered\":true"));
      assertThat(redis.await(redis.commands().ttl(group))).isGreaterThan(EXPIRE - 5L);
      assertThat(backend.triggerChord(group)).isFalse();
    } finally {
      redis.await(redis.commands().del(group));
    }
  }

  /**
   * The member that triggered a chord is kept beside the group (Go's bytes unchanged), so that
   * member, asking again (its worker died before the callback and its broker delivered it anew),
   * learns it won before; any other member loses; the purge takes the winner with the meta. In Go's
   * layout (the script) and in another (under the mutex).
   */
  @Test
  void theMemberThatTriggeredAChordLearnsItWonBeforeWhenItAsksAgain() {
    String goLayout = Uuids.newGroupUuid();
    backend.initGroup(goLayout, List.of());
    String otherLayout = Uuids.newGroupUuid();
    String spaced =
        "{\"GroupUUID\": \""
            + otherLayout
            + "\", \"TaskUUIDs\": [], \"ChordTriggered\": false, \"Lock\": false,"
            + " \"CreatedAt\": \"2026-11-27T11:36:15.389091187Z\", \"TTL\": 0}";
    redis.await(redis.commands().set(otherLayout, spaced.getBytes(StandardCharsets.UTF_8)));
    try {
      for (String group : List.of(goLayout, otherLayout)) {
        assertThat(backend.triggerChord(group, "task_first")).isEqualTo(Backend.Trigger.WON);
        assertThat(backend.triggerChord(group, "task_first"))
            .as("the winner again")
            .isEqualTo(Backend.Trigger.WON_BEFORE);
        assertThat(backend.triggerChord(group, "task_second")).isEqualTo(Backend.Trigger.LOST);
        assertThat(backend.triggerChord(group)).isFalse();
        assertThat(redis.await(redis.commands().ttl(RedisBackend.winnerKey(group))))
            .as("expires with the group")
            .isPositive();
        backend.purgeGroupMeta(group);
        assertThat(redis.await(redis.commands().exists(RedisBackend.winnerKey(group)))).isZero();
      }
    } finally {
      redis.await(redis.commands().del(goLayout, otherLayout));
    }
  }

  /** A meta in another layout (not Go's bytes) is read and written under Go's mutex instead. */
  @Test
  void aGroupMetaInAnotherLayoutTriggersOnceToo() {
    String group = Uuids.newGroupUuid();
    String spaced =
        "{\"GroupUUID\": \""
            + group
            + "\", \"TaskUUIDs\": [], \"ChordTriggered\": false, \"Lock\": false,"
            + " \"CreatedAt\": \"2026-11-27T11:36:15.389091187Z\", \"TTL\": 0}";
    try {
      redis.await(redis.commands().set(group, spaced.getBytes(StandardCharsets.UTF_8)));
      assertThat(backend.triggerChord(group)).isTrue();
      assertThat(backend.triggerChord(group)).isFalse();
      assertThat(WireCodec.decodeGroupMeta(raw(group)).chordTriggered()).isTrue();
    } finally {
      redis.await(redis.commands().del(group));
    }
  }

  /**
   * A winner key beside a flag still unset names a member that never won (a worker that died
   * between the two writes the mutex path made before they were one script left it so; a group UUID
   * used again kept its last winner's): a trigger without a member (Go's {@code
   * triggerChord(group)}, MigratingBackend's) that wins the group clears it, so that member then
   * loses and cannot release the trigger (with the key left, it answered WON_BEFORE, checked the
   * callback and could send it again, and released a trigger it did not hold, so the chord could
   * fire twice). The script on a single server; the mutex path on a single server for a meta in
   * another layout, on a cluster for any.
   */
  @ParameterizedTest
  @ValueSource(strings = {"script", "mutex", "cluster"})
  void aWinWithoutAMemberClearsAStaleWinnerKey(String path) {
    boolean cluster = path.equals("cluster");
    String url = cluster ? TestEndpoints.redisClusterUrl() : TestEndpoints.redisUrl();
    Config own = Config.builder().resultBackend(url).resultsExpireIn(EXPIRE).build();
    String group = Uuids.newGroupUuid();
    try (RedisBackend withoutMember = RedisBackend.create(own);
        RedisSession admin = RedisSession.open(url, own)) {
      if (path.equals("mutex")) {
        String spaced =
            "{\"GroupUUID\": \""
                + group
                + "\", \"TaskUUIDs\": [], \"ChordTriggered\": false, \"Lock\": false,"
                + " \"CreatedAt\": \"2026-11-27T11:36:15.389091187Z\", \"TTL\": 0}";
        admin.await(
            admin
                .commands()
                .set(group, spaced.getBytes(StandardCharsets.UTF_8), SetArgs.Builder.ex(EXPIRE)));
      } else {
        withoutMember.initGroup(
            group, List.of()); // Go's layout: the script, or on a cluster the mutex
      }
      try {
        admin.await(
            admin
                .commands()
                .set(
                    RedisBackend.winnerKey(group),
                    "task_dead".getBytes(StandardCharsets.UTF_8),
                    SetArgs.Builder.ex(EXPIRE)));
        assertThat(withoutMember.triggerChord(group)).as("the win without a member").isTrue();
        SoftAssertions.assertSoftly(
            softly -> {
              softly
                  .assertThat(admin.await(admin.commands().exists(RedisBackend.winnerKey(group))))
                  .as("a winner key after a win without a member")
                  .isZero();
              assertNeitherTakesNorReleases(
                  softly,
                  withoutMember,
                  admin,
                  group,
                  "task_dead",
                  "the member named in the stale key");
            });
      } finally {
        withoutMember.purgeGroupMeta(group);
      }
    }
  }

  /**
   * A group initialised again with the same UUID (a chord or DAG sent twice by mistake) starts with
   * no winner: its last winner is not the winner of the new trigger. That member, triggering first,
   * wins it; once another wins it (a Go worker, which never touches the winner key, or a Java
   * member), it loses and cannot release that trigger. With the old winner kept, it answered
   * WON_BEFORE to a Go worker's win (and could send the callback again) and released it.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void aGroupInitialisedAgainForgetsItsLastWinner(boolean cluster) {
    String url = cluster ? TestEndpoints.redisClusterUrl() : TestEndpoints.redisUrl();
    Config own = Config.builder().resultBackend(url).resultsExpireIn(EXPIRE).build();
    String group = Uuids.newGroupUuid();
    List<String> members = List.of("task_first", "task_second");
    try (RedisBackend again = RedisBackend.create(own);
        RedisSession admin = RedisSession.open(url, own)) {
      try {
        again.initGroup(group, members);
        assertThat(again.triggerChord(group, "task_first")).isEqualTo(Backend.Trigger.WON);
        again.initGroup(group, members);
        long lastWinnerKept = admin.await(admin.commands().exists(RedisBackend.winnerKey(group)));

        // a Go worker wins the new trigger: under its mutex it writes the meta, nothing else
        byte[] goTriggered =
            new String(admin.await(admin.commands().get(group)), StandardCharsets.UTF_8)
                .replace("\"ChordTriggered\":false", "\"ChordTriggered\":true")
                .getBytes(StandardCharsets.UTF_8);
        admin.await(admin.commands().set(group, goTriggered, SetArgs.Builder.ex(EXPIRE)));
        SoftAssertions.assertSoftly(
            softly -> {
              softly
                  .assertThat(lastWinnerKept)
                  .as("the last winner after the group is initialised again")
                  .isZero();
              assertNeitherTakesNorReleases(
                  softly,
                  again,
                  admin,
                  group,
                  "task_first",
                  "the last winner, after a Go worker's win");
            });

        again.initGroup(group, members);
        assertThat(again.triggerChord(group, "task_first"))
            .as("the last winner, triggering first")
            .isEqualTo(Backend.Trigger.WON);
        again.initGroup(group, members);
        assertThat(again.triggerChord(group, "task_second")).isEqualTo(Backend.Trigger.WON);
        assertThat(again.triggerChord(group, "task_first"))
            .as("the last winner, after another member's win")
            .isEqualTo(Backend.Trigger.LOST);
        assertThat(again.releaseChordTrigger(group, "task_first")).isFalse();
        assertThat(again.triggerChord(group, "task_second")).isEqualTo(Backend.Trigger.WON_BEFORE);
      } finally {
        again.purgeGroupMeta(group);
      }
    }
  }

  /**
   * That {@code member}, who does not hold the group's current trigger (won without a member, or by
   * a Go worker), neither takes it for its own nor releases it: its trigger is LOST, its release
   * refused, and the meta stays the triggered bytes it was.
   */
  private static void assertNeitherTakesNorReleases(
      SoftAssertions softly,
      RedisBackend backend,
      RedisSession admin,
      String group,
      String member,
      String who) {
    String won = new String(admin.await(admin.commands().get(group)), StandardCharsets.UTF_8);
    softly.assertThat(backend.triggerChord(group, member)).as(who).isEqualTo(Backend.Trigger.LOST);
    softly
        .assertThat(backend.releaseChordTrigger(group, member))
        .as(who + ": its release")
        .isFalse();
    byte[] after = admin.await(admin.commands().get(group));
    softly
        .assertThat(WireCodec.decodeGroupMeta(after).chordTriggered())
        .as(who + ": the trigger stays won")
        .isTrue();
    softly
        .assertThat(new String(after, StandardCharsets.UTF_8))
        .as(who + ": the meta, kept byte for byte")
        .isEqualTo(won);
  }

  /**
   * The write under the mutex is a compare-and-set on the bytes read: over a meta that changed
   * since (a Go worker's trigger after our mutex expired) it writes nothing, so the caller reads
   * again and loses; over the bytes read it writes the meta and the winner key, with the group's
   * expiry, or, for a trigger without a member, deletes a winner key left there.
   */
  @Test
  void theWriteUnderTheMutexHappensOnlyOverTheMetaRead() {
    String group = Uuids.newGroupUuid();
    String[] keys = {group, RedisBackend.winnerKey(group)};
    byte[] read =
        "{\"GroupUUID\": \"g\", \"ChordTriggered\": false}".getBytes(StandardCharsets.UTF_8);
    byte[] goTriggered =
        "{\"GroupUUID\":\"g\",\"ChordTriggered\":true}".getBytes(StandardCharsets.UTF_8);
    byte[] triggered =
        "{\"GroupUUID\":\"g\",\"ChordTriggered\":true,\"x\":1}".getBytes(StandardCharsets.UTF_8);
    byte[] expiry = Integer.toString(EXPIRE).getBytes(StandardCharsets.UTF_8);
    byte[] member = "task_first".getBytes(StandardCharsets.UTF_8);
    try {
      redis.await(redis.commands().set(group, goTriggered));
      assertThat(writeUnderMutex(keys, expiry, member, read, triggered)).isZero();
      assertThat(raw(group)).isEqualTo(goTriggered);
      assertThat(redis.await(redis.commands().exists(keys[1]))).isZero();

      redis.await(redis.commands().set(group, read));
      assertThat(writeUnderMutex(keys, expiry, member, read, triggered)).isOne();
      assertThat(raw(group)).isEqualTo(triggered);
      assertThat(raw(keys[1])).isEqualTo(member);
      assertThat(redis.await(redis.commands().ttl(group))).isGreaterThan(EXPIRE - 5L);
      assertThat(redis.await(redis.commands().ttl(keys[1]))).isGreaterThan(EXPIRE - 5L);

      redis.await(redis.commands().set(group, read));
      assertThat(writeUnderMutex(keys, expiry, new byte[0], read, triggered)).isOne();
      assertThat(raw(group)).isEqualTo(triggered);
      assertThat(redis.await(redis.commands().exists(keys[1])))
          .as("a winner key after a trigger without a member")
          .isZero();

      redis.await(redis.commands().del(group));
      assertThat(writeUnderMutex(keys, expiry, member, read, triggered))
          .as("a meta gone since")
          .isZero();
      assertThat(redis.await(redis.commands().exists(keys))).isZero();
    } finally {
      redis.await(redis.commands().del(keys));
    }
  }

  private long writeUnderMutex(String[] keys, byte[]... args) {
    return redis.await(
        BackendScripts.TRIGGER_CHORD_UNDER_MUTEX.<Long>run(redis.commands(), keys, args));
  }

  /**
   * A release flips {@code ChordTriggered} back in Go's own bytes (what Go's InitGroup wrote, byte
   * for byte), renews the expiry and forgets the winner, for a trigger won before releases existed
   * (the same two keys); a Go worker's trigger then flips it again, and a trigger without a kept
   * winner (Go's, as Go stored it) is never released.
   */
  @Test
  void releasingAChordFlipsOnlyTheFlagBackInGosBytes() throws Exception {
    String goMeta = Files.readString(captured("redis-group-meta-init.json"));
    String triggered = goMeta.replace("\"ChordTriggered\":false", "\"ChordTriggered\":true");
    String group = WireCodec.decodeGroupMeta(goMeta.getBytes(StandardCharsets.UTF_8)).groupUuid();
    String goTriggered = Files.readString(captured("redis-group-meta-chord-triggered.json"));
    String goGroup =
        WireCodec.decodeGroupMeta(goTriggered.getBytes(StandardCharsets.UTF_8)).groupUuid();
    try {
      redis.await(
          redis
              .commands()
              .set(group, triggered.getBytes(StandardCharsets.UTF_8), SetArgs.Builder.ex(5)));
      redis.await(
          redis
              .commands()
              .set(
                  RedisBackend.winnerKey(group),
                  "task_first".getBytes(StandardCharsets.UTF_8),
                  SetArgs.Builder.ex(5)));
      assertThat(backend.releaseChordTrigger(group, "task_second")).isFalse();
      assertThat(backend.releaseChordTrigger(group, "")).isFalse();
      assertThat(new String(raw(group), StandardCharsets.UTF_8)).isEqualTo(triggered);

      assertThat(backend.releaseChordTrigger(group, "task_first")).isTrue();
      assertThat(new String(raw(group), StandardCharsets.UTF_8)).isEqualTo(goMeta);
      assertThat(redis.await(redis.commands().ttl(group))).isGreaterThan(EXPIRE - 5L);
      assertThat(redis.await(redis.commands().exists(RedisBackend.winnerKey(group)))).isZero();
      assertThat(backend.triggerChord(group)).as("a Go worker's trigger").isTrue();
      assertThat(new String(raw(group), StandardCharsets.UTF_8)).isEqualTo(triggered);

      redis.await(redis.commands().set(goGroup, goTriggered.getBytes(StandardCharsets.UTF_8)));
      assertThat(backend.releaseChordTrigger(goGroup, "task_first")).isFalse();
      assertThat(new String(raw(goGroup), StandardCharsets.UTF_8)).isEqualTo(goTriggered);
    } finally {
      redis.await(redis.commands().del(group, goGroup, RedisBackend.winnerKey(group)));
    }
  }

  /**
   * A triggered meta in another layout (not Go's bytes) is decoded and replaced in Go's layout with
   * the flag false, the winner forgotten; the next member wins it.
   */
  @Test
  void aChordTriggerInAnotherLayoutIsReleasedToo() {
    String group = Uuids.newGroupUuid();
    String spaced =
        "{\"GroupUUID\": \""
            + group
            + "\", \"TaskUUIDs\": [], \"ChordTriggered\": true, \"Lock\": false,"
            + " \"CreatedAt\": \"2026-11-27T11:36:15.389091187Z\", \"TTL\": 0}";
    try {
      redis.await(redis.commands().set(group, spaced.getBytes(StandardCharsets.UTF_8)));
      redis.await(
          redis
              .commands()
              .set(RedisBackend.winnerKey(group), "task_first".getBytes(StandardCharsets.UTF_8)));
      assertThat(backend.releaseChordTrigger(group, "task_second")).isFalse();
      assertThat(backend.releaseChordTrigger(group, "task_first")).isTrue();
      GroupMeta meta = WireCodec.decodeGroupMeta(raw(group));
      assertThat(meta.chordTriggered()).isFalse();
      assertThat(meta.groupUuid()).isEqualTo(group);
      assertThat(redis.await(redis.commands().ttl(group))).isGreaterThan(EXPIRE - 5L);
      assertThat(redis.await(redis.commands().exists(RedisBackend.winnerKey(group)))).isZero();
      assertThat(backend.triggerChord(group, "task_second")).isEqualTo(Backend.Trigger.WON);
    } finally {
      redis.await(redis.commands().del(group, RedisBackend.winnerKey(group)));
    }
  }

  /**
   * A release neither waits for Go's mutex nor takes it: it only turns a set flag false, and Go
   * sets the flag only after reading it false under the mutex.
   */
  @Test
  void releasingAChordNeitherWaitsForGosMutexNorTouchesIt() throws Exception {
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of());
    assertThat(backend.triggerChord(group, "task_first")).isEqualTo(Backend.Trigger.WON);
    byte[] goValue = "QH4WIFj9CDHmFZBuOBr3+A==".getBytes(StandardCharsets.UTF_8);
    holdGosMutex(goValue, 8_000);
    try {
      CompletableFuture<Boolean> release =
          CompletableFuture.supplyAsync(() -> backend.releaseChordTrigger(group, "task_first"));
      assertThat(release.get(2, TimeUnit.SECONDS)).isTrue();
      assertThat(raw(RedisBackend.CHORD_MUTEX)).isEqualTo(goValue);
      assertThat(WireCodec.decodeGroupMeta(raw(group)).chordTriggered()).isFalse();
    } finally {
      BackendScripts.MUTEX_RELEASE
          .run(redis.commands(), new String[] {RedisBackend.CHORD_MUTEX}, goValue)
          .get();
      backend.purgeGroupMeta(group);
    }
  }

  /**
   * A release racing seven members' triggers, on a single server (scripts) and on a cluster (the
   * triggers under Go's mutex): the release is one step, so afterwards either one of them won and
   * is the kept winner with the flag set, or none won and neither flag nor winner is left.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void aReleaseRacingTriggersLeavesExactlyOneWinnerOrNone(boolean cluster) throws Exception {
    String url = cluster ? TestEndpoints.redisClusterUrl() : TestEndpoints.redisUrl();
    Config racing = Config.builder().resultBackend(url).resultsExpireIn(EXPIRE).build();
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try (RedisBackend own = RedisBackend.create(racing);
        RedisSession admin = RedisSession.open(url, racing)) {
      for (int round = 0; round < 10; round++) {
        String group = Uuids.newGroupUuid();
        own.initGroup(group, List.of());
        try {
          assertThat(own.triggerChord(group, "task_0")).isEqualTo(Backend.Trigger.WON);
          CountDownLatch start = new CountDownLatch(1);
          CompletableFuture<Boolean> release =
              CompletableFuture.supplyAsync(
                  () -> {
                    awaitLatch(start);
                    return own.releaseChordTrigger(group, "task_0");
                  },
                  threads);
          List<CompletableFuture<Backend.Trigger>> triggers = new ArrayList<>();
          for (int i = 1; i < 8; i++) {
            String member = "task_" + i;
            triggers.add(
                CompletableFuture.supplyAsync(
                    () -> {
                      awaitLatch(start);
                      return own.triggerChord(group, member);
                    },
                    threads));
          }
          start.countDown();
          assertThat(release.get(30, TimeUnit.SECONDS)).isTrue();
          List<String> winners = new ArrayList<>();
          for (int i = 0; i < triggers.size(); i++) {
            if (triggers.get(i).get(30, TimeUnit.SECONDS) == Backend.Trigger.WON) {
              winners.add("task_" + (i + 1));
            }
          }
          boolean flag =
              WireCodec.decodeGroupMeta(admin.await(admin.commands().get(group))).chordTriggered();
          byte[] kept = admin.await(admin.commands().get(RedisBackend.winnerKey(group)));
          assertThat(winners).hasSizeLessThanOrEqualTo(1);
          if (winners.isEmpty()) {
            assertThat(flag).as("the flag after a release nobody followed").isFalse();
            assertThat(kept).as("the winner after a release nobody followed").isNull();
          } else {
            assertThat(flag).isTrue();
            assertThat(kept).isEqualTo(winners.get(0).getBytes(StandardCharsets.UTF_8));
          }
        } finally {
          own.purgeGroupMeta(group);
        }
      }
    } finally {
      threads.shutdownNow();
    }
  }

  private static void awaitLatch(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the race never started");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Test
  void triggeringAChordWaitsForGosMutexAndNeverTakesItAway() throws Exception {
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of());
    byte[] goValue = "QH4WIFj9CDHmFZBuOBr3+A==".getBytes(StandardCharsets.UTF_8);
    holdGosMutex(goValue, 8_000);
    try {
      CompletableFuture<Boolean> trigger =
          CompletableFuture.supplyAsync(() -> backend.triggerChord(group));
      org.awaitility.Awaitility.await()
          .during(Duration.ofMillis(600))
          .atMost(Duration.ofSeconds(5))
          .until(
              () ->
                  !trigger.isDone()
                      && java.util.Arrays.equals(raw(RedisBackend.CHORD_MUTEX), goValue));
      redis.await(redis.commands().del(RedisBackend.CHORD_MUTEX)); // Go's worker releases it
      assertThat(trigger.get()).isTrue();
      assertThat(redis.await(redis.commands().exists(RedisBackend.CHORD_MUTEX))).isZero();
    } finally {
      redis.await(redis.commands().del(group));
    }
  }

  @Test
  void aMutexHeldTooLongFailsAsGosRedsyncDoes() {
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of());
    holdGosMutex("held".getBytes(StandardCharsets.UTF_8), 20_000);
    try {
      assertThatThrownBy(() -> backend.triggerChord(group))
          .isInstanceOf(MachineryException.class)
          .hasMessageContaining("redsync: failed to acquire lock");
      assertThat(raw(RedisBackend.CHORD_MUTEX)).isEqualTo("held".getBytes(StandardCharsets.UTF_8));
    } finally {
      redis.await(redis.commands().del(group, RedisBackend.CHORD_MUTEX));
    }
  }

  @Test
  void aMissingGroupOrStateFailsAsInGo() {
    assertThatThrownBy(() -> backend.groupCompleted(Uuids.newGroupUuid(), 1))
        .isInstanceOf(MachineryException.class)
        .hasMessageStartingWith("Group not found: group_");
    String group = Uuids.newGroupUuid();
    String missing = Uuids.newTaskUuid();
    try {
      backend.initGroup(group, List.of(missing));
      assertThatThrownBy(() -> backend.groupCompleted(group, 1))
          .hasMessage("Task not found: " + missing);
      assertThatThrownBy(() -> backend.groupTaskStates(group, 1))
          .hasMessage("Task not found: " + missing);
    } finally {
      redis.await(redis.commands().del(group));
    }
  }

  /** Takes Go's chord mutex with {@code value} for {@code millis}, once it is free. */
  private void holdGosMutex(byte[] value, long millis) {
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                "OK"
                    .equals(
                        redis.await(
                            redis
                                .commands()
                                .set(
                                    RedisBackend.CHORD_MUTEX,
                                    value,
                                    SetArgs.Builder.nx().px(millis)))));
  }
}
