package io.machinery.backend.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.SetArgs;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Group completion (F19): O(1) per member for groups a Java client created, right when Go workers
 * (which only write states) complete some of the members, and Go's way for groups without the
 * pending list.
 */
class GroupCompletionIT {
  private static final int EXPIRE = 600;
  private Config config;
  private RedisBackend backend;
  private RedisSession redis;
  private final List<String> keys = new ArrayList<>();

  @BeforeEach
  void setUp() {
    config =
        Config.builder().resultBackend(TestEndpoints.redisUrl()).resultsExpireIn(EXPIRE).build();
    redis = RedisSession.open(TestEndpoints.redisUrl(), config);
    backend = RedisBackend.builder(config).session(redis).build(); // shares the test's session
  }

  @AfterEach
  void tearDown() {
    for (int i = 0; i < keys.size(); i += 1000) {
      redis.await(
          redis
              .commands()
              .del(keys.subList(i, Math.min(keys.size(), i + 1000)).toArray(new String[0])));
    }
    backend.close();
    assertThat(redis.isConnected())
        .as("closing the backend leaves a session it was given open")
        .isTrue();
    redis.close();
  }

  private List<Signature> group(String group, int size) {
    List<Signature> members = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      members.add(
          Signature.builder("add")
              .uuid(Uuids.newTaskUuid())
              .groupUuid(group)
              .groupTaskCount(size)
              .build());
    }
    keys.add(group);
    keys.add(RedisBackend.pendingKey(group));
    members.forEach(m -> keys.add(m.uuid()));
    return members;
  }

  /**
   * What a Go worker writes for a member: the state only, with SET (it knows nothing of the pending
   * list).
   */
  private CompletableFuture<String> goWrites(TaskState state) {
    return redis
        .commands()
        .set(state.taskUuid(), WireCodec.encode(state), SetArgs.Builder.ex(EXPIRE))
        .toCompletableFuture();
  }

  @Test
  void membersCompletedByGoAndByJavaWorkersCompleteTheGroupExactlyWhenAllAre() {
    String group = Uuids.newGroupUuid();
    List<Signature> members = group(group, 6);
    backend.initGroup(group, members.stream().map(Signature::uuid).toList());
    for (Signature m : members) {
      backend.setStatePending(m);
    }
    OffsetDateTime created = OffsetDateTime.now();
    redis.await(
        goWrites(
            TaskState.success(members.get(0), List.of(TaskResult.of(1L)))
                .withCarriedForward(TaskState.pending(members.get(0), created))));
    backend.setStateSuccess(members.get(1), List.of(TaskResult.of(2L)));
    assertThat(backend.groupCompleted(group, 6)).isFalse();
    redis.await(
        goWrites(
            TaskState.failure(members.get(2), "boom")
                .withCarriedForward(TaskState.pending(members.get(2), created))));
    backend.setStateFailure(members.get(3), "bang");
    redis.await(
        goWrites(
            TaskState.started(members.get(4))
                .withCarriedForward(TaskState.pending(members.get(4), created))));
    backend.setStateSuccess(members.get(5), List.of());
    assertThat(backend.groupCompleted(group, 6)).as("member 4 is only STARTED").isFalse();
    redis.await(
        goWrites(
            TaskState.success(members.get(4), List.of())
                .withCarriedForward(TaskState.pending(members.get(4), created))));
    assertThat(backend.groupCompleted(group, 6)).isTrue();
    assertThat(backend.groupCompleted(group, 6)).isTrue();
    // Go's own count (meta + every state) agrees: nothing on the wire changed
    assertThat(backend.groupTaskStates(group, 6)).allMatch(TaskState::isCompleted);
    backend.purgeGroupMeta(group);
    assertThat(redis.await(redis.commands().exists(group, RedisBackend.pendingKey(group))))
        .isZero();
  }

  @Test
  void aGroupGoCreatedWithoutThePendingSetIsCountedGosWay() {
    String group = Uuids.newGroupUuid();
    List<Signature> members = group(group, 3);
    backend.initGroup(group, members.stream().map(Signature::uuid).toList());
    redis.await(
        redis
            .commands()
            .del(RedisBackend.pendingKey(group))); // as if Go's InitGroup had written the meta
    for (Signature m : members) {
      backend.setStateSuccess(m, List.of());
    }
    assertThat(backend.groupCompleted(group, 3)).isTrue();
    backend.setStateStarted(members.get(1));
    assertThat(backend.groupCompleted(group, 3)).isFalse();
  }

  @Test
  void eachCompletionCostsOneStateReadInsteadOfAllOfThem() {
    int size = 20_000;
    String group = Uuids.newGroupUuid();
    List<Signature> members = group(group, size);
    backend.initGroup(group, members.stream().map(Signature::uuid).toList());
    OffsetDateTime created = OffsetDateTime.now();
    List<CompletableFuture<String>> writes = new ArrayList<>();
    for (Signature m :
        members) { // all but the last completed, by "Go" (no pending-set bookkeeping at all)
      TaskState pending = TaskState.pending(m, created);
      writes.add(
          goWrites(
              m == members.get(size - 1)
                  ? pending
                  : TaskState.success(m, List.of(TaskResult.of(1L))).withCarriedForward(pending)));
    }
    writes.forEach(redis::await);
    long t0 = System.nanoTime();
    assertThat(backend.groupCompleted(group, size)).isFalse(); // confirms the 19,999 once
    long firstMicros = (System.nanoTime() - t0) / 1000;
    int calls = 50;
    redis.await(redis.commands().configResetstat());
    t0 = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      assertThat(backend.groupCompleted(group, size)).isFalse();
    }
    long pendingMicros = (System.nanoTime() - t0) / 1000 / calls;
    double pendingRedisMicros = scriptMicrosPerCall();
    assertThat(redis.await(redis.commands().llen(RedisBackend.pendingKey(group))))
        .as("marker + the last member")
        .isEqualTo(2L);
    redis.await(redis.commands().configResetstat());
    t0 = System.nanoTime();
    for (int i = 0;
        i < 5;
        i++) { // Go's count, as before: the meta and all 20,000 states per completion
      redis.await(BackendScripts.GROUP_COMPLETED.<Long>run(redis.commands(), new String[] {group}));
    }
    long fullMicros = (System.nanoTime() - t0) / 1000 / 5;
    double fullRedisMicros = scriptMicrosPerCall();
    t0 = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      redis.await(redis.commands().ping());
    }
    long pingMicros = (System.nanoTime() - t0) / 1000 / calls;
    redis.await(goWrites(TaskState.success(members.get(size - 1), List.of())));
    assertThat(backend.groupCompleted(group, size)).isTrue();
    System.out.printf(
        "[GroupCompletionIT] group of %d: first completion check %d us (confirms 19,999 members once,"
            + " 1,000 per script), then %d us per check (%.1f us of Redis time); counting Go's way %d us per check"
            + " (%.1f us of Redis time); a PING %d us%n",
        size,
        firstMicros,
        pendingMicros,
        pendingRedisMicros,
        fullMicros,
        fullRedisMicros,
        pingMicros);
    assertThat(pendingRedisMicros * 20).isLessThan(fullRedisMicros);
  }

  /**
   * Redis's own time per script call since the last CONFIG RESETSTAT (this test's private server is
   * quiet).
   */
  private double scriptMicrosPerCall() {
    String stats =
        new String(
            redis
                .await(redis.commands().info("commandstats"))
                .getBytes(java.nio.charset.StandardCharsets.UTF_8),
            java.nio.charset.StandardCharsets.UTF_8);
    double usec = 0;
    long calls = 0;
    for (String line : stats.split("\r?\n")) {
      if (line.startsWith("cmdstat_evalsha:") || line.startsWith("cmdstat_eval:")) {
        for (String field : line.substring(line.indexOf(':') + 1).split(",")) {
          String[] kv = field.split("=");
          if (kv[0].equals("calls")) {
            calls += Long.parseLong(kv[1]);
          } else if (kv[0].equals("usec")) {
            usec += Double.parseDouble(kv[1]);
          }
        }
      }
    }
    return calls == 0 ? 0 : usec / calls;
  }
}
