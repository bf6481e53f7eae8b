package io.machinery.backend.mongodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.mongodb.ReadConcern;
import com.mongodb.ReadPreference;
import com.mongodb.WriteConcern;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.Filters;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.StateNotFoundException;
import io.machinery.TaskFailedException;
import io.machinery.TaskFunction;
import io.machinery.TaskResult;
import io.machinery.config.Config;
import io.machinery.spi.Backend.Trigger;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.bson.Document;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The MongoDB backend where the contract kit does not look, against the test services' MongoDB
 * ({@code MONGODB_URI}): a member state gone under {@code groupCompleted}; the read preference,
 * read concern and write concern of its collections, whatever the URI says (w=0 would break the
 * chord trigger, its release and uniqueness claims); values MongoDB cannot hold (over 16 MiB, not
 * encodable) refused as such, down to the worker storing FAILURE with the reason; a huge error cut
 * so a FAILURE is always storable; Java arrays in results; a group stored again; fields of an
 * earlier final state cleared when a task runs again; and a closed backend failing with a
 * MachineryException.
 */
class MongoDbBackendEdgeCasesIT {
  private static final int OVER_16_MIB = 17 * 1024 * 1024;

  private String database;
  private MongoDbBackend backend;

  @BeforeEach
  void create() {
    database = "edge_" + UUID.randomUUID().toString().replace("-", "");
    backend =
        MongoDbBackend.builder(Config.builder().resultBackend(TestEndpoints.mongodbUri()).build())
            .database(database)
            .build();
  }

  @AfterEach
  void close() {
    backend.close();
    try (MongoClient raw = MongoClients.create(TestEndpoints.mongodbUri())) {
      raw.getDatabase(database).drop();
    }
  }

  private static Signature task() {
    return Signature.builder("add").uuid(Uuids.newTaskUuid()).build();
  }

  private static String withOptions(String options) {
    String full = MongoDbBackend.normalizeUri(TestEndpoints.mongodbUri());
    String rest = full.substring(full.indexOf("//") + 2);
    if (full.contains("?")) {
      return full + "&" + options;
    }
    return full + (rest.contains("/") ? "" : "/") + "?" + options;
  }

  private MongoDbBackend backendFor(String uriOptions) {
    return MongoDbBackend.builder(Config.DEFAULT)
        .url(withOptions(uriOptions))
        .database(database)
        .build();
  }

  private Document rawTask(String uuid) {
    try (MongoClient raw = MongoClients.create(TestEndpoints.mongodbUri())) {
      return raw.getDatabase(database)
          .getCollection(MongoDbBackend.TASKS)
          .find(Filters.eq("_id", uuid))
          .first();
    }
  }

