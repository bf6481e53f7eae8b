package io.machinery.backend.mongodb;

import com.mongodb.ConnectionString;
import com.mongodb.ErrorCategory;
import com.mongodb.MongoClientSettings;
import com.mongodb.MongoException;
import com.mongodb.MongoWriteException;
import com.mongodb.ReadConcern;
import com.mongodb.ReadPreference;
import com.mongodb.WriteConcern;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.MongoDatabase;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.IndexOptions;
import com.mongodb.client.model.Indexes;
import com.mongodb.client.model.Projections;
import com.mongodb.client.model.ReplaceOptions;
import com.mongodb.client.model.UpdateOptions;
import com.mongodb.client.model.Updates;
import com.mongodb.client.result.UpdateResult;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.StateNotFoundException;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.wire.ErrorText;
import io.machinery.wire.LogText;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.bson.BsonMaximumSizeExceededException;
import org.bson.Document;
import org.bson.codecs.configuration.CodecConfigurationException;
import org.bson.conversions.Bson;
import org.jspecify.annotations.Nullable;

/**
 * Go Machinery's MongoDB result backend (spec §4.4), for Java and Go workers and clients sharing a
 * MongoDB.
 *
 * <pre>{@code
 * Config config = Config.builder().resultBackend("mongodb://127.0.0.1:27017").build();
 * try (MongoDbBackend backend = MongoDbBackend.create(config)) {
 *   // hand it to Server.builder().backend(backend)
 * }
 * // or with a client of your own (Go's cnf.MongoDB.Client and .Database); the backend leaves it open:
 * MongoDbBackend backend = MongoDbBackend.builder(config).client(myClient).database("jobs").build();
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Go's documents.</b> Database {@code machinery} unless one is given (the database in the
 *       URI is ignored, as in Go); collections {@code tasks} and {@code group_metas}. Every state
 *       write is Go's {@code updateOne({_id: uuid}, {$set: …}, upsert)}: PENDING sets {@code state,
 *       task_name, created_at}; RECEIVED, STARTED, RETRY only {@code state} (so name and creation
 *       time stay, as in Go); SUCCESS {@code state, results, delete_at}; FAILURE {@code state,
 *       error, delete_at}. Results are {@code {type, value}} documents with the BSON types Go's
 *       encoder gives the Go values ({@link BsonCodec}). A group is {@code {_id, task_uuids,
 *       chord_triggered, lock, created_at}}, replaced when stored again (Go inserts, and fails on
 *       the duplicate for ever).
 *   <li><b>Beyond Go: no stale fields.</b> A task can run again after a final state (its message
 *       came back). So PENDING, RECEIVED, STARTED and RETRY also {@code $unset} {@code delete_at}
 *       (else the TTL monitor may delete a running task's state), SUCCESS unsets {@code error} and
 *       FAILURE {@code results}. Go's reader takes a missing field as its zero value.
 *   <li><b>Reads from the primary, acknowledged writes.</b> The collections read from the primary
 *       with the default read concern, whatever the URI or a caller's client says: the chord path
 *       reads its own writes (SUCCESS, then {@link #groupCompleted}), and a secondary may not have
 *       them yet, so the last member would see its group incomplete and the chord never fire.
 *       Writes use the client's write concern (majority stays majority) but at least {@code w=1}:
 *       an unacknowledged write has no result, and {@link #triggerChord}, {@link
 *       #releaseChordTrigger}, {@link #setStatePendingIfAbsent} and {@link #claimUnique} decide by
 *       the write's result.
 *   <li><b>What MongoDB cannot hold.</b> Results over a document's 16 MiB, or a value BSON cannot
 *       encode, fail with a {@code MachineryException} whose cause is an {@code
 *       IllegalArgumentException}: the worker then stores FAILURE with the reason instead of
 *       retrying. A FAILURE is always storable: its error is cut to {@value #MAX_ERROR_BYTES}
 *       bytes.
 *   <li><b>Expiry.</b> {@code tasks} has Go's TTL index {@code {delete_at: 1}, expireAfterSeconds
 *       0} (created at start-up; creating it again is a no-op). Go computes {@code delete_at} from
 *       {@code ResultsExpireIn} without its 0 → 3600 default, so a zero deletes results within the
 *       TTL monitor's minute; here the default applies, as for every other backend. Group metas
 *       never expire, as in Go.
 *   <li><b>Fewer round trips than Go.</b> RECEIVED and STARTED are written in the background while
 *       the task runs ({@link StateWriteChain}); one replaced by a later state before it was sent
 *       is never sent, so a short task costs one write instead of three, and states still only move
 *       forward.
 *   <li><b>Beyond Go: a chord fires once.</b> {@link #triggerChord} is Go's conditional update
 *       {@code ({_id, chord_triggered: false}) → $set chord_triggered: true}, but only the caller
 *       whose update modified the document wins (Go returns true to every caller, issue #232). Go
 *       workers sharing the database still run that unchecked code, so only Java workers are held
 *       to exactly once. {@link #releaseChordTrigger} is the same update undone, conditional on the
 *       winner too ({@code chord_triggered: true} and {@value #CHORD_WINNER} equal to the member):
 *       it sets the flag back to Go's {@code false} and unsets the winner in one step.
 *   <li><b>Beyond Go: unique tasks.</b> {@link #claimUnique} keeps uniqueness keys in the
 *       collection {@value #UNIQUE_KEYS}: an upsert that matches only a lapsed claim, so a standing
 *       claim makes it fail on the unique {@code _id} (atomic across processes), with a TTL index
 *       to delete lapsed claims; a release deletes only its holder's claim.
 *   <li><b>Beyond Go: group order.</b> Group states are read with one {@code $in} query and
 *       returned in the group's task order (Go returns them in whatever order the server yields,
 *       permuting chord arguments); a missing state fails with "Task not found" instead of silently
 *       shortening the list, in {@link #groupCompleted} too (where Go's count never reaches the
 *       group's size, so the chord never fires).
 * </ul>
 *
 * <p>Thread-safe; calls block until MongoDB has answered, at most the operation timeout ({@link
 * #DEFAULT_OPERATION_TIMEOUT} unless the URI has {@code timeoutMS}; a client passed in keeps its
 * own settings), then fail with a {@code MachineryException} that says what timed out. Whoever
 * builds a backend closes it; a client passed in through the builder stays open, as it belongs to
 * the caller.
 *
 * <p>Size: Go's backend interface, each method a short translation of Go's MongoDB backend over the
 * same two collections, plus the BSON mapping those methods share.
 */
