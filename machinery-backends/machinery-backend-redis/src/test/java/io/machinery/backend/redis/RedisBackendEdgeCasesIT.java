package io.machinery.backend.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.ScriptOutputType;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Redis backend under hostile and faulty conditions, on a real Redis: stored states that are
 * not Go's (another tool's, truncated, of another type), and Redis answering a chain's read with an
 * error. Each case ends with the task's final state stored and readable, as Go's backend leaves it.
 */
class RedisBackendEdgeCasesIT {
  private static final int EXPIRE = 600;
  private Config config;
  private RedisBackend backend;
  private RedisSession redis;

  @BeforeEach
  void setUp() {
    config =
        Config.builder().resultBackend(TestEndpoints.redisUrl()).resultsExpireIn(EXPIRE).build();
    // no grace: a chain's read is sent at once, so a test can wait for its answer
    backend = RedisBackend.builder(config).stateReadGrace(Duration.ZERO).build();
    redis = RedisSession.open(TestEndpoints.redisUrl(), config);
  }

  @AfterEach
  void tearDown() {
    backend.close();
    redis.close();
  }

  private void store(String key, String raw) {
    redis.await(redis.commands().set(key, raw.getBytes(StandardCharsets.UTF_8)));
  }

  private TaskState stored(Signature task) {
    return backend.getState(task.uuid()).orElseThrow();
  }

  /**
   * A worker's RECEIVED, STARTED (once the chain's read has answered) and SUCCESS, then the lone
   * writes (the merge script), each over {@code raw} stored beforehand.
   */
  private void runOver(String raw) {
    Signature task = Signature.create("odd");
    try {
      store(task.uuid(), raw);
      backend.setStateReceivedAsync(task).join();
      assertThat(stored(task).state()).isEqualTo(State.RECEIVED);
      backend.setStateStartedAsync(task).join();
      backend.setStateSuccess(task, List.of(TaskResult.of(1L)));
      assertThat(stored(task).state()).isEqualTo(State.SUCCESS);

      store(task.uuid(), raw);
      backend.setStateStarted(task);
      assertThat(stored(task).state()).isEqualTo(State.STARTED);
      store(task.uuid(), raw);
      backend.setStateFailure(task, "boom");
      assertThat(stored(task).state()).isEqualTo(State.FAILURE);
    } finally {
      redis.await(redis.commands().del(task.uuid()));
    }
  }

