package io.machinery.backend.mongodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import io.machinery.Arg;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.wire.Uuids;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.bson.BsonArray;
import org.bson.BsonBinary;
import org.bson.BsonBoolean;
import org.bson.BsonDateTime;
import org.bson.BsonDecimal128;
import org.bson.BsonDocument;
import org.bson.BsonDouble;
import org.bson.BsonInt32;
import org.bson.BsonInt64;
import org.bson.BsonString;
import org.bson.Document;
import org.bson.types.Decimal128;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The documents as Go's MongoDB backend writes and reads them (spec §4.4), checked field by field
 * and BSON type by BSON type on mongo-java-server in this JVM; and the behaviour beyond Go. The
 * emulator never expires TTL documents, so expiry is checked through the index definition and the
 * {@code delete_at} values.
 */
class MongoDbWireFormatTest {
  private static final Instant NOW = Instant.parse("2026-01-02T03:04:05.678Z");
  private static MongoClient raw;

  private MongoDatabase db;
  private MongoDbBackend backend;

  @BeforeAll
  static void connect() {
    raw = MongoClients.create(InProcessMongo.uri());
  }

  @AfterAll
  static void disconnect() {
    raw.close();
  }

  @BeforeEach
  void createBackend() {
    String database = "wire_" + UUID.randomUUID().toString().replace("-", "");
    db = raw.getDatabase(database);
    backend =
        MongoDbBackend.builder(
                Config.builder().resultBackend(InProcessMongo.uri()).resultsExpireIn(120).build())
            .clock(Clock.fixed(NOW, ZoneOffset.UTC))
            .database(database)
            .build();
  }

  @AfterEach
  void close() {
    backend.close();
    db.drop();
  }

  private BsonDocument taskDoc(String uuid) {
    return db.getCollection("tasks", BsonDocument.class).find(Filters.eq("_id", uuid)).first();
  }

  private static Signature task(String name) {
    return Signature.builder(name).args(Arg.of(1L)).build();
  }

  @Test
  void statesAreGoDocumentsUpdatedInPlace() {
    Signature add = task("add");
    backend.setStatePending(add);
    assertThat(taskDoc(add.uuid()))
        .isEqualTo(
            new BsonDocument("_id", new BsonString(add.uuid()))
                .append("state", new BsonString("PENDING"))
                .append("task_name", new BsonString("add"))
                .append("created_at", new BsonDateTime(NOW.toEpochMilli())));

    backend.setStateReceived(add);
    backend.setStateStarted(add);
    BsonDocument started = taskDoc(add.uuid());
    assertThat(started.keySet())
        .containsExactlyInAnyOrder("_id", "state", "task_name", "created_at");
    assertThat(started.getString("state").getValue()).isEqualTo("STARTED");

    backend.setStateSuccess(add, List.of(TaskResult.of(2L)));
    BsonDocument success = taskDoc(add.uuid());
    assertThat(success.keySet())
        .containsExactlyInAnyOrder(
            "_id", "state", "task_name", "created_at", "results", "delete_at");
    assertThat(success.get("results"))
        .isEqualTo(
            new BsonArray(
                List.of(
                    new BsonDocument("type", new BsonString("int64"))
                        .append("value", new BsonInt64(2)))));
    assertThat(success.get("delete_at"))
        .isEqualTo(new BsonDateTime(NOW.plusSeconds(120).toEpochMilli()));

    TaskState read = backend.getState(add.uuid()).orElseThrow();
    assertThat(read.taskName()).isEqualTo("add");
    assertThat(read.createdAt().toInstant()).isEqualTo(NOW);
    assertThat(read.results()).containsExactly(TaskResult.of("int64", 2L));
  }

  @Test
  void aFailureStoresItsErrorAndDeleteAt() {
    Signature task = task("panic");
    backend.setStatePending(task);
    backend.setStateFailure(task, "oops");
    BsonDocument doc = taskDoc(task.uuid());
    assertThat(doc.getString("state").getValue()).isEqualTo("FAILURE");
    assertThat(doc.getString("error").getValue()).isEqualTo("oops");
    assertThat(doc.get("delete_at"))
        .isEqualTo(new BsonDateTime(NOW.plusSeconds(120).toEpochMilli()));
    assertThat(doc.containsKey("results")).isFalse();
  }