public final class MongoDbBackend implements Backend {
  /** The group document's field naming the member that triggered its chord (Java's only). */
  static final String CHORD_WINNER = "machinery_chord_winner";

  /** Go's database when {@code cnf.MongoDB} is nil. */
  public static final String DEFAULT_DATABASE = "machinery";

  static final String TASKS = "tasks";
  static final String GROUP_METAS = "group_metas";

  /** Uniqueness keys (Java's only): {@code {_id: key, task: holder uuid, until: date}}. */
  static final String UNIQUE_KEYS = "unique_keys";

  static final String UNIQUE_HOLDER = "task";
  static final String UNIQUE_UNTIL = "until";

  /** Go's connect timeout ({@code context.WithTimeout(…, 10*time.Second)}). */
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

  /**
   * How long one operation may take (the driver's client-side operation timeout, {@code timeoutMS};
   * a {@code timeoutMS} in the URI replaces it). Go sets none, so a hung server or a connection
   * into a dead host held a worker's slot until TCP gave up (hours); the Redis backend's command
   * timeout is the same 15 s.
   */
  public static final Duration DEFAULT_OPERATION_TIMEOUT = Duration.ofSeconds(15);

  /**
   * The longest error text a FAILURE stores, in UTF-8 bytes (well inside a document's 16 MiB); a
   * longer one is cut ({@link ErrorText#cut}).
   */
  static final int MAX_ERROR_BYTES = 1024 * 1024;

  /**
   * MongoDB's server error codes for a document over 16 MiB (BSONObjectTooLarge, and after an
   * update).
   */
  private static final Set<Integer> TOO_LARGE_CODES = Set.of(10334, 17419);

  private static final UpdateOptions UPSERT = new UpdateOptions().upsert(true);

  private final Clock clock;
  private final MongoClient client;
  private final boolean ownsClient;
  private final String database;
  private final MongoCollection<Document> tasks;
  private final MongoCollection<Document> groups;
  private final MongoCollection<Document> uniqueKeys;
  private volatile boolean uniqueKeysIndexed;
  private final long expireSeconds;