  /** Stored states Go cannot read: every later state carries Go's zero values (as Go's merge). */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "null",
        "123",
        "\"a string\"",
        "[1,2]",
        "{}",
        "{\"TaskUUID\":\"x\",\"TaskName\":\"truncated",
        "{\"TaskUUID\":\"x\",\"TaskName\":\"n\",\"State\":\"PENDING\",\"CreatedAt\":12}",
        "{\"TaskUUID\":\"x\",\"TaskName\":\"\\\"\\\\\\u0000\\n\",\"State\":\"PENDING\"}"
      })
  void statesGoCannotReadAreReplaced(String raw) {
    runOver(raw);
  }

  /**
   * A CreatedAt that is not a time (another tool's state): carried into the new state, it made that
   * state unreadable by Java and Go clients alike, so a SUCCESS was stored that no one could get.
   * Go's merge carries nothing from a state it cannot decode.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"TaskUUID\":\"x\",\"TaskName\":\"n\",\"State\":\"PENDING\",\"CreatedAt\":\"garbage\"}",
        "{\"TaskUUID\":\"x\",\"TaskName\":\"n\",\"State\":\"PENDING\","
            + "\"CreatedAt\":\"2024-02-30T10:00:00Z\"}",
        "{\"TaskUUID\":\"x\",\"TaskName\":\"n\",\"State\":\"PENDING\","
            + "\"CreatedAt\":\"2024-01-02T10:00:00.1234567891Z\"}",
        "{\"taskname\":\"n\",\"createdat\":\"not a time\"}"
      })
  void aCreatedAtThatIsNotATimeIsNotCarried(String raw) {
    runOver(raw);
  }

  /** A readable time in either layout is still carried, digits unchanged. */
  @Test
  void aCreatedAtThatIsATimeIsCarried() {
    Signature task = Signature.create("odd");
    String created = "2024-02-29T23:59:59.123456789+05:30";
    try {
      for (String raw :
          List.of(
              "{\"TaskUUID\":\"x\",\"TaskName\":\"n\",\"State\":\"PENDING\",\"CreatedAt\":\""
                  + created
                  + "\"}",
              "{\"taskname\":\"n\",\"state\":\"PENDING\",\"createdat\":\"" + created + "\"}")) {
        store(task.uuid(), raw);
        backend.setStateStarted(task);
        assertThat(
                new String(redis.await(redis.commands().get(task.uuid())), StandardCharsets.UTF_8))
            .contains("\"TaskName\":\"n\"")
            .contains("\"CreatedAt\":\"" + created + "\"");
        store(task.uuid(), raw);
        backend.setStateReceivedAsync(task).join();
        assertThat(
                new String(redis.await(redis.commands().get(task.uuid())), StandardCharsets.UTF_8))
            .contains("\"TaskName\":\"n\"")
            .contains("\"CreatedAt\":\"" + created + "\"");
        backend.setStateSuccess(task, List.of());
      }
    } finally {
      redis.await(redis.commands().del(task.uuid()));
    }
  }

  /**
   * A key of another type under the task's UUID (a list, a hash): Go's merge ignores the failed
   * read and its SET replaces the key. Before, the merge script, the early-state script and the
   * chain's read failed with WRONGTYPE, so the task's states, its SUCCESS included, were never
   * stored.
   */
  @Test
  void aKeyOfAnotherTypeIsReplacedAsGoDoes() {
    Signature task = Signature.create("odd");
    try {
      redis.await(redis.commands().rpush(task.uuid(), new byte[] {1}));
      backend.setStateSuccess(task, List.of(TaskResult.of(1L)));
      assertThat(stored(task).state()).isEqualTo(State.SUCCESS);

      redis.await(redis.commands().del(task.uuid()));
      redis.await(redis.commands().hset(task.uuid(), "field", new byte[] {1}));
      backend.setStateReceivedAsync(task).join();
      assertThat(stored(task).state()).isEqualTo(State.RECEIVED);
      backend.setStateSuccess(task, List.of(TaskResult.of(1L)));
      assertThat(stored(task).state()).isEqualTo(State.SUCCESS);
    } finally {
      redis.await(redis.commands().del(task.uuid()));
    }
  }

  /**
   * A group member's key of another type (a list, a hash) is a state that cannot be found, as in
   * Go's {@code MGET}, which finds no string there: "Task not found", naming the member, whichever
   * way the group is counted or read. Before, the pending-list script ({@code initGroup} by Java)
   * failed with a raw {@code WRONGTYPE} script error.
   */
  @Test
  void aGroupMembersKeyOfAnotherTypeIsATaskNotFound() {
    String group = io.machinery.wire.Uuids.newGroupUuid();
    String listed = io.machinery.wire.Uuids.newTaskUuid();
    String hashed = io.machinery.wire.Uuids.newTaskUuid();
    try {
      backend.initGroup(group, List.of(listed, hashed));
      redis.await(redis.commands().rpush(listed, new byte[] {1}));
      redis.await(redis.commands().hset(hashed, "field", new byte[] {1}));
      // the pending list (a group Java created), then Go's count (no list), then the states
      assertThatThrownBy(() -> backend.groupCompleted(group, 2))
          .isInstanceOf(io.machinery.StateNotFoundException.class)
          .hasMessageContaining("Task not found")
          .hasMessageContaining(listed);
      redis.await(redis.commands().del(RedisBackend.pendingKey(group)));
      assertThatThrownBy(() -> backend.groupCompleted(group, 2))
          .isInstanceOf(io.machinery.StateNotFoundException.class)
          .hasMessageContaining(listed);
      assertThatThrownBy(() -> backend.groupTaskStates(group, 2))
          .isInstanceOf(io.machinery.StateNotFoundException.class)
          .hasMessageContaining(listed);

      Signature first = Signature.builder("first").uuid(listed).build();
      redis.await(redis.commands().del(listed));
      backend.setStatePending(first);
      backend.setStateSuccess(first, List.of());
      backend.initGroup(group, List.of(listed, hashed));
      assertThatThrownBy(() -> backend.groupCompleted(group, 2))
          .as("the second member, once the first is confirmed")
          .isInstanceOf(io.machinery.StateNotFoundException.class)
          .hasMessageContaining(hashed);
    } finally {
      backend.purgeGroupMeta(group);
      redis.await(redis.commands().del(listed, hashed));
    }
  }

  /**
   * Which stored CreatedAt a new state carries: exactly the times Go and Java both read, the same
   * through the merge script (Lua's check) and a chain's read (Java's check). Before, java.time
   * decided in the chain, and took times Go cannot read (no seconds, a fraction point without
   * digits), carrying them into a state no Go client could read; the script took offsets beyond
   * java.time's ±18:00, carrying them into a state no Java client could read.
   */
  @ParameterizedTest
  @CsvSource({
    "2026-12-07T13:14:01.608637753Z, true",
    "0001-01-01T00:00:00Z, true",
    "2024-02-29T23:59:59.1+05:30, true",
    "2000-12-31T00:00:00.000000001-18:00, true",
    "2024-01-01T00:00:00+18:30, false",
    "2024-01-01T00:00:00+19:00, false",
    "2024-01-01T23:59Z, false",
    "2024-01-01T23:59:59.Z, false",
    "2023-02-29T00:00:00Z, false",
    "1900-02-29T00:00:00Z, false",
    "2024-04-31T00:00:00Z, false",
    "2024-13-01T00:00:00Z, false",
    "2024-01-01T24:00:00Z, false",
    "2024-01-01T00:60:00Z, false",
    "2024-01-01T00:00:60Z, false",
    "2024-01-01 00:00:00Z, false",
    "2024-01-01T00:00:00, false",
    "2024-01-01T00:00:00.1234567891Z, false"
  })
  void exactlyTheTimesGoAndJavaReadAreCarried(String created, boolean readable) {
    Signature task = Signature.create("odd");
    String raw =
        "{\"TaskUUID\":\""
            + task.uuid()
            + "\",\"TaskName\":\"n\",\"State\":\"PENDING\",\"Results\":null,"
            + "\"Error\":\"\",\"CreatedAt\":\""
            + created
            + "\",\"TTL\":0}";
    String carried =
        readable ? "\"CreatedAt\":\"" + created + "\"" : "\"CreatedAt\":\"0001-01-01T00:00:00Z\"";
    String name = readable ? "\"TaskName\":\"n\"" : "\"TaskName\":\"\"";
    try {
      store(task.uuid(), raw);
      backend.setStateStarted(task); // the merge script
      assertThat(new String(redis.await(redis.commands().get(task.uuid())), StandardCharsets.UTF_8))
          .as("merge script")
          .contains(carried)
          .contains(name);
      store(task.uuid(), raw);
      backend.setStateReceivedAsync(task).join(); // a chain's read, then the early-state script
      assertThat(new String(redis.await(redis.commands().get(task.uuid())), StandardCharsets.UTF_8))
          .as("chain")
          .contains(carried)
          .contains(name);
      backend.setStateSuccess(task, List.of());
    } finally {
      redis.await(redis.commands().del(task.uuid()));
    }
  }

  /**
   * Redis answers a chain's read with an error ({@code BUSY} here, behind a script that runs too
   * long; {@code LOADING} after a restart is the same): the writes that waited for the read fail,
   * but the final state, written once Redis answers again, is stored. Before, every later write of
   * the chain failed with the read's error, so the task's SUCCESS was lost.
   */
  @Test
  void aReadThatFailedDoesNotCostTheFinalState() throws Exception {
    int port = OwnRedisServer.freePort();
    try (OwnRedisServer server =
            OwnRedisServer.start(
                Files.createTempDirectory("redis-backend-busy"),
                port,
                OwnRedisServer.plainArgs(port, "--busy-reply-threshold", "10"));
        RedisSession blocker = RedisSession.open(server.url(), config);
        RedisSession admin = RedisSession.open(server.url(), config);
        RedisBackend own =
            RedisBackend.builder(config).url(server.url()).stateReadGrace(Duration.ZERO).build()) {
      Signature task = Signature.create("busy");
      admin.await(admin.commands().set(task.uuid(), encodePending(task)));
      CompletableFuture<Object> busy =
          blocker
              .commands()
              .eval("while true do end", ScriptOutputType.STATUS, new String[0])
              .toCompletableFuture();
      await()
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptionsMatching(e -> !(e instanceof AssertionError))
          .until(() -> isBusy(admin));

      CompletableFuture<Void> received = own.setStateReceivedAsync(task);
      assertThatThrownBy(received::join)
          .isInstanceOf(CompletionException.class)
          .hasMessageContaining("BUSY");
      admin.await(admin.commands().scriptKill());
      await().atMost(Duration.ofSeconds(10)).until(busy::isDone);

      own.setStateSuccess(task, List.of(TaskResult.of(3L)));
      TaskState state = own.getState(task.uuid()).orElseThrow();
      assertThat(state.state()).isEqualTo(State.SUCCESS);
      assertThat(state.taskName()).isEqualTo("busy");
    }
  }

  /**
   * A Redis at its {@code maxmemory} with {@code noeviction}, on a redis-server of the test's own:
   * a task's next states replace its last one, and a chord fires, as none of them grows memory.
   * Before the audit, the merge and early-state scripts and the chord's script had a {@code SET} as
   * their first write and a chain's final state was a {@code SET}, which a full Redis refuses: the
   * task's SUCCESS and the chord were lost until memory was freed (a chord trigger's release, which
   * makes the meta one byte longer, frees first too). A new key is still refused, as Go's. Each
   * script frees first only once Redis refused its {@code SET} (one {@code DEL} per write while
   * Redis is full, none while it has room: issue #18, the audit had every write of these scripts
   * delete first). A group is one script as well: a new one is refused with nothing written, as
   * Go's {@code SET}; a group sent again replaces its meta, winner key and pending list (before,
   * its {@code SET} was refused and the {@code DEL} pipelined after it went through).
   */
  @Test
  void statesReplaceEachOtherAndChordsFireWhileRedisIsOutOfMemory() throws Exception {
    int port = OwnRedisServer.freePort();
    try (OwnRedisServer server =
            OwnRedisServer.start(
                Files.createTempDirectory("redis-backend-oom"),
                port,
                OwnRedisServer.plainArgs(
                    port, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction"));
        RedisSession admin = RedisSession.open(server.url(), config);
        RedisBackend own =
            RedisBackend.builder(config).url(server.url()).stateReadGrace(Duration.ZERO).build()) {
      String roomy = io.machinery.wire.Uuids.newGroupUuid();
      List<Signature> withRoom = groupOfThree(own, roomy);
      admin.await(admin.commands().configResetstat());
      writeEveryKindOfState(own, withRoom, admin, 0);
      assertThat(own.triggerChord(roomy, withRoom.get(2).uuid()))
          .isEqualTo(io.machinery.spi.Backend.Trigger.WON);
      assertThat(commandStat(admin, "del", "calls")).as("DELs while Redis has room").isZero();

      String group = io.machinery.wire.Uuids.newGroupUuid();
      List<Signature> tasks = groupOfThree(own, group);
      fillUntilRefused(admin);
      // well over the limit, so that what a write frees does not let the next one in by chance
      admin.await(admin.commands().configSet("maxmemory", "1mb"));
      writeEveryKindOfState(own, tasks, admin, 1);

      assertThat(own.groupCompleted(group, 3)).isTrue();
      admin.await(admin.commands().configResetstat());
      assertThat(own.triggerChord(group, tasks.get(2).uuid()))
          .isEqualTo(io.machinery.spi.Backend.Trigger.WON);
      assertFreedFirst(admin, "the chord's script", 1);
      admin.await(admin.commands().configResetstat());
      assertThat(own.releaseChordTrigger(group, tasks.get(2).uuid())).isTrue();
      assertFreedFirst(admin, "the release's script (the meta, then the winner key)", 2);
      assertThat(own.triggerChord(group, tasks.get(1).uuid()))
          .as("won again after the release, Redis still full")
          .isEqualTo(io.machinery.spi.Backend.Trigger.WON);
      assertThatThrownBy(() -> own.setStatePending(Signature.create("new")))
          .as("a new key needs room, as Go's SET does")
          .hasMessageContaining("OOM");

      String newGroup = io.machinery.wire.Uuids.newGroupUuid();
      assertThatThrownBy(() -> own.initGroup(newGroup, List.of("task_new")))
          .as("a new group needs room, as Go's SET does")
          .hasMessageContaining("OOM");
      assertThat(
              admin.await(
                  admin
                      .commands()
                      .exists(
                          newGroup,
                          RedisBackend.pendingKey(newGroup),
                          RedisBackend.winnerKey(newGroup))))
          .as("the refused group's keys")
          .isZero();
      own.initGroup(group, tasks.stream().map(Signature::uuid).toList());
      assertThat(WireCodec.decodeGroupMeta(admin.await(admin.commands().get(group))))
          .as("a group sent again while Redis is full")
          .satisfies(meta -> assertThat(meta.chordTriggered()).isFalse());
      assertThat(admin.await(admin.commands().exists(RedisBackend.winnerKey(group)))).isZero();
      assertThat(admin.await(admin.commands().llen(RedisBackend.pendingKey(group)))).isEqualTo(4);
    }
  }

  /**
   * A trigger under Go's mutex whose meta write Redis refuses (here an ACL, on a server of the
   * test's own, whose worker may {@code SET} only the mutex and the winner key, so the meta is read
   * and every script runs, but the meta's {@code SET} is refused) leaves neither the flag nor the
   * winner key: they are one script. When they were two commands, the winner key went first and
   * stayed beside the unset flag, as a worker dying between them left it, and its member later took
   * another trigger's win for its own. A meta in another layout takes the mutex path on a single
   * server.
   */
  @Test
  void aTriggerWhoseMetaWriteIsRefusedLeavesNoWinnerKey() throws Exception {
    String group = io.machinery.wire.Uuids.newGroupUuid();
    String winner = RedisBackend.winnerKey(group);
    int port = OwnRedisServer.freePort();
    try (OwnRedisServer server =
            OwnRedisServer.start(
                Files.createTempDirectory("redis-backend-acl"),
                port,
                OwnRedisServer.plainArgs(
                    port,
                    "--user",
                    "worker",
                    "on",
                    ">worker-secret",
                    "~*",
                    "+@all",
                    "-set",
                    "(+set ~" + RedisBackend.CHORD_MUTEX + " ~" + winner + ")"));
        RedisSession admin = RedisSession.open(server.url(), config);
        RedisBackend readOnlyMeta =
            RedisBackend.builder(config)
                .url("redis://worker:worker-secret@127.0.0.1:" + port)
                .build()) {
      String spaced =
          "{\"GroupUUID\": \""
              + group
              + "\", \"TaskUUIDs\": [], \"ChordTriggered\": false, \"Lock\": false,"
              + " \"CreatedAt\": \"2026-11-27T11:36:15.389091187Z\", \"TTL\": 0}";
      admin.await(admin.commands().set(group, spaced.getBytes(StandardCharsets.UTF_8)));

      assertThatThrownBy(() -> readOnlyMeta.triggerChord(group, "task_refused"))
          .isInstanceOf(MachineryException.class)
          .as("the ACL's refusal (the wording differs between a command and a script)")
          .hasMessageContaining("access");

      assertThat(admin.await(admin.commands().exists(winner)))
          .as("a winner key beside a flag never set")
          .isZero();
      assertThat(new String(admin.await(admin.commands().get(group)), StandardCharsets.UTF_8))
          .isEqualTo(spaced);
      assertThat(admin.await(admin.commands().exists(RedisBackend.CHORD_MUTEX)))
          .as("Go's mutex, released")
          .isZero();
    }
  }

  /**
   * A group's initialisation is one script call: Go's {@code SET} of the meta, the {@code DEL} of
   * the winner key and the pending list, the list's {@code RPUSH} and {@code EXPIRE}, run by Redis
   * in one step (before, the same four commands, pipelined: one round trip too, but a trigger could
   * fall between the {@code SET} and the {@code DEL}). On a server of the test's own, whose command
   * counts are this test's alone; a first group has the script cached there.
   */
  @Test
  void initialisingAGroupIsOneScriptCall() throws Exception {
    String group = io.machinery.wire.Uuids.newGroupUuid();
    int port = OwnRedisServer.freePort();
    try (OwnRedisServer server =
            OwnRedisServer.start(
                Files.createTempDirectory("redis-backend-init"),
                port,
                OwnRedisServer.plainArgs(port));
        RedisSession admin = RedisSession.open(server.url(), config);
        RedisBackend own = RedisBackend.builder(config).url(server.url()).build()) {
      own.initGroup(io.machinery.wire.Uuids.newGroupUuid(), List.of("task_cached"));
      admin.await(
          admin
              .commands()
              .set(RedisBackend.winnerKey(group), "task_last".getBytes(StandardCharsets.UTF_8)));
      admin.await(admin.commands().configResetstat());
      own.initGroup(group, List.of("task_first", "task_second"));
      assertThat(admin.await(admin.commands().exists(RedisBackend.winnerKey(group))))
          .as("the last winner")
          .isZero();
      assertThat(admin.await(admin.commands().lrange(RedisBackend.pendingKey(group), 0, -1)))
          .extracting(member -> new String(member, StandardCharsets.UTF_8))
          .containsExactly("task_first", "task_second", "");
      assertThat(admin.await(admin.commands().ttl(RedisBackend.pendingKey(group))))
          .isGreaterThan(EXPIRE - 5L);
      assertThat(admin.await(admin.commands().ttl(group))).isGreaterThan(EXPIRE - 5L);
      assertThat(
              List.of("evalsha", "eval", "set", "del", "rpush", "expire").stream()
                  .map(command -> command + "=" + commandStat(admin, command, "calls"))
                  .toList())
          .as("commands sent, and run by the script")
          .containsExactly("evalsha=1", "eval=0", "set=1", "del=1", "rpush=1", "expire=1");
    }
  }

  /**
   * A group initialised again whose meta Redis refuses (here an ACL, on a server of the test's own,
   * whose worker may run every command but {@code SET}) leaves the group as it was: its meta, its
   * winner key and its pending list, so the winner, asking again, still learns it won. When the
   * meta was a {@code SET} pipelined with the {@code DEL} and the list's writes, those went through
   * without it: the winner of a trigger that stands was forgotten (LOST, so a member back after its
   * worker died would not check the callback), and the old meta stood beside the new group's list.
   * A refusal stands in for the moment between the commands that a script closes: what the other
   * clients could see in it, they now never see. (The script writes the meta first, so a refusal of
   * the meta, the only write Redis refuses for memory, stops it before any other write.)
   */
  @Test
  void aGroupWhoseMetaIsRefusedIsLeftAsItWas() throws Exception {
    String group = io.machinery.wire.Uuids.newGroupUuid();
    String winner = RedisBackend.winnerKey(group);
    String pending = RedisBackend.pendingKey(group);
    int port = OwnRedisServer.freePort();
    try (OwnRedisServer server =
            OwnRedisServer.start(
                Files.createTempDirectory("redis-backend-acl-init"),
                port,
                OwnRedisServer.plainArgs(
                    port, "--user", "worker", "on", ">worker-secret", "~*", "+@all", "-set"));
        RedisSession admin = RedisSession.open(server.url(), config);
        RedisBackend full = RedisBackend.builder(config).url(server.url()).build();
        RedisBackend refusedMeta =
            RedisBackend.builder(config)
                .url("redis://worker:worker-secret@127.0.0.1:" + port)
                .build()) {
      full.initGroup(group, List.of("task_last", "task_other"));
      assertThat(full.triggerChord(group, "task_last"))
          .isEqualTo(io.machinery.spi.Backend.Trigger.WON);
      byte[] meta = admin.await(admin.commands().get(group));
      List<byte[]> members = admin.await(admin.commands().lrange(pending, 0, -1));

      assertThatThrownBy(() -> refusedMeta.initGroup(group, List.of("task_first", "task_second")))
          .isInstanceOf(MachineryException.class)
          .as("the ACL's refusal (the wording differs between a command and a script)")
          .hasMessageMatching("(?s).*(no permissions|can't run this command).*");

      assertThat(admin.await(admin.commands().get(group))).as("the meta").isEqualTo(meta);
      assertThat(admin.await(admin.commands().get(winner)))
          .as("the winner of the trigger that stands")
          .isEqualTo("task_last".getBytes(StandardCharsets.UTF_8));
      assertThat(admin.await(admin.commands().lrange(pending, 0, -1)))
          .as("the pending list")
          .containsExactlyElementsOf(members);
      assertThat(full.triggerChord(group, "task_last"))
          .as("the winner, asking again")
          .isEqualTo(io.machinery.spi.Backend.Trigger.WON_BEFORE);
    }
  }

  private static List<Signature> groupOfThree(RedisBackend backend, String group) {
    List<Signature> tasks = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      tasks.add(Signature.builder("full").groupUuid(group).groupTaskCount(3).build());
    }
    backend.initGroup(group, tasks.stream().map(Signature::uuid).toList());
    for (Signature task : tasks) {
      backend.setStatePending(task);
    }
    return tasks;
  }

  /**
   * Every kind of state write, each checked to have deleted {@code dels} values (and, when one, to
   * have been refused for memory first), ending with the three tasks SUCCESS with their TaskName.
   */
  private static void writeEveryKindOfState(
      RedisBackend own, List<Signature> tasks, RedisSession admin, int dels) {
    // lone writes: the merge script
    resetStats(admin, dels);
    own.setStateStarted(tasks.get(0));
    assertFreedFirst(admin, "a lone STARTED (merge script)", dels);
    resetStats(admin, dels);
    own.setStateSuccess(tasks.get(0), List.of(TaskResult.of(1L)));
    assertFreedFirst(admin, "a lone SUCCESS (merge script)", dels);
    // a worker's chain whose read answered: the early-state script, then a SET (refused when Redis
    // is full, then written by the merge script)
    resetStats(admin, dels);
    own.setStateReceivedAsync(tasks.get(1)).join();
    assertFreedFirst(admin, "RECEIVED (early-state script)", dels);
    resetStats(admin, dels);
    own.setStateStartedAsync(tasks.get(1)).join();
    assertFreedFirst(admin, "STARTED (early-state script)", dels);
    resetStats(admin, dels);
    own.setStateSuccess(tasks.get(1), List.of(TaskResult.of(2L)));
    assertFreedFirst(admin, "a chain's SUCCESS (SET, then the merge script)", dels);
    resetStats(admin, dels);
    own.setStateSuccess(tasks.get(2), List.of(TaskResult.of(3L)));
    assertFreedFirst(admin, "a lone SUCCESS (merge script)", dels);
    for (Signature task : tasks) {
      TaskState state = own.getState(task.uuid()).orElseThrow();
      assertThat(state.state()).as(task.uuid()).isEqualTo(State.SUCCESS);
      assertThat(state.taskName()).isEqualTo("full");
    }
  }

  private static void resetStats(RedisSession admin, int dels) {
    if (dels > 0) {
      admin.await(admin.commands().configResetstat());
    }
  }

  /**
   * That the write just made deleted {@code dels} values and, if any, only after Redis refused a
   * {@code SET} for memory.
   */
  private static void assertFreedFirst(RedisSession admin, String write, int dels) {
    if (dels == 0) {
      assertThat(commandStat(admin, "del", "calls")).as(write).isZero();
      return;
    }
    assertThat(commandStat(admin, "del", "calls")).as(write).isEqualTo(dels);
    assertThat(commandStat(admin, "set", "rejected_calls")).as(write).isPositive();
  }

  /** A field of one command's line in {@code INFO commandstats}; 0 for a command not used. */
  private static long commandStat(RedisSession admin, String command, String field) {
    String info = admin.await(admin.commands().info("commandstats"));
    for (String line : info.split("\r?\n")) {
      if (line.startsWith("cmdstat_" + command + ":")) {
        for (String pair : line.substring(line.indexOf(':') + 1).split(",")) {
          if (pair.startsWith(field + "=")) {
            return Long.parseLong(pair.substring(field.length() + 1));
          }
        }
      }
    }
    return 0;
  }

  /** Writes 1 kB values until Redis refuses one for its memory. */
  private static void fillUntilRefused(RedisSession redis) {
    byte[] value = "x".repeat(1_000).getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < 100_000; i++) {
      try {
        redis.await(redis.commands().set("filler:" + i, value));
      } catch (MachineryException e) {
        assertThat(e).hasMessageContaining("OOM");
        return;
      }
    }
    throw new AssertionError("redis-server took 100 MB under a 4 MB maxmemory");
  }

  /**
   * The connection is cut (a restart, a partition) before, between or after a worker's early and
   * final writes: Lettuce sends them again, in order, once it is back, and the stored state ends at
   * the SUCCESS with the PENDING's TaskName, never at a STARTED after it.
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2})
  void aConnectionCutInTheMiddleOfAChainEndsAtTheFinalState(int cutAfter) throws Exception {
    java.net.URI url = java.net.URI.create(TestEndpoints.redisUrl());
    Config patient =
        Config.builder()
            .resultBackend(TestEndpoints.redisUrl())
            .resultsExpireIn(EXPIRE)
            .redis(
                io.machinery.config.RedisConfig.builder()
                    .readTimeout(Duration.ofSeconds(30))
                    .build())
            .build();
    Signature task = Signature.create("cut");
    try (io.machinery.testkit.DroppingTcpProxy proxy =
            io.machinery.testkit.DroppingTcpProxy.start(url.getHost(), url.getPort());
        RedisBackend own =
            RedisBackend.builder(patient)
                .url("redis://127.0.0.1:" + proxy.port())
                .stateReadGrace(Duration.ZERO)
                .build()) {
      own.setStatePending(task);
      CompletableFuture<Void> received = own.setStateReceivedAsync(task);
      if (cutAfter == 0) {
        proxy.cut();
      }
      CompletableFuture<Void> started = own.setStateStartedAsync(task);
      if (cutAfter == 1) {
        proxy.cut();
      }
      CompletableFuture<Void> success =
          CompletableFuture.runAsync(() -> own.setStateSuccess(task, List.of(TaskResult.of(1L))));
      if (cutAfter == 2) {
        proxy.cut();
      }
      proxy.resume();
      success.join();
      CompletableFuture.allOf(received, started).exceptionally(e -> null).join();
      TaskState state = backend.getState(task.uuid()).orElseThrow();
      assertThat(state.state()).isEqualTo(State.SUCCESS);
      assertThat(state.taskName()).isEqualTo("cut");
    } finally {
      redis.await(redis.commands().del(task.uuid()));
    }
  }

  /**
   * Groups at their edges, as Go counts them: no member, a member listed twice, a member completed
   * twice, a member that never had a state, a meta that is gone (checked, no bug found; kept so it
   * stays so).
   */
  @Test
  void groupsAtTheirEdgesAreCountedAsGoCountsThem() {
    String empty = io.machinery.wire.Uuids.newGroupUuid();
    String twice = io.machinery.wire.Uuids.newGroupUuid();
    String ghost = io.machinery.wire.Uuids.newGroupUuid();
    String member = io.machinery.wire.Uuids.newTaskUuid();
    String neverStored = io.machinery.wire.Uuids.newTaskUuid();
    try {
      backend.initGroup(empty, List.of());
      assertThat(backend.groupCompleted(empty, 0)).isTrue();
      assertThat(backend.groupTaskStates(empty, 0)).isEmpty();

      backend.initGroup(twice, List.of(member, member));
      Signature task =
          Signature.builder("twice").uuid(member).groupUuid(twice).groupTaskCount(2).build();
      backend.setStatePending(task);
      assertThat(backend.groupCompleted(twice, 2)).isFalse();
      backend.setStateSuccess(task, List.of());
      backend.setStateSuccess(task, List.of());
      assertThat(backend.groupCompleted(twice, 2)).isTrue();
      assertThat(backend.triggerChord(twice, member))
          .isEqualTo(io.machinery.spi.Backend.Trigger.WON);
      assertThat(backend.triggerChord(twice, member))
          .isEqualTo(io.machinery.spi.Backend.Trigger.WON_BEFORE);

      backend.initGroup(ghost, List.of(neverStored));
      assertThatThrownBy(() -> backend.groupCompleted(ghost, 1))
          .isInstanceOf(io.machinery.StateNotFoundException.class)
          .hasMessageContaining(neverStored);
      redis.await(redis.commands().del(ghost));
      assertThatThrownBy(() -> backend.groupCompleted(ghost, 1))
          .isInstanceOf(io.machinery.StateNotFoundException.class)
          .hasMessageContaining(ghost);
      assertThatThrownBy(() -> backend.triggerChord(ghost, neverStored))
          .isInstanceOf(io.machinery.StateNotFoundException.class);
    } finally {
      for (String group : List.of(empty, twice, ghost)) {
        backend.purgeGroupMeta(group);
      }
      redis.await(redis.commands().del(member));
    }
  }

  private static byte[] encodePending(Signature task) {
    return io.machinery.wire.WireCodec.encode(
        TaskState.pending(task, java.time.OffsetDateTime.now(java.time.ZoneOffset.UTC)));
  }

  private static boolean isBusy(RedisSession admin) {
    try {
      admin.await(admin.commands().get("probe"));
      return false;
    } catch (MachineryException e) {
      return String.valueOf(e.getMessage()).contains("BUSY");
    }
  }
}