  @Test
  void resultValuesHaveTheBsonTypesGoGivesTheGoValues() {
    Signature task = task("echo");
    backend.setStatePending(task);
    backend.setStateSuccess(
        task,
        List.of(
            TaskResult.of("int64", 7L),
            TaskResult.of("int", 7L),
            TaskResult.of("int", 1L << 40),
            TaskResult.of("int32", 7L),
            TaskResult.of("uint8", 7L),
            TaskResult.of("uint64", new BigInteger("7")),
            TaskResult.of("uint64", new BigInteger("18446744073709551615")),
            TaskResult.of("float64", 200.0),
            TaskResult.of("float32", 0.5),
            TaskResult.of("bool", true),
            TaskResult.of("string", "{\"not\":\"decoded\"}"),
            TaskResult.of("[]uint8", new byte[] {0, 1, (byte) 255}),
            TaskResult.of("[]int64", List.of(1L, 2L)),
            TaskResult.of("[]string", List.of("a"))));
    List<Object> values = new ArrayList<>();
    for (var result : taskDoc(task.uuid()).getArray("results")) {
      values.add(result.asDocument().get("value"));
    }
    assertThat(values)
        .containsExactly(
            new BsonInt64(7),
            new BsonInt32(7),
            new BsonInt64(1L << 40),
            new BsonInt32(7),
            new BsonInt32(7),
            new BsonInt64(7),
            new BsonDecimal128(Decimal128.parse("18446744073709551615")),
            new BsonDouble(200.0),
            new BsonDouble(0.5),
            BsonBoolean.TRUE,
            new BsonString("{\"not\":\"decoded\"}"),
            new BsonBinary(new byte[] {0, 1, (byte) 255}),
            new BsonArray(List.of(new BsonInt64(1), new BsonInt64(2))),
            new BsonArray(List.of(new BsonString("a"))));
  }

  @Test
  void readsWhatAGoWorkerWrites() {
    String uuid = Uuids.newTaskUuid();
    // as Go's SetStateSuccess leaves it, including its "json" result for a string holding a JSON
    // object
    db.getCollection("tasks")
        .insertOne(
            new Document("_id", uuid)
                .append("state", "SUCCESS")
                .append("task_name", "multi")
                .append("created_at", Date.from(NOW))
                .append(
                    "results",
                    List.of(
                        new Document("type", "int64").append("value", 9_007_199_254_740_993L),
                        new Document("type", "[]int64").append("value", List.of(1L, 2L)),
                        new Document("type", "json")
                            .append("value", new Document("b", 1L).append("a", "x"))))
                .append("delete_at", Date.from(NOW)));
    TaskState state = backend.getState(uuid).orElseThrow();
    assertThat(state.state()).isEqualTo(State.SUCCESS);
    assertThat(state.taskName()).isEqualTo("multi");
    assertThat(state.error()).isEmpty();
    assertThat(state.results())
        .containsExactly(
            TaskResult.of("int64", 9_007_199_254_740_993L),
            TaskResult.of("[]int64", List.of(1L, 2L)),
            TaskResult.of("string", "{\"a\":\"x\",\"b\":1}"));
  }

  @Test
  void aGroupIsGosDocument() {
    String group = Uuids.newGroupUuid();
    List<String> uuids = List.of(Uuids.newTaskUuid(), Uuids.newTaskUuid());
    backend.initGroup(group, uuids);
    BsonDocument meta =
        db.getCollection("group_metas", BsonDocument.class).find(Filters.eq("_id", group)).first();
    assertThat(meta)
        .isEqualTo(
            new BsonDocument("_id", new BsonString(group))
                .append("task_uuids", new BsonArray(uuids.stream().map(BsonString::new).toList()))
                .append("chord_triggered", BsonBoolean.FALSE)
                .append("lock", BsonBoolean.FALSE)
                .append("created_at", new BsonDateTime(NOW.toEpochMilli())));
  }