  /**
   * The background RECEIVED/STARTED writes of the task the current thread (a worker's task thread)
   * runs.
   */
  private final ThreadLocal<@Nullable StateWriteChain> chains = new ThreadLocal<>();

  private MongoDbBackend(Builder b) {
    this.clock = b.clock;
    this.expireSeconds = b.config.effectiveResultsExpireIn();
    this.database = b.database;
    this.ownsClient = b.client == null;
    this.client =
        b.client != null ? b.client : connect(b.url != null ? b.url : b.config.resultBackend());
    try {
      MongoDatabase db = client.getDatabase(database);
      this.tasks = collection(db, TASKS);
      this.groups = collection(db, GROUP_METAS);
      this.uniqueKeys = collection(db, UNIQUE_KEYS);
      call(
          "create the delete_at TTL index",
          () ->
              tasks.createIndex(
                  Indexes.ascending("delete_at"),
                  new IndexOptions().background(true).expireAfter(0L, TimeUnit.SECONDS)));
    } catch (RuntimeException e) {
      if (ownsClient) {
        client.close();
      }
      throw e;
    }
  }

  /**
   * A backend for {@link Config#resultBackend()} ({@code mongodb://…}; a bare {@code host:port}
   * works too).
   */
  public static MongoDbBackend create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  /**
   * Go's dial: {@code mongodb://} is prepended when the URI has neither it nor {@code
   * mongodb+srv://}.
   */
  static String normalizeUri(String uri) {
    return uri.startsWith("mongodb://") || uri.startsWith("mongodb+srv://")
        ? uri
        : "mongodb://" + uri;
  }

  private static MongoClient connect(String uri) {
    return MongoClients.create(settings(uri));
  }

