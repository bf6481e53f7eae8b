package io.machinery.backend.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.DynamoDbConfig;
import io.machinery.spi.Backend;
import io.machinery.wire.Uuids;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * What the backend writes, item by item, as Go's DynamoDB backend does; chunked group reads; Go's
 * chord lock.
 */
class DynamoDbBackendBehaviourIT {
  private static DynamoDbConfig tables;
  private DynamoDbBackend backend;

  @BeforeAll
  static void createTables() {
    tables = TestTables.create("behaviour");
  }

  @AfterAll
  static void deleteTables() {
    TestTables.delete(tables);
  }

  @BeforeEach
  void createBackend() {
    backend =
        DynamoDbBackend.builder(TestTables.config(tables)).client(TestTables.client()).build();
  }

  @AfterEach
  void closeBackend() {
    backend.close();
  }

  private static Map<String, AttributeValue> item(String table, String key, String uuid) {
    return TestTables.client()
        .getItem(
            r ->
                r.tableName(table)
                    .key(Map.of(key, AttributeValue.fromS(uuid)))
                    .consistentRead(true))
        .item();
  }

  @Test
  void itemsCarryGosAttributeNamesAndTypes() {
    Signature add = Signature.builder("add").args(Arg.of(1L)).build();
    backend.setStatePending(add);
    Map<String, AttributeValue> pending = item(tables.taskStatesTable(), "TaskUUID", add.uuid());
    assertThat(pending.get("TaskName").s()).isEqualTo("add");
    assertThat(pending.get("State").s()).isEqualTo("PENDING");
    assertThat(pending.get("Results").nul()).isTrue();
    assertThat(pending.get("CreatedAt").s())
        .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z");
    assertThat(pending.get("TTL").n()).isEqualTo("0");

    backend.setStateSuccess(
        add, List.of(TaskResult.of(2L), TaskResult.of("[]string", List.of("a", "b"))));
    Map<String, AttributeValue> success = item(tables.taskStatesTable(), "TaskUUID", add.uuid());
    assertThat(success.get("State").s()).isEqualTo("SUCCESS");
    assertThat(success.get("TaskName").s())
        .as("kept from PENDING, as Go's UpdateItem keeps it")
        .isEqualTo("add");
    assertThat(success.get("Results").l())
        .extracting(v -> v.m().get("Type").s() + "=" + v.m().get("Value").s())
        .containsExactly("int64=2", "[]string=[a b]");
    assertThat(Long.parseLong(success.get("TTL").n()))
        .isGreaterThan(System.currentTimeMillis() / 1000 + 3000);

    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(add.uuid()));
    Map<String, AttributeValue> meta = item(tables.groupMetasTable(), "GroupUUID", group);
    assertThat(meta.get("TaskUUIDs").l()).extracting(AttributeValue::s).containsExactly(add.uuid());
    assertThat(meta.get("ChordTriggered").bool()).isFalse();
    assertThat(meta.get("Lock").bool()).isFalse();
  }

  @Test
  void aGroupLargerThanOneBatchReadsBackInGroupOrder() {
    String group = Uuids.newGroupUuid();
    List<Signature> members = new ArrayList<>();
    for (int i = 0; i < 130; i++) {
      members.add(
          Signature.builder("add")
              .args(Arg.of((long) i))
              .groupUuid(group)
              .groupTaskCount(130)
              .build());
    }
    backend.initGroup(group, members.stream().map(Signature::uuid).toList());
    for (int i = 0; i < members.size(); i++) {
      backend.setStatePending(members.get(i));
      backend.setStateSuccess(members.get(i), List.of(TaskResult.of((long) i)));
    }
    assertThat(backend.groupCompleted(group, 130)).isTrue();
    List<TaskState> states = backend.groupTaskStates(group, 130);
    assertThat(states)
        .extracting(TaskState::taskUuid)
        .containsExactlyElementsOf(members.stream().map(Signature::uuid).toList());
    assertThat(states.get(129).results()).containsExactly(TaskResult.of(129L));
  }

  /**
   * A throttled BatchGetItem's unprocessed keys are read again (Go's inverted check drops them).
   */
  @Test
  void unprocessedKeysAreReadAgainUntilEveryStateIsBack() {
    ThrottlingDynamoDbFake throttled = new ThrottlingDynamoDbFake(TestTables.client(), 7);
    DynamoDbBackend b =
        DynamoDbBackend.builder(TestTables.config(tables)).client(throttled).build();
    String group = Uuids.newGroupUuid();
    List<Signature> members = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      members.add(
          Signature.builder("add")
              .args(Arg.of((long) i))
              .groupUuid(group)
              .groupTaskCount(30)
              .build());
    }
    b.initGroup(group, members.stream().map(Signature::uuid).toList());
    for (int i = 0; i < members.size(); i++) {
      b.setStateSuccess(members.get(i), List.of(TaskResult.of((long) i)));
    }
    List<TaskState> states = b.groupTaskStates(group, 30);
    assertThat(states)
        .extracting(TaskState::taskUuid)
        .containsExactlyElementsOf(members.stream().map(Signature::uuid).toList());
    assertThat(states).allMatch(s -> s.state() == State.SUCCESS);
    assertThat(states.get(29).results()).containsExactly(TaskResult.of(29L));
    assertThat(throttled.batchCalls.get()).as("30 keys, 7 per call").isEqualTo(5);
    b.close();
  }

  @Test
  void aChordWaitsWhileAGoWorkerHoldsTheGroupLockAndThenLeavesTheTriggerToIt() throws Exception {
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(Uuids.newTaskUuid()));
    // A Go worker's TriggerChord: SET Lock = true, ..., SET ChordTriggered = true, then unlock.
    setGroupFlag(group, "Lock", true);
    CompletableFuture<Boolean> java =
        CompletableFuture.supplyAsync(() -> backend.triggerChord(group));
    await()
        .during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(5))
        .until(() -> !java.isDone());
    setGroupFlag(group, "ChordTriggered", true);
    setGroupFlag(group, "Lock", false);
    assertThat(java.get()).as("the Go worker fired the chord").isFalse();
    assertThat(backend.triggerChord(group)).isFalse();
  }

  /**
   * A Go worker that read ChordTriggered false before a Java member won the trigger takes Lock,
   * sets the flag anyway and fires. A release meanwhile is refused: the Java winner keeps the
   * trigger, so the member it found running loses it when it finishes, and the chord fires once, by
   * the Go worker (released, the running member would win it too and fire it again).
   */
  @Test
  void aReleaseIsRefusedWhileAGoWorkerHoldsTheGroupLock() {
    String group = Uuids.newGroupUuid();
    String winner = Uuids.newTaskUuid();
    String running = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(winner, running));
    assertThat(backend.triggerChord(group, winner)).isEqualTo(Backend.Trigger.WON);
    setGroupFlag(group, "Lock", true);
    assertThat(backend.releaseChordTrigger(group, winner)).isFalse();
    Map<String, AttributeValue> meta = item(tables.groupMetasTable(), "GroupUUID", group);
    assertThat(meta.get("ChordTriggered").bool()).as("unchanged").isTrue();
    assertThat(meta.get(DynamoDbBackend.CHORD_WINNER).s()).as("unchanged").isEqualTo(winner);
    setGroupFlag(group, "ChordTriggered", true);
    setGroupFlag(group, "Lock", false);
    assertThat(backend.triggerChord(group, running)).isEqualTo(Backend.Trigger.LOST);
  }

  /**
   * A release leaves Go's form of an untriggered group (ChordTriggered a BOOL false, which a Go
   * worker's TriggerChord reads and flips) with no member as its winner, and keeps the group's
   * expiry and members as they were.
   */
  @Test
  void aReleasedGroupIsGosUntriggeredGroupWithItsExpiry() {
    String group = Uuids.newGroupUuid();
    String winner = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(winner));
    assertThat(backend.triggerChord(group, winner)).isEqualTo(Backend.Trigger.WON);
    Map<String, AttributeValue> before = item(tables.groupMetasTable(), "GroupUUID", group);
    assertThat(backend.releaseChordTrigger(group, winner)).isTrue();
    Map<String, AttributeValue> after = item(tables.groupMetasTable(), "GroupUUID", group);
    assertThat(after.get("ChordTriggered")).isEqualTo(AttributeValue.fromBool(false));
    assertThat(after.get("Lock")).isEqualTo(AttributeValue.fromBool(false));
    assertThat(after.get(DynamoDbBackend.CHORD_WINNER).s())
        .as("a token of the release, no member's UUID")
        .startsWith(DynamoDbBackend.RELEASE_PREFIX);
    assertThat(after.get("TTL")).isEqualTo(before.get("TTL"));
    assertThat(after.get("TaskUUIDs")).isEqualTo(before.get("TaskUUIDs"));
    assertThat(after.get("CreatedAt")).isEqualTo(before.get("CreatedAt"));
    setGroupFlag(group, "ChordTriggered", true); // a Go worker's TriggerChord
    assertThat(backend.triggerChord(group, winner))
        .as("the Go worker's, not the released winner's")
        .isEqualTo(Backend.Trigger.LOST);
  }

  @Test
  void createTablesIsIdempotent() {
    DynamoDbBackend.createTables(TestTables.client(), tables);
    assertThat(backend.getState(Uuids.newTaskUuid())).isEmpty();
    Signature s = Signature.create("noop");
    backend.setStatePending(s);
    backend.setStateFailure(s, "boom");
    assertThat(backend.getState(s.uuid()).orElseThrow().state()).isEqualTo(State.FAILURE);
  }

  private static void setGroupFlag(String group, String name, boolean value) {
    TestTables.client()
        .updateItem(
            r ->
                r.tableName(tables.groupMetasTable())
                    .key(Map.of("GroupUUID", AttributeValue.fromS(group)))
                    .updateExpression("SET #F = :v")
                    .expressionAttributeNames(Map.of("#F", name))
                    .expressionAttributeValues(Map.of(":v", AttributeValue.fromBool(value))));
  }
}