  @Test
  void theTasksCollectionHasGosTtlIndexOnDeleteAt() {
    List<Document> indexes = db.getCollection("tasks").listIndexes().into(new ArrayList<>());
    Document ttl =
        indexes.stream()
            .filter(i -> "delete_at_1".equals(i.getString("name")))
            .findFirst()
            .orElseThrow();
    assertThat(ttl.get("key", Document.class)).isEqualTo(new Document("delete_at", 1));
    assertThat(((Number) ttl.get("expireAfterSeconds")).longValue()).isZero();
    // a second backend on the same database finds the index in place
    MongoDbBackend.builder(Config.builder().resultBackend(InProcessMongo.uri()).build())
        .database(db.getName())
        .build()
        .close();
    assertThat(db.getCollection("tasks").listIndexes().into(new ArrayList<>()))
        .hasSameSizeAs(indexes);
  }

  @Test
  void zeroResultsExpireInKeepsResultsForAnHourInsteadOfDeletingThemAtOnce() {
    try (MongoDbBackend zero =
        MongoDbBackend.builder(
                Config.builder().resultBackend(InProcessMongo.uri()).resultsExpireIn(0).build())
            .clock(Clock.fixed(NOW, ZoneOffset.UTC))
            .database(db.getName())
            .build()) {
      Signature task = task("add");
      zero.setStateSuccess(task, List.of());
      assertThat(taskDoc(task.uuid()).get("delete_at"))
          .isEqualTo(new BsonDateTime(NOW.plusSeconds(3600).toEpochMilli()));
    }
  }