  /** The client settings for {@code uri}: Go's connect timeout, and the operation timeout. */
  static MongoClientSettings settings(String uri) {
    ConnectionString connection;
    try {
      connection = new ConnectionString(normalizeUri(uri));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "not a MongoDB URI: " + redact(uri) + " (" + e.getMessage() + ")", e);
    }
    MongoClientSettings.Builder settings =
        MongoClientSettings.builder()
            .applyConnectionString(connection)
            .applyToSocketSettings(
                s -> s.connectTimeout((int) CONNECT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
            .applyToClusterSettings(
                s -> s.serverSelectionTimeout(CONNECT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
    if (connection.getTimeout() == null) {
      // the URI's timeoutMS (client-side operation timeout): a timed-out operation fails with
      // MongoOperationTimeoutException and its connection is closed
      settings.timeout(DEFAULT_OPERATION_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }
    return settings.build();
  }

  /**
   * A collection that reads from the primary with the default read concern and writes at least
   * acknowledged, whatever the URI or the caller's client says (see the class's design notes).
   */
  private static MongoCollection<Document> collection(MongoDatabase db, String name) {
    MongoCollection<Document> collection =
        db.getCollection(name)
            .withReadPreference(ReadPreference.primary())
            .withReadConcern(ReadConcern.DEFAULT);
    return collection.getWriteConcern().isAcknowledged()
        ? collection // w=1, majority, a tag set: kept as the caller chose
        : collection.withWriteConcern(WriteConcern.ACKNOWLEDGED);
  }

  /** The backend's collections as it uses them (tasks, group metas, uniqueness keys); for tests. */
  List<MongoCollection<Document>> collections() {
    return List.of(tasks, groups, uniqueKeys);
  }

  private static String redact(String uri) {
    return uri.replaceAll("//[^@/]*@", "//***@");
  }

  // ---------------------------------------------------------------------------------------------
  // states

  @Override
  public void setStatePending(Signature signature) {
    writeState(
        signature,
        Updates.combine(pendingFields(signature, Updates::set), Updates.unset("delete_at")));
  }

  /** PENDING where the task has no document: an upsert that only sets fields on insert. */
  @Override
  public boolean setStatePendingIfAbsent(Signature signature) {
    return call(
                "store PENDING of " + signature.uuid(),
                () ->
                    tasks.updateOne(
                        Filters.eq("_id", signature.uuid()),
                        pendingFields(signature, Updates::setOnInsert),
                        UPSERT))
            .getUpsertedId()
        != null;
  }

  @Override
  public boolean storesPendingIfAbsent() {
    return true;
  }

  /** A PENDING state's fields (Go's NewPendingTaskState), each written by {@code how}. */
  private Bson pendingFields(
      Signature signature, java.util.function.BiFunction<String, Object, Bson> how) {
    return Updates.combine(
        how.apply("state", State.PENDING.name()),
        how.apply("task_name", signature.name()),
        how.apply("created_at", Date.from(clock.instant())));
  }

  @Override
  public void setStateReceived(Signature signature) {
    endChain(signature);
    writeState(signature, runningState(State.RECEIVED.name()));
  }

  @Override
  public void setStateStarted(Signature signature) {
    endChain(signature);
    writeState(signature, runningState(State.STARTED.name()));
  }

  /** RECEIVED in the background: starts this thread's {@link StateWriteChain} for the task. */
  @Override
  public CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    StateWriteChain chain =
        new StateWriteChain(signature.uuid(), state -> writeState(signature, runningState(state)));
    chains.set(chain);
    return chain.request(State.RECEIVED.name());
  }

  /** STARTED in the background, after (or instead of, if it was not sent yet) RECEIVED. */
  @Override
  public CompletableFuture<Void> setStateStartedAsync(Signature signature) {
    StateWriteChain chain = chains.get();
    if (chain == null || !chain.taskUuid().equals(signature.uuid())) {
      chain =
          new StateWriteChain(
              signature.uuid(), state -> writeState(signature, runningState(state)));
      chains.set(chain);
    }
    return chain.request(State.STARTED.name());
  }

  /** Before a state written in the caller's thread: the background writes of the task end first. */
  private void endChain(Signature signature) {
    StateWriteChain chain = chains.get();
    if (chain != null && chain.taskUuid().equals(signature.uuid())) {
      chains.remove();
      chain.finish();
    }
  }

  @Override
  public void setStateRetry(Signature signature) {
    endChain(signature);
    writeState(signature, runningState(State.RETRY.name()));
  }

  /**
   * RECEIVED, STARTED or RETRY: the state, and no {@code delete_at} (a task run again after a final
   * state must not be deleted by the TTL monitor while it runs).
   */
  private static Bson runningState(String state) {
    return Updates.combine(Updates.set("state", state), Updates.unset("delete_at"));
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    List<Document> encoded;
    try {
      encoded = BsonCodec.toBson(results);
    } catch (RuntimeException e) {
      throw new MachineryException(
          "cannot store the results of "
              + LogText.of(signature.name())
              + " "
              + signature.uuid()
              + " in MongoDB: "
              + e.getMessage(),
          e);
    }
    endChain(signature);
    Bson update =
        Updates.combine(
            Updates.set("state", State.SUCCESS.name()),
            Updates.set("results", encoded),
            Updates.unset("error"), // of a FAILURE before, when the task ran again
            Updates.set("delete_at", deleteAt()));
    call(
        "store the results of task " + LogText.of(signature.name()) + " " + signature.uuid(),
        () -> tasks.updateOne(Filters.eq("_id", signature.uuid()), update, UPSERT));
  }

  /** FAILURE with its error, cut to {@value #MAX_ERROR_BYTES} bytes, and no earlier results. */
  @Override
  public void setStateFailure(Signature signature, String error) {
    endChain(signature);
    writeState(
        signature,
        Updates.combine(
            Updates.set("state", State.FAILURE.name()),
            Updates.set("error", ErrorText.cut(error, MAX_ERROR_BYTES)),
            Updates.unset("results"), // of a SUCCESS before, when the task ran again
            Updates.set("delete_at", deleteAt())));
  }

  private Date deleteAt() {
    return Date.from(clock.instant().plusSeconds(expireSeconds));
  }

  private void writeState(Signature signature, Bson update) {
    call(
        "store the state of " + signature.uuid(),
        () -> tasks.updateOne(Filters.eq("_id", signature.uuid()), update, UPSERT));
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    Document doc =
        call(
            "read the state of " + taskUuid, () -> tasks.find(Filters.eq("_id", taskUuid)).first());
    return doc == null ? Optional.empty() : Optional.of(BsonCodec.taskState(doc));
  }

  @Override
  public void purgeState(String taskUuid) {
    call("delete the state of " + taskUuid, () -> tasks.deleteOne(Filters.eq("_id", taskUuid)));
  }

  // ---------------------------------------------------------------------------------------------
  // groups

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    Document meta =
        new Document("_id", groupUuid)
            .append("task_uuids", List.copyOf(taskUuids))
            .append("chord_triggered", false)
            .append("lock", false)
            .append("created_at", Date.from(clock.instant()));
    // Go inserts, so storing a group again (sendGroup retried after a timeout whose write had
    // landed) fails for ever on the duplicate _id. Replaced instead, as the Redis and DynamoDB
    // backends do: sending a group again means running it again, so its chord starts afresh
    // (keeping a triggered flag would make a re-sent group's chord never fire).
    call(
        "store the group " + groupUuid,
        () ->
            groups.replaceOne(
                Filters.eq("_id", groupUuid), meta, new ReplaceOptions().upsert(true)));
  }

  /**
   * Whether every task of the group is SUCCESS or FAILURE: two queries, the group's task list and
   * the states of those tasks ({@code _id} and {@code state} only).
   *
   * @throws StateNotFoundException "Group not found: …" when the meta is missing, "Task not found:
   *     …" for the first member (in group order) whose state is gone (expired or purged); Go
   *     answers false then, and the chord never fires
   */
  @Override
  public boolean groupCompleted(String groupUuid, int groupTaskCount) {
    List<String> uuids = taskUuids(groupUuid);
    Map<String, String> stateByUuid = new HashMap<>();
    for (Document doc :
        call(
            "read the states of group " + groupUuid,
            () ->
                tasks
                    .find(Filters.in("_id", uuids))
                    .projection(Projections.include("_id", "state"))
                    .into(new ArrayList<>()))) {
      stateByUuid.put(String.valueOf(doc.get("_id")), String.valueOf(doc.get("state")));
    }
    int completed = 0;
    for (String uuid : uuids) {
      String state = stateByUuid.get(uuid);
      if (state == null) {
        throw StateNotFoundException.task(uuid, "group " + groupUuid);
      }
      if (State.SUCCESS.name().equals(state) || State.FAILURE.name().equals(state)) {
        completed++;
      }
    }
    return completed == groupTaskCount;
  }

  /**
   * The states of the group's tasks, in the order of the group.
   *
   * @throws MachineryException when the meta or a state is missing
   */
  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount) {
    List<String> uuids = taskUuids(groupUuid);
    Map<String, Document> byUuid = new HashMap<>();
    for (Document doc :
        call(
            "read the states of group " + groupUuid,
            () -> tasks.find(Filters.in("_id", uuids)).into(new ArrayList<>()))) {
      byUuid.put(String.valueOf(doc.get("_id")), doc);
    }
    List<TaskState> states = new ArrayList<>(uuids.size());
    for (String uuid : uuids) {
      Document doc = byUuid.get(uuid);
      if (doc == null) {
        throw StateNotFoundException.task(uuid, "group " + groupUuid);
      }
      states.add(BsonCodec.taskState(doc));
    }
    return states;
  }

  private List<String> taskUuids(String groupUuid) {
    Document meta =
        call(
            "read the group " + groupUuid,
            () ->
                groups
                    .find(Filters.eq("_id", groupUuid))
                    .projection(Projections.include("task_uuids"))
                    .first());
    if (meta == null) {
      throw StateNotFoundException.group(groupUuid);
    }
    List<String> uuids = new ArrayList<>();
    if (meta.get("task_uuids") instanceof List<?> list) {
      for (Object item : list) {
        uuids.add(String.valueOf(item));
      }
    }
    return uuids;
  }

  /**
   * Go's conditional update of {@code chord_triggered}; true only for the caller whose update
   * modified the document, so exactly one caller wins per group.
   *
   * @throws MachineryException "Group not found: …" when there is no such group
   */
  @Override
  public boolean triggerChord(String groupUuid) {
    return triggerChord(groupUuid, "") == Trigger.WON;
  }

  /**
   * {@link #triggerChord(String)}, keeping the winning member's UUID in the group's document, field
   * {@value #CHORD_WINNER} (Go's decoder skips fields it does not know), in the same update as the
   * flag.
   */
  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    UpdateResult result =
        call(
            "trigger the chord of group " + groupUuid,
            () ->
                groups.updateOne(
                    Filters.and(Filters.eq("_id", groupUuid), Filters.eq("chord_triggered", false)),
                    memberUuid.isEmpty()
                        ? Updates.set("chord_triggered", true)
                        : Updates.combine(
                            Updates.set("chord_triggered", true),
                            Updates.set(CHORD_WINNER, memberUuid))));
    if (result.getModifiedCount() == 1) {
      return Trigger.WON;
    }
    // the rare path: already triggered, or no group at all (which Go would report as triggered)
    Document meta =
        call(
            "read the group " + groupUuid,
            () ->
                groups
                    .find(Filters.eq("_id", groupUuid))
                    .projection(Projections.include("_id", CHORD_WINNER))
                    .first());
    if (meta == null) {
      throw StateNotFoundException.group(groupUuid);
    }
    return !memberUuid.isEmpty() && memberUuid.equals(meta.get(CHORD_WINNER))
        ? Trigger.WON_BEFORE
        : Trigger.LOST;
  }