  /**
   * The SPI: a member whose state is gone (expired through delete_at, or purged) is reported, so
   * the worker fails the chord at once; Go's count answers false for ever and the chord never
   * fires.
   */
  @Test
  void groupCompletedReportsAMemberWhoseStateIsGoneAsNotFound() {
    Signature kept = task();
    Signature gone = task();
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(kept.uuid(), gone.uuid()));
    backend.setStateSuccess(kept, List.of());
    backend.setStateSuccess(gone, List.of());
    backend.purgeState(gone.uuid()); // what the TTL monitor does once delete_at passed
    assertThatThrownBy(() -> backend.groupCompleted(group, 2))
        .isInstanceOfSatisfying(
            StateNotFoundException.class,
            e -> {
              assertThat(e.missing()).isEqualTo(StateNotFoundException.Missing.TASK);
              assertThat(e.uuid()).isEqualTo(gone.uuid());
            })
        .hasMessageStartingWith("Task not found: " + gone.uuid());
  }

  /**
   * The chord path reads its own writes (SUCCESS, then groupCompleted); a secondary may not have
   * them yet. So the collections read from the primary with the default read concern whatever the
   * URI says, and keep a write concern stronger than w=1.
   */
  @Test
  void theCollectionsReadFromThePrimaryWhateverTheUriSays() {
    try (MongoDbBackend secondary =
        backendFor("readPreference=secondaryPreferred&readConcernLevel=majority&w=majority")) {
      for (MongoCollection<Document> collection : secondary.collections()) {
        assertThat(collection.getReadPreference()).isEqualTo(ReadPreference.primary());
        assertThat(collection.getReadConcern()).isEqualTo(ReadConcern.DEFAULT);
        assertThat(collection.getWriteConcern()).isEqualTo(WriteConcern.MAJORITY);
      }
    }
  }

  /** A caller's client is not changed, but the backend's view of it is. */
  @Test
  void aCallersClientWithASecondaryReadPreferenceIsReadFromThePrimary() {
    try (MongoClient own =
            MongoClients.create(withOptions("readPreference=secondaryPreferred&w=0"));
        MongoDbBackend onOwn =
            MongoDbBackend.builder(Config.DEFAULT).client(own).database(database).build()) {
      for (MongoCollection<Document> collection : onOwn.collections()) {
        assertThat(collection.getReadPreference()).isEqualTo(ReadPreference.primary());
        assertThat(collection.getWriteConcern().isAcknowledged()).isTrue();
      }
      assertThat(own.getReadPreference()).isEqualTo(ReadPreference.secondaryPreferred());
    }
  }

  /** With w=0 the chord trigger and PENDING-if-absent would have no write result to decide by. */
  @Test
  void anUnacknowledgedWriteConcernStillTriggersAChordOnce() {
    try (MongoDbBackend w0 = backendFor("w=0")) {
      String group = Uuids.newGroupUuid();
      w0.initGroup(group, List.of(Uuids.newTaskUuid()));
      assertThat(w0.triggerChord(group, "task_a")).isEqualTo(Trigger.WON);
      assertThat(w0.triggerChord(group, "task_b")).isEqualTo(Trigger.LOST);
      Signature callback = task();
      assertThat(w0.setStatePendingIfAbsent(callback)).isTrue();
      assertThat(w0.setStatePendingIfAbsent(callback)).isFalse();
    }
  }

  /**
   * With w=0 a chord trigger's release would have no write result either, and could not tell the
   * winner whether the trigger went back (nor a member that does not hold it that it did not).
   */
  @Test
  void anUnacknowledgedWriteConcernStillReleasesAChordTriggerOnlyForItsWinner() {
    try (MongoDbBackend w0 = backendFor("w=0")) {
      String group = Uuids.newGroupUuid();
      w0.initGroup(group, List.of(Uuids.newTaskUuid()));
      assertThat(w0.triggerChord(group, "task_a")).isEqualTo(Trigger.WON);
      assertThat(w0.releaseChordTrigger(group, "task_b")).as("held by another").isFalse();
      assertThat(w0.releaseChordTrigger(group, "task_a")).isTrue();
      assertThat(w0.releaseChordTrigger(group, "task_a")).as("released already").isFalse();
      assertThat(w0.triggerChord(group, "task_b")).isEqualTo(Trigger.WON);
    }
  }

  /**
   * With w=0 the duplicate-key error that tells a claimer the key is held would never come back.
   */
  @Test
  void anUnacknowledgedWriteConcernDoesNotHandAUniquenessKeyToTwoTasks() {
    try (MongoDbBackend w0 = backendFor("w=0")) {
      assertThat(w0.claimUnique("k", "task_a", Duration.ofMinutes(5))).isEmpty();
      assertThat(w0.claimUnique("k", "task_b", Duration.ofMinutes(5))).contains("task_a");
    }
  }

  /** The SPI's refusal: a MachineryException caused by an IllegalArgumentException, saying why. */
  @Test
  void aResultOver16MibIsRefusedWithTheReason() {
    Signature big = task();
    backend.setStateStarted(big);
    String value = "x".repeat(OVER_16_MIB);
    assertThatThrownBy(() -> backend.setStateSuccess(big, List.of(TaskResult.of("string", value))))
        .isInstanceOf(MachineryException.class)
        .hasCauseInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("results of task add " + big.uuid())
        .hasMessageContaining("over MongoDB's 16 MiB");
    assertThat(backend.getState(big.uuid()).orElseThrow().state()).isEqualTo(State.STARTED);
  }

  /** The worker takes the refusal as final: FAILURE with the reason, not retries for ever. */
  @Test
  void aWorkerWhoseResultIsOver16MibStoresFailureWithTheReason() {
    Config config = Config.builder().resultBackend(TestEndpoints.mongodbUri()).build();
    try (Server server = Server.builder().config(config).backend(backend).build()) {
      server.registerTask("big", TaskFunction.of(() -> "x".repeat(OVER_16_MIB)));
      server.newWorker("edge-worker", 1).launchAsync();
      var result = server.sendTask(Signature.create("big"));
      assertThatThrownBy(() -> result.get(Duration.ofSeconds(60)))
          .isInstanceOf(TaskFailedException.class)
          .hasMessageContaining("over MongoDB's 16 MiB");
      assertThat(backend.getState(result.signature().uuid()).orElseThrow().state())
          .isEqualTo(State.FAILURE);
    }
  }

  /**
   * A value BSON has no codec for is refused as such, not an escaped CodecConfigurationException.
   */
  @Test
  void aResultValueBsonCannotEncodeIsRefused() {
    Signature odd = task();
    assertThatThrownBy(
            () ->
                backend.setStateSuccess(
                    odd,
                    List.of(TaskResult.of("map[string]interface {}", Map.of("x", new Object())))))
        .isInstanceOf(MachineryException.class)
        .hasCauseInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a value BSON cannot encode");
  }

  /** Java arrays in a value of a type Machinery cannot read are arrays, as in the JSON backends. */
  @Test
  void aJavaArrayInAResultIsStoredAsAnArray() {
    Signature withArray = task();
    backend.setStateSuccess(
        withArray,
        List.of(TaskResult.of("map[string]interface {}", Map.of("ids", new long[] {1, 2}))));
    assertThat(rawTask(withArray.uuid()).getList("results", Document.class))
        .singleElement()
        .satisfies(
            result ->
                assertThat(result.get("value", Document.class).getList("ids", Object.class))
                    .containsExactly(1L, 2L));
  }

  /** An error near 16 MiB would make the FAILURE itself unstorable. */
  @Test
  void aHugeErrorIsCutSoTheFailureIsStored() {
    Signature failing = task();
    String error = "e".repeat(OVER_16_MIB);
    backend.setStateFailure(failing, error);
    String stored = backend.getState(failing.uuid()).orElseThrow().error();
    assertThat(stored)
        .startsWith("e".repeat(1000))
        .endsWith("… (cut: " + OVER_16_MIB + " bytes in all)")
        .hasSizeLessThan(MongoDbBackend.MAX_ERROR_BYTES + 100);
  }

  /**
   * Go inserts a group's meta, so storing it again (sendGroup retried after a timeout whose write
   * had landed) failed for ever on the duplicate _id. It is replaced, as by the Redis and DynamoDB
   * backends: a group sent again runs again, and its chord fires again.
   */
  @Test
  void aGroupStoredAgainStartsAfresh() {
    String group = Uuids.newGroupUuid();
    List<String> members = List.of(Uuids.newTaskUuid(), Uuids.newTaskUuid());
    backend.initGroup(group, members);
    assertThat(backend.triggerChord(group, members.get(0))).isEqualTo(Trigger.WON);
    assertThatCode(() -> backend.initGroup(group, members)).doesNotThrowAnyException();
    assertThat(backend.triggerChord(group, members.get(1))).isEqualTo(Trigger.WON);
  }

  /**
   * A task that ends in FAILURE and runs again (its message came back: the ack was lost) must not
   * keep the FAILURE's delete_at while it runs, or the TTL monitor may delete its state.
   */
  @Test
  void aRunningTaskHasNoExpiry() {
    Signature again = task();
    backend.setStateFailure(again, "oops");
    backend.setStatePending(again);
    assertThat(rawTask(again.uuid())).doesNotContainKey("delete_at");
    for (Runnable write :
        List.<Runnable>of(
            () -> backend.setStateReceived(again),
            () -> backend.setStateStarted(again),
            () -> backend.setStateRetry(again),
            () -> backend.setStateReceivedAsync(again).join(),
            () -> backend.setStateStartedAsync(again).join())) {
      backend.setStateFailure(again, "oops");
      write.run();
      assertThat(rawTask(again.uuid())).doesNotContainKey("delete_at");
    }
  }

  /** A final state after another final state keeps nothing of the first. */
  @Test
  void aFinalStateClearsTheFieldsOfTheOtherOne() {
    Signature again = task();
    backend.setStateFailure(again, "oops");
    backend.setStateSuccess(again, List.of(TaskResult.of("int64", 3L)));
    assertThat(rawTask(again.uuid())).doesNotContainKey("error").containsKey("results");
    backend.setStateFailure(again, "oops again");
    assertThat(rawTask(again.uuid()))
        .doesNotContainKey("results")
        .containsEntry("error", "oops again");
  }

  /** The SPI: failures are MachineryExceptions, the driver's IllegalStateException too. */
  @Test
  void aClosedBackendFailsWithAMachineryException() {
    backend.close();
    assertThatThrownBy(() -> backend.getState(Uuids.newTaskUuid()))
        .isInstanceOf(MachineryException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
  }
}