  @Test
  void groupStatesComeBackInGroupOrderWhateverOrderTheStoreHasThem() {
    List<Signature> members = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      members.add(task("add"));
    }
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, members.stream().map(Signature::uuid).toList());
    for (int i = members.size() - 1; i >= 0; i--) { // stored last member first
      backend.setStateSuccess(members.get(i), List.of(TaskResult.of((long) i)));
    }
    assertThat(backend.groupTaskStates(group, 6))
        .extracting(s -> s.results().get(0).value())
        .containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
  }

  @Test
  void aMissingMemberStateIsAnErrorNotAShorterList() {
    Signature a = task("add");
    Signature b = task("add");
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(a.uuid(), b.uuid()));
    backend.setStateSuccess(a, List.of());
    assertThatThrownBy(() -> backend.groupTaskStates(group, 2))
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining("Task not found: " + b.uuid());
  }

  @Test
  void aChordTriggersOnceAndAnUnknownGroupIsAnError() {
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(Uuids.newTaskUuid()));
    assertThat(backend.triggerChord(group)).isTrue();
    assertThat(backend.triggerChord(group)).isFalse();
    assertThat(
            db.getCollection("group_metas")
                .find(Filters.eq("_id", group))
                .first()
                .getBoolean("chord_triggered"))
        .isTrue();
    assertThatThrownBy(() -> backend.triggerChord(Uuids.newGroupUuid()))
        .isInstanceOf(MachineryException.class)
        .hasMessageStartingWith("Group not found: ");
  }

  /**
   * A release leaves Go's untriggered group document (the flag a BSON false, no winner field), so
   * Go's own TriggerChord update matches it again; it releases a trigger a member won before
   * releases existed (the same document), and never one a Go worker holds (no winner).
   */
  @Test
  void aReleasedChordTriggerIsGosUntriggeredGroupAgain() {
    MongoCollection<BsonDocument> metas = db.getCollection("group_metas", BsonDocument.class);
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of("task_a", "task_b"));
    BsonDocument untriggered = metas.find(Filters.eq("_id", group)).first();
    assertThat(backend.triggerChord(group, "task_a")).isEqualTo(Backend.Trigger.WON);
    assertThat(metas.find(Filters.eq("_id", group)).first())
        .isEqualTo(
            untriggered
                .clone()
                .append("chord_triggered", BsonBoolean.TRUE)
                .append(MongoDbBackend.CHORD_WINNER, new BsonString("task_a")));

    assertThat(backend.releaseChordTrigger(group, "task_a")).isTrue();
    assertThat(metas.find(Filters.eq("_id", group)).first()).isEqualTo(untriggered);
    // Go's TriggerChord: UpdateOne({_id, chord_triggered: false}, {$set: {chord_triggered: true}})
    assertThat(
            metas
                .updateOne(
                    Filters.and(Filters.eq("_id", group), Filters.eq("chord_triggered", false)),
                    new BsonDocument("$set", new BsonDocument("chord_triggered", BsonBoolean.TRUE)))
                .getModifiedCount())
        .isEqualTo(1);
    BsonDocument heldByGo = metas.find(Filters.eq("_id", group)).first();
    assertThat(backend.releaseChordTrigger(group, "task_a")).as("held by a Go worker").isFalse();
    assertThat(backend.releaseChordTrigger(group, "")).as("no member").isFalse();
    assertThat(metas.find(Filters.eq("_id", group)).first()).isEqualTo(heldByGo);

    String wonBefore = Uuids.newGroupUuid();
    metas.insertOne(
        untriggered
            .clone()
            .append("_id", new BsonString(wonBefore))
            .append("chord_triggered", BsonBoolean.TRUE)
            .append(MongoDbBackend.CHORD_WINNER, new BsonString("task_b")));
    assertThat(backend.releaseChordTrigger(wonBefore, "task_b")).isTrue();
    assertThat(backend.triggerChord(wonBefore, "task_a")).isEqualTo(Backend.Trigger.WON);
  }

  @Test
  void aCallersClientIsUsedAndLeftOpen() {
    try (MongoClient own = MongoClients.create(InProcessMongo.uri())) {
      MongoDbBackend mine =
          MongoDbBackend.builder(
                  Config.builder().resultBackend("mongodb://unused.invalid:1").build())
              .client(own)
              .database(db.getName())
              .build();
      Signature task = task("add");
      mine.setStatePending(task);
      mine.close();
      MongoCollection<Document> tasks = own.getDatabase(db.getName()).getCollection("tasks");
      assertThat(tasks.find(Filters.eq("_id", task.uuid())).first())
          .isNotNull(); // the client still works
    }
  }

  @Test
  void theDefaultDatabaseIsMachineryAndABareHostPortIsAUri() {
    String hostPort = InProcessMongo.uri().substring("mongodb://".length());
    try (MongoDbBackend bare =
        MongoDbBackend.create(Config.builder().resultBackend(hostPort).build())) {
      Signature task = task("add");
      bare.setStatePending(task);
      assertThat(
              raw.getDatabase("machinery")
                  .getCollection("tasks")
                  .find(Filters.eq("_id", task.uuid()))
                  .first())
          .isNotNull();
      assertThat(raw.listDatabaseNames().into(new ArrayList<>())).contains("machinery");
    }
    assertThat(
            Set.of(
                MongoDbBackend.normalizeUri("h:1"), MongoDbBackend.normalizeUri("mongodb+srv://h")))
        .containsExactlyInAnyOrder("mongodb://h:1", "mongodb+srv://h");
  }

  @Test
  void operationsAreBoundedByFifteenSecondsUnlessTheUriSaysOtherwise() {
    assertThat(MongoDbBackend.settings("mongodb://h:1").getTimeout(TimeUnit.MILLISECONDS))
        .isEqualTo(MongoDbBackend.DEFAULT_OPERATION_TIMEOUT.toMillis())
        .isEqualTo(15_000L);
    assertThat(MongoDbBackend.settings("h:1/?timeoutMS=1500").getTimeout(TimeUnit.MILLISECONDS))
        .isEqualTo(1_500L);
    assertThat(
            MongoDbBackend.settings("mongodb://h:1/?timeoutMS=0").getTimeout(TimeUnit.MILLISECONDS))
        .as("timeoutMS=0: the user asked for no limit")
        .isZero();
  }

  @Test
  void aBlankDatabaseNameIsRefused() {
    assertThatThrownBy(() -> MongoDbBackend.builder(Config.DEFAULT).database(" "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("blank");
  }
}