  /**
   * The trigger's update undone, in one conditional update: it matches the group only while {@code
   * chord_triggered} is true and {@value #CHORD_WINNER} is {@code memberUuid}, sets {@code
   * chord_triggered} back to false and unsets {@value #CHORD_WINNER}; true only when it modified
   * the document. A trigger held by a Go worker (or won without a member) keeps no winner, so it is
   * never released; a missing group matches nothing.
   */
  @Override
  public boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    if (memberUuid.isEmpty()) {
      return false; // no member holds a trigger won without one
    }
    UpdateResult result =
        call(
            "release the chord trigger of group " + groupUuid,
            () ->
                groups.updateOne(
                    Filters.and(
                        Filters.eq("_id", groupUuid),
                        Filters.eq("chord_triggered", true),
                        Filters.eq(CHORD_WINNER, memberUuid)),
                    Updates.combine(
                        Updates.set("chord_triggered", false), Updates.unset(CHORD_WINNER))));
    return result.getModifiedCount() == 1;
  }

  @Override
  public boolean releasesChordTriggers() {
    return true;
  }

  @Override
  public void purgeGroupMeta(String groupUuid) {
    call("delete the group " + groupUuid, () -> groups.deleteOne(Filters.eq("_id", groupUuid)));
  }

  // -------------------------------------------------------------------------------------------
  // uniqueness keys

  /**
   * One upsert that only matches a lapsed claim: it inserts the key, or takes over a claim whose
   * time is up, or fails on the key's unique {@code _id} while a claim stands (atomic across
   * processes); then the holder is read. Times are this process's clock, as {@code delete_at}.
   */
  @Override
  public Optional<String> claimUnique(String key, String taskUuid, Duration ttl) {
    Objects.requireNonNull(key, "key");
    ensureUniqueKeysIndex();
    for (int attempt = 1; ; attempt++) {
      Date now = new Date(clock.millis());
      Date until = new Date(now.getTime() + Math.max(1, ttl.toMillis()));
      boolean claimed =
          call(
              "claim the uniqueness key " + LogText.of(key),
              () -> {
                try {
                  uniqueKeys.updateOne(
                      Filters.and(Filters.eq("_id", key), Filters.lte(UNIQUE_UNTIL, now)),
                      Updates.combine(
                          Updates.set(UNIQUE_HOLDER, taskUuid), Updates.set(UNIQUE_UNTIL, until)),
                      UPSERT);
                  return true;
                } catch (MongoWriteException e) {
                  if (e.getError().getCategory() != ErrorCategory.DUPLICATE_KEY) {
                    throw e;
                  }
                  return false; // a claim stands
                }
              });
      if (claimed) {
        return Optional.empty();
      }
      Document held =
          call(
              "read the holder of the uniqueness key " + LogText.of(key),
              () -> uniqueKeys.find(Filters.eq("_id", key)).first());
      if (held != null
          && held.get(UNIQUE_UNTIL) instanceof Date heldUntil
          && heldUntil.after(now)
          && held.get(UNIQUE_HOLDER) instanceof String holder) {
        return Optional.of(holder);
      }
      if (attempt == 3) { // released or lapsed between the two calls, three times over
        throw new MachineryException(
            "MongoDB: the uniqueness key "
                + LogText.of(key)
                + " kept changing hands while claiming it");
      }
    }
  }

  /** A delete that matches only the holder's claim. */
  @Override
  public void releaseUnique(String key, String taskUuid) {
    call(
        "release the uniqueness key " + LogText.of(key),
        () ->
            uniqueKeys.deleteOne(
                Filters.and(Filters.eq("_id", key), Filters.eq(UNIQUE_HOLDER, taskUuid))));
  }

  /**
   * The TTL index that deletes lapsed claims, made on the first claim (not at start-up: a
   * deployment that never sends unique tasks gets no collection of them).
   */
  private void ensureUniqueKeysIndex() {
    if (!uniqueKeysIndexed) {
      call(
          "create the " + UNIQUE_UNTIL + " TTL index of " + UNIQUE_KEYS,
          () ->
              uniqueKeys.createIndex(
                  Indexes.ascending(UNIQUE_UNTIL),
                  new IndexOptions().expireAfter(0L, TimeUnit.SECONDS)));
      uniqueKeysIndexed = true;
    }
  }

  // -------------------------------------------------------------------------------------------
  // internals

  /**
   * Runs one driver call. Its failures become MachineryExceptions saying what failed; a document
   * MongoDB cannot hold (over 16 MiB, or with a value BSON cannot encode) becomes one whose cause
   * is an IllegalArgumentException, the SPI's refusal: trying again cannot help, so the worker
   * stores FAILURE with the reason instead of retrying.
   */
  private <T> T call(String what, Supplier<T> action) {
    try {
      return action.get();
    } catch (MongoException e) {
      if (TOO_LARGE_CODES.contains(e.getCode())) {
        throw refused(what, "the document would be over MongoDB's 16 MiB limit", e);
      }
      throw failed(what, e);
    } catch (BsonMaximumSizeExceededException e) {
      throw refused(what, "the document would be over MongoDB's 16 MiB limit", e);
    } catch (CodecConfigurationException e) {
      throw refused(what, "a value BSON cannot encode", e);
    } catch (IllegalArgumentException e) {
      throw refused(what, "the driver refused the document", e);
    } catch (RuntimeException e) { // IllegalStateException after close, a BsonException
      throw failed(what, e);
    }
  }

  private MachineryException failed(String what, RuntimeException e) {
    return new MachineryException(
        "MongoDB: could not "
            + what
            + " in database "
            + database
            + ": "
            + LogText.of(e.getMessage(), 1000), // a write error may quote a key or value whole
        e);
  }

  private MachineryException refused(String what, String why, RuntimeException e) {
    String message =
        "MongoDB cannot " + what + ": " + why + " (" + LogText.of(e.getMessage()) + ")";
    return new MachineryException(message, new IllegalArgumentException(message, e));
  }

  /** Closes the client if this backend created it; idempotent. */
  @Override
  public void close() {
    if (ownsClient) {
      client.close();
    }
  }

  @Override
  public String toString() {
    return "MongoDbBackend{" + database + ", expires in " + Duration.ofSeconds(expireSeconds) + "}";
  }

  /** Builds a {@link MongoDbBackend}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Clock clock = Clock.systemUTC();
    private @Nullable String url;
    private @Nullable MongoClient client;
    private String database = DEFAULT_DATABASE;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /** The clock for {@code created_at} and {@code delete_at}; default the system UTC clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * The MongoDB URI; default {@link Config#resultBackend()}. Ignored when a {@link #client} is
     * given.
     */
    public Builder url(String value) {
      url = Objects.requireNonNull(value, "url");
      return this;
    }

    /**
     * A client of the caller's (Go's {@code cnf.MongoDB.Client}), used instead of connecting to the
     * URL. The backend does not close it.
     */
    public Builder client(MongoClient value) {
      client = Objects.requireNonNull(value, "client");
      return this;
    }

    /** The database (Go's {@code cnf.MongoDB.Database}); default {@value #DEFAULT_DATABASE}. */
    public Builder database(String value) {
      Objects.requireNonNull(value, "database");
      if (value.isBlank()) {
        throw new IllegalArgumentException(
            "the MongoDB database name is blank; leave it unset for \"" + DEFAULT_DATABASE + "\"");
      }
      database = value;
      return this;
    }

    /**
     * Connects (unless a client was given), creates the TTL index and builds the backend.
     *
     * @throws IllegalArgumentException when the URL is not a MongoDB URI
     * @throws MachineryException when MongoDB cannot be reached within 10 s
     */
    public MongoDbBackend build() {
      return new MongoDbBackend(this);
    }
  }

  /**
   * The provider that lets {@link io.machinery.Machinery#connect(io.machinery.config.Config,
   * io.machinery.spi.ComponentProvider...)} build this component from a config's URL (schemes
   * chosen by URL only, never by a class name).
   *
   * @return the provider, stateless and shared
   */
  public static io.machinery.spi.ComponentProvider provider() {
    return MongoDbBackendProvider.INSTANCE;
  }
}
