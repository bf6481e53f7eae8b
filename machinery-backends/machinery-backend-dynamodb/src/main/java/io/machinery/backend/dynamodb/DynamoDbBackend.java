package io.machinery.backend.dynamodb;

import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.StateNotFoundException;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.spi.Backend;
import io.machinery.wire.ErrorText;
import io.machinery.wire.LogText;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BatchGetItemResponse;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.DynamoDbException;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.KeyType;
import software.amazon.awssdk.services.dynamodb.model.KeysAndAttributes;
import software.amazon.awssdk.services.dynamodb.model.ResourceInUseException;
import software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType;

/**
 * Go Machinery's DynamoDB result backend ({@code v2/backends/dynamodb}) on AWS SDK v2.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Go's items.</b> Tables {@code task_states} (key {@code TaskUUID}) and {@code
 *       group_metas} (key {@code GroupUUID}), names from {@link DynamoDbConfig}; attribute names
 *       are Go's field names. PENDING is a {@code PutItem} of the whole state; later states are
 *       {@code UpdateItem SET State} (+ {@code Results}, {@code Error}, {@code TTL}) as Go writes
 *       them, so TaskName and CreatedAt stay. Results are {@code L[M{Type, Value: S(%v)}]} like
 *       Go's (values as text), read back by their Type ({@link GoValues}; a Go type without a Java
 *       mapping keeps its text). The final states and group metas carry {@code TTL} = now + {@code
 *       ResultsExpireIn} (enable DynamoDB TTL on that attribute to expire them). One round trip per
 *       state write; a group member's RETRY, SUCCESS and FAILURE also push its group's {@code TTL}
 *       out (a second one), so a group whose members finish after {@code ResultsExpireIn} keeps its
 *       meta (Go lets it expire: "Group not found", Go issue #352). SUCCESS clears an earlier run's
 *       {@code Error} and FAILURE its {@code Results} (Go leaves them beside the new state).
 *   <li><b>400 KB items.</b> Results that do not fit in an item are refused ({@link
 *       IllegalArgumentException}: the worker then stores FAILURE with the reason instead of
 *       leaving the task at STARTED); an error text is cut to {@value #MAX_ERROR_BYTES} bytes, so a
 *       FAILURE always fits. A group meta holds its members' UUIDs in one item, as Go's does: about
 *       9,000 members at most.
 *   <li><b>Reads</b> are strongly consistent (Go issue #525). A group's states come from {@code
 *       BatchGetItem} in chunks of 100, unprocessed keys retried with back-off (Go's check is
 *       inverted, so it drops them), and are returned in group order (BatchGetItem's order is
 *       arbitrary); completion is counted from a projection of just the states.
 *   <li><b>Chords fire once.</b> {@link #triggerChord} is one conditional {@code UpdateItem}: set
 *       {@code ChordTriggered} if it is false and Go's {@code Lock} is not held; exactly one caller
 *       succeeds, however many Java workers race. While a Go worker holds {@code Lock} (Go's
 *       read-lock-set protocol) the call waits, as Go does, and then sees the flag Go set. Java
 *       workers fire once among themselves; Go's protocol is not atomic, so two Go workers can both
 *       fire, and so can a Go worker that read the flag before a Java worker set it. {@link
 *       #releaseChordTrigger} is one conditional {@code UpdateItem} too: the flag back to false and
 *       the winner replaced by a token of the call that is no member's (so the SDK's retry of an
 *       applied release still answers true), refused while a Go worker holds {@code Lock}.
 *   <li><b>Beyond Go: unique tasks.</b> {@link #claimUnique} puts a claim item into the task table
 *       on condition that none stands (atomic across processes); a release deletes it on condition
 *       that its task holds it.
 *   <li><b>Tables</b> are never created implicitly; {@link #createTables} is the opt-in helper.
 * </ul>
 *
 * <p>Thread-safe. Whoever builds a backend closes it; it closes the {@link DynamoDbClient} only
 * when it built it.
 *
 * <p>Size: Go's backend interface, each method a short translation of Go's DynamoDB backend over
 * the same two tables, plus the attribute mapping those methods share.
 */
public final class DynamoDbBackend implements Backend {
  private static final Logger log = LoggerFactory.getLogger(DynamoDbBackend.class);

  /** The group item's attribute naming the member that triggered its chord (Java's only). */
  static final String CHORD_WINNER = "MachineryChordWinner";

  /**
   * What starts the token a release leaves in {@value #CHORD_WINNER} (no member's UUID does): the
   * call's own mark, so that the SDK's retry of a release whose reply was lost recognises it.
   */
  static final String RELEASE_PREFIX = "machinery_released_";

  /** What starts the task-table key of a uniqueness key's claim (no task UUID does). */
  static final String UNIQUE_PREFIX = "machinery_unique:";

  /** The claim item's attribute naming the task that holds the key. */
  static final String UNIQUE_HOLDER = "MachineryUniqueHolder";

  /** The claim item's attribute holding when the claim lapses, epoch milliseconds. */
  static final String UNIQUE_UNTIL = "MachineryUniqueUntil";

  /** The longest error text a FAILURE stores, in UTF-8 bytes; a longer one is cut. */
  static final int MAX_ERROR_BYTES = 64 * 1024;

  /** BatchGetItem's largest request. */
  static final int BATCH_LIMIT = 100;

  static final int BATCH_ATTEMPTS = 8;

  /** How long {@link #triggerChord} waits for a Go worker's {@code Lock} before it gives up. */
  static final Duration LOCK_PATIENCE = Duration.ofSeconds(30);

  private final Config config;
  private final DynamoDbClient client;
  private final boolean ownsClient;
  private final Clock clock;
  private final String taskTable;
  private final String groupTable;

  private DynamoDbBackend(Builder b, DynamoDbClient client, boolean ownsClient) {
    this.config = b.config;
    this.client = client;
    this.ownsClient = ownsClient;
    this.clock = b.clock;
    this.taskTable = b.config.dynamoDb().taskStatesTable();
    this.groupTable = b.config.dynamoDb().groupMetasTable();
  }

  /**
   * A backend with a client built from {@code config.resultBackend()} (see {@link
   * AwsClients#forDynamoDbBackend}).
   */
  public static DynamoDbBackend create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  /**
   * Creates Go's two tables (on-demand billing) if they do not exist and waits until they are
   * active. An explicit opt-in: the backend never creates tables by itself. Enabling TTL on
   * attribute {@code TTL} is left to the operator ({@code UpdateTimeToLive}).
   */
  public static void createTables(DynamoDbClient client, DynamoDbConfig tables) {
    createTable(client, tables.taskStatesTable(), Items.TASK_UUID);
    createTable(client, tables.groupMetasTable(), Items.GROUP_UUID);
  }

  private static void createTable(DynamoDbClient client, String table, String key) {
    try {
      client.createTable(
          r ->
              r.tableName(table)
                  .billingMode(BillingMode.PAY_PER_REQUEST)
                  .attributeDefinitions(
                      AttributeDefinition.builder()
                          .attributeName(key)
                          .attributeType(ScalarAttributeType.S)
                          .build())
                  .keySchema(
                      KeySchemaElement.builder().attributeName(key).keyType(KeyType.HASH).build()));
    } catch (ResourceInUseException e) {
      // exists already
    } catch (SdkException e) {
      throw new MachineryException(
          "DynamoDB: could not create table " + table + ": " + e.getMessage(), e);
    }
    client.waiter().waitUntilTableExists(r -> r.tableName(table));
  }

  private long expiresAt() {
    return clock.instant().getEpochSecond() + config.effectiveResultsExpireIn();
  }

  private <T> T call(String what, java.util.function.Supplier<T> call) {
    try {
      return call.get();
    } catch (SdkException e) {
      throw new MachineryException("DynamoDB: could not " + what + ": " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // states

  @Override
  public void setStatePending(Signature signature) {
    Map<String, AttributeValue> item = pendingItem(signature);
    call(
        "store PENDING of " + signature.uuid(),
        () -> client.putItem(r -> r.tableName(taskTable).item(item)));
  }

  /** PENDING where the task has no item: a put on condition {@code attribute_not_exists}. */
  @Override
  public boolean setStatePendingIfAbsent(Signature signature) {
    Map<String, AttributeValue> item = pendingItem(signature);
    try {
      call(
          "store PENDING of " + signature.uuid(),
          () ->
              client.putItem(
                  r ->
                      r.tableName(taskTable)
                          .item(item)
                          .conditionExpression("attribute_not_exists(#U)")
                          .expressionAttributeNames(Map.of("#U", Items.TASK_UUID))));
      return true;
    } catch (MachineryException e) {
      if (e.getCause() instanceof ConditionalCheckFailedException) {
        return false;
      }
      throw e;
    }
  }

  @Override
  public boolean storesPendingIfAbsent() {
    return true;
  }

  private Map<String, AttributeValue> pendingItem(Signature signature) {
    return Items.pending(
        signature.uuid(),
        signature.name(),
        OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC));
  }

  @Override
  public void setStateReceived(Signature signature) {
    update(signature, State.RECEIVED, Map.of(), false);
  }

  @Override
  public void setStateStarted(Signature signature) {
    update(signature, State.STARTED, Map.of(), false);
  }

  @Override
  public void setStateRetry(Signature signature) {
    update(signature, State.RETRY, Map.of(), false);
    refreshGroup(signature);
  }

  /**
   * SUCCESS with its results, and no error of an earlier run.
   *
   * @throws IllegalArgumentException when the results do not fit in a DynamoDB item (400 KB)
   */
  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    try {
      update(
          signature,
          State.SUCCESS,
          Map.of(
              "Results",
              results.isEmpty() ? Items.NULL : Items.results(results),
              "Error",
              Items.NULL),
          true);
    } catch (MachineryException e) {
      String tooLarge = overItemSize(e);
      if (tooLarge != null) {
        throw new IllegalArgumentException(
            "the results of task "
                + signature.uuid()
                + " do not fit in a DynamoDB item (400 KB): "
                + tooLarge,
            e);
      }
      throw e;
    }
    refreshGroup(signature);
  }

  /** FAILURE with its error (cut to {@value #MAX_ERROR_BYTES} bytes), and no earlier results. */
  @Override
  public void setStateFailure(Signature signature, String error) {
    String stored = ErrorText.cut(error, MAX_ERROR_BYTES);
    update(
        signature,
        State.FAILURE,
        Map.of("Error", stored.isEmpty() ? Items.NULL : Items.s(stored), "Results", Items.NULL),
        true);
    refreshGroup(signature);
  }

  /** DynamoDB's message when it refused a write because the item would be over 400 KB, or null. */
  private static @Nullable String overItemSize(MachineryException e) {
    if (e.getCause() instanceof DynamoDbException d
        && d.awsErrorDetails() != null
        && "ValidationException".equals(d.awsErrorDetails().errorCode())
        && String.valueOf(d.awsErrorDetails().errorMessage()).contains("maximum allowed size")) {
      return d.awsErrorDetails().errorMessage();
    }
    return null;
  }

  /**
   * Pushes the TTL of the member's group out to now + {@code ResultsExpireIn}, where the group's
   * item exists and expires earlier: a group whose members finish late keeps its meta. Best effort:
   * the member's state is stored already, and a failure here is logged, not thrown (the write would
   * be tried again, and the message dead-lettered, for what only guards against a late expiry).
   */
  private void refreshGroup(Signature signature) {
    if (signature.groupUuid().isEmpty()) {
      return;
    }
    AttributeValue ttl = Items.n(expiresAt());
    try {
      client.updateItem(
          r ->
              r.tableName(groupTable)
                  .key(Items.groupKey(signature.groupUuid()))
                  .updateExpression("SET #T = :t")
                  .conditionExpression(
                      "attribute_exists(#G) AND (attribute_not_exists(#T) OR #T < :t)")
                  .expressionAttributeNames(Map.of("#T", "TTL", "#G", Items.GROUP_UUID))
                  .expressionAttributeValues(Map.of(":t", ttl)));
    } catch (ConditionalCheckFailedException e) {
      // no meta (a group purged, or of another sender), or it expires later already
    } catch (SdkException e) {
      log.warn(
          "DynamoDB: could not push out the expiry of group {} after task {}: {}",
          LogText.of(signature.groupUuid()),
          LogText.of(signature.uuid()),
          e.toString());
    }
  }

  /** Go's {@code UpdateItem SET #S = :s[, #R = :r][, #E = :e][, #T = :t]}. */
  private void update(
      Signature signature, State state, Map<String, AttributeValue> more, boolean withTtl) {
    Map<String, String> names = new HashMap<>();
    Map<String, AttributeValue> values = new HashMap<>();
    StringBuilder expression = new StringBuilder("SET #S = :s");
    names.put("#S", "State");
    values.put(":s", Items.s(state.name()));
    int i = 0;
    Map<String, AttributeValue> all = new LinkedHashMap<>(more);
    if (withTtl) {
      all.put("TTL", Items.n(expiresAt()));
    }
    for (Map.Entry<String, AttributeValue> e : all.entrySet()) {
      names.put("#a" + i, e.getKey());
      values.put(":a" + i, e.getValue());
      expression.append(", #a").append(i).append(" = :a").append(i);
      i++;
    }
    call(
        "store " + state + " of " + signature.uuid(),
        () ->
            client.updateItem(
                r ->
                    r.tableName(taskTable)
                        .key(Items.taskKey(signature.uuid()))
                        .updateExpression(expression.toString())
                        .expressionAttributeNames(names)
                        .expressionAttributeValues(values)));
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    Map<String, AttributeValue> item =
        call(
                "read the state of " + taskUuid,
                () ->
                    client.getItem(
                        r ->
                            r.tableName(taskTable)
                                .key(Items.taskKey(taskUuid))
                                .consistentRead(true)))
            .item();
    return item == null || item.isEmpty() || !item.containsKey("State")
        ? Optional.empty()
        : Optional.of(taskState(item));
  }

  /** {@link Items#taskState}; an item it cannot read is a {@link MachineryException}. */
  private TaskState taskState(Map<String, AttributeValue> item) {
    try {
      return Items.taskState(item);
    } catch (RuntimeException e) {
      AttributeValue uuid = item.get(Items.TASK_UUID);
      throw new MachineryException(
          "DynamoDB: the state item of "
              + LogText.of(uuid == null ? "?" : String.valueOf(uuid.s()))
              + " in table "
              + taskTable
              + " cannot be read: "
              + e,
          e);
    }
  }

  @Override
  public void purgeState(String taskUuid) {
    call(
        "delete the state of " + taskUuid,
        () -> client.deleteItem(r -> r.tableName(taskTable).key(Items.taskKey(taskUuid))));
  }

  // ------------------------------------------------------------------------------------------
  // groups

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    Map<String, AttributeValue> item =
        Items.groupMeta(
            groupUuid,
            taskUuids,
            OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC),
            expiresAt());
    try {
      call(
          "store group " + groupUuid,
          () -> client.putItem(r -> r.tableName(groupTable).item(item)));
    } catch (MachineryException e) {
      String tooLarge = overItemSize(e);
      if (tooLarge != null) {
        throw new IllegalArgumentException(
            "a group of "
                + taskUuids.size()
                + " tasks does not fit in a DynamoDB item (400 KB; Go's group meta holds every"
                + " member's UUID, about 9,000 at most): "
                + tooLarge,
            e);
      }
      throw e;
    }
  }

  private List<String> groupTaskUuids(String groupUuid) {
    Map<String, AttributeValue> item =
        call(
                "read group " + groupUuid,
                () ->
                    client.getItem(
                        r ->
                            r.tableName(groupTable)
                                .key(Items.groupKey(groupUuid))
                                .consistentRead(true)
                                .projectionExpression("TaskUUIDs")))
            .item();
    if (item == null || item.isEmpty()) {
      throw StateNotFoundException.group(groupUuid, "DynamoDB table " + groupTable);
    }
    return Items.taskUuids(item);
  }

  /**
   * Counts the members' completed states; a member without a state (expired or purged) is a {@link
   * StateNotFoundException}, as the SPI says (Go counts it as not completed, and the chord never
   * fires).
   */
  @Override
  public boolean groupCompleted(String groupUuid, int groupTaskCount) {
    List<String> uuids = groupTaskUuids(groupUuid);
    Map<String, Map<String, AttributeValue>> items = batchGet(uuids, true);
    int completed = 0;
    for (String uuid : uuids) {
      Map<String, AttributeValue> item = items.get(uuid);
      AttributeValue state = item == null ? null : item.get("State");
      if (state == null || state.s() == null) {
        throw StateNotFoundException.task(
            uuid, "group " + groupUuid + ", DynamoDB table " + taskTable);
      }
      if (completed(state.s())) {
        completed++;
      }
    }
    return completed == groupTaskCount;
  }

  private static boolean completed(String state) {
    try {
      return State.valueOf(state).isCompleted();
    } catch (IllegalArgumentException e) {
      throw new MachineryException(
          "DynamoDB: a group member has an unknown state " + LogText.of(state), e);
    }
  }

  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount) {
    List<String> uuids = groupTaskUuids(groupUuid);
    Map<String, Map<String, AttributeValue>> items = batchGet(uuids, false);
    List<TaskState> states = new ArrayList<>(uuids.size());
    for (String uuid : uuids) {
      Map<String, AttributeValue> item = items.get(uuid);
      if (item == null || !item.containsKey("State")) {
        // Go skips it, and its chord callback gets fewer results than the group has members
        throw StateNotFoundException.task(
            uuid, "group " + groupUuid + ", DynamoDB table " + taskTable);
      }
      states.add(taskState(item));
    }
    return states;
  }

  /**
   * The items of {@code uuids} by UUID: consistent BatchGetItem in chunks, unprocessed keys
   * retried.
   */
  private Map<String, Map<String, AttributeValue>> batchGet(
      List<String> uuids, boolean statesOnly) {
    Map<String, Map<String, AttributeValue>> found = new HashMap<>();
    List<String> distinct = uuids.stream().distinct().toList();
    for (int from = 0; from < distinct.size(); from += BATCH_LIMIT) {
      List<Map<String, AttributeValue>> keys = new ArrayList<>();
      for (String uuid : distinct.subList(from, Math.min(distinct.size(), from + BATCH_LIMIT))) {
        keys.add(Items.taskKey(uuid));
      }
      KeysAndAttributes.Builder request =
          KeysAndAttributes.builder().keys(keys).consistentRead(true);
      if (statesOnly) {
        request
            .projectionExpression("#U, #S")
            .expressionAttributeNames(Map.of("#U", Items.TASK_UUID, "#S", "State"));
      }
      Map<String, KeysAndAttributes> pending = Map.of(taskTable, request.build());
      for (int attempt = 1; !pending.isEmpty(); attempt++) {
        Map<String, KeysAndAttributes> items = pending;
        BatchGetItemResponse response =
            call("read group states", () -> client.batchGetItem(r -> r.requestItems(items)));
        for (Map<String, AttributeValue> item :
            response.responses().getOrDefault(taskTable, List.of())) {
          found.put(
              java.util.Objects.requireNonNull(item.get(Items.TASK_UUID), "an item without its key")
                  .s(),
              item);
        }
        pending = response.hasUnprocessedKeys() ? response.unprocessedKeys() : Map.of();
        if (!pending.isEmpty()) {
          if (attempt >= BATCH_ATTEMPTS) {
            throw new MachineryException(
                "DynamoDB: "
                    + pending.values().stream().mapToInt(k -> k.keys().size()).sum()
                    + " group states stayed unprocessed after "
                    + attempt
                    + " BatchGetItem attempts (throttled?)");
          }
          LockSupport.parkNanos(
              TimeUnit.MILLISECONDS.toNanos(Math.min(2_000, 25L << attempt))); // back-off
        }
      }
    }
    return found;
  }

  /**
   * {@link #triggerChord(String, String)} with a token of this call as the member: an update that
   * DynamoDB applied but whose reply was lost (the SDK tries again, and that try fails its
   * condition) still wins.
   */
  @Override
  public boolean triggerChord(String groupUuid) {
    Trigger trigger = triggerChord(groupUuid, "machinery_trigger_" + java.util.UUID.randomUUID());
    return trigger == Trigger.WON || trigger == Trigger.WON_BEFORE;
  }

  /**
   * {@link #triggerChord(String)}, keeping the winning member's UUID in the group's item, attribute
   * {@value #CHORD_WINNER} (Go's unmarshalling skips attributes it does not know, and Go only
   * updates the item), in the same update as the flag.
   */
  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    long deadline = System.nanoTime() + LOCK_PATIENCE.toNanos();
    Map<String, String> names = new java.util.HashMap<>();
    names.putAll(Map.of("#CT", "ChordTriggered", "#L", "Lock", "#G", Items.GROUP_UUID));
    Map<String, AttributeValue> values = new java.util.HashMap<>();
    values.putAll(Map.of(":t", Items.bool(true), ":f", Items.bool(false)));
    String update = "SET #CT = :t";
    if (!memberUuid.isEmpty()) {
      names.put("#W", CHORD_WINNER);
      values.put(":w", AttributeValue.fromS(memberUuid));
      update = "SET #CT = :t, #W = :w";
    }
    String setFlagAndWinner = update;
    int unlockedRetries = 0;
    while (true) {
      try {
        client.updateItem(
            r ->
                r.tableName(groupTable)
                    .key(Items.groupKey(groupUuid))
                    .updateExpression(setFlagAndWinner)
                    .conditionExpression(
                        "attribute_exists(#G) AND #CT = :f AND (attribute_not_exists(#L) OR #L = :f)")
                    .expressionAttributeNames(names)
                    .expressionAttributeValues(values));
        return Trigger.WON;
      } catch (ConditionalCheckFailedException e) {
        Map<String, AttributeValue> meta =
            call(
                    "read group " + groupUuid,
                    () ->
                        client.getItem(
                            r ->
                                r.tableName(groupTable)
                                    .key(Items.groupKey(groupUuid))
                                    .consistentRead(true)))
                .item();
        if (meta == null || meta.isEmpty()) {
          throw StateNotFoundException.group(groupUuid, "DynamoDB table " + groupTable);
        }
        if (isTrue(meta.get("ChordTriggered"))) {
          AttributeValue winner = meta.get(CHORD_WINNER);
          return !memberUuid.isEmpty() && winner != null && memberUuid.equals(winner.s())
              ? Trigger.WON_BEFORE
              : Trigger.LOST;
        }
        boolean locked = isTrue(meta.get("Lock"));
        if (System.nanoTime() > deadline) {
          throw new MachineryException(
              "DynamoDB: group "
                  + groupUuid
                  + (locked
                      ? " stayed locked by a Go worker for "
                      : " kept failing the trigger's condition (ChordTriggered and Lock not"
                          + " booleans?) for ")
                  + LOCK_PATIENCE.toSeconds()
                  + " s; its chord was not triggered here");
        }
        if (locked || ++unlockedRetries > 1) {
          // Go's own wait while another worker holds Lock; or an item whose flags the condition
          // cannot read, tried again at this pace until the deadline
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        } // else the item changed between the two calls: try again at once
      } catch (SdkException e) {
        throw new MachineryException(
            "DynamoDB: could not trigger the chord of group " + groupUuid + ": " + e.getMessage(),
            e);
      }
    }
  }

  /**
   * One conditional {@code UpdateItem}: where the group's item is triggered, {@code memberUuid} is
   * its kept winner and no Go worker holds {@code Lock}, {@code ChordTriggered} goes back to false
   * and {@value #CHORD_WINNER} becomes a token of this call, which no member's trigger takes for
   * its own (Go's unmarshalling skips the attribute). The token is the call's answer to the SDK's
   * retry of an update DynamoDB applied but whose reply was lost: that retry finds the flag false
   * beside its own token and answers true too (a false would leave a member that finished in
   * between, and lost to this winner, without anyone checking the group again). Any other failed
   * condition is false: the group is gone, not triggered, held by another member or by a Go worker,
   * or a Go worker holding {@code Lock} sets the flag and fires: released now (its flag may be set
   * already) or once it unlocks, the member found running would win the trigger after it and send
   * the callback a second time. The group's {@code TTL} stays as it is, as for the trigger.
   */
  @Override
  public boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    if (memberUuid.isEmpty()) {
      return false; // a trigger without a member keeps no winner to release
    }
    AttributeValue token = AttributeValue.fromS(RELEASE_PREFIX + java.util.UUID.randomUUID());
    try {
      client.updateItem(
          r ->
              r.tableName(groupTable)
                  .key(Items.groupKey(groupUuid))
                  .updateExpression("SET #CT = :f, #W = :r")
                  .conditionExpression(
                      "attribute_exists(#G) AND ((#CT = :t AND #W = :m"
                          + " AND (attribute_not_exists(#L) OR #L = :f)) OR (#CT = :f AND #W = :r))")
                  .expressionAttributeNames(
                      Map.of(
                          "#CT",
                          "ChordTriggered",
                          "#W",
                          CHORD_WINNER,
                          "#L",
                          "Lock",
                          "#G",
                          Items.GROUP_UUID))
                  .expressionAttributeValues(
                      Map.of(
                          ":t", Items.bool(true),
                          ":f", Items.bool(false),
                          ":m", AttributeValue.fromS(memberUuid),
                          ":r", token)));
      return true;
    } catch (ConditionalCheckFailedException e) {
      return false;
    } catch (SdkException e) {
      throw new MachineryException(
          "DynamoDB: could not release the chord trigger of group "
              + groupUuid
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /** Yes: {@link #releaseChordTrigger} is one conditional update of the group's item. */
  @Override
  public boolean releasesChordTriggers() {
    return true;
  }

  private static boolean isTrue(@Nullable AttributeValue value) {
    return value != null && Boolean.TRUE.equals(value.bool());
  }

  @Override
  public void purgeGroupMeta(String groupUuid) {
    call(
        "delete group " + groupUuid,
        () -> client.deleteItem(r -> r.tableName(groupTable).key(Items.groupKey(groupUuid))));
  }

  // ------------------------------------------------------------------------------------------
  // uniqueness keys

  /**
   * One conditional put (the key's item is absent or its claim's time is up), then the holder read
   * when it fails: atomic across processes. The claim is an item of the task table, {@code
   * TaskUUID} {@code machinery_unique:<key>}, which no task UUID can be; times are this process's
   * clock, and {@code TTL} lets DynamoDB delete lapsed claims where the table's TTL is on.
   */
  @Override
  public Optional<String> claimUnique(String key, String taskUuid, Duration ttl) {
    String itemKey = uniqueItemKey(key);
    for (int attempt = 1; ; attempt++) {
      long now = clock.millis();
      long until = now + Math.max(1, ttl.toMillis());
      Map<String, AttributeValue> claim = new HashMap<>(Items.taskKey(itemKey));
      claim.put(UNIQUE_HOLDER, AttributeValue.fromS(taskUuid));
      claim.put(UNIQUE_UNTIL, AttributeValue.fromN(Long.toString(until)));
      claim.put("TTL", AttributeValue.fromN(Long.toString(until / 1000 + 1)));
      try {
        client.putItem(
            r ->
                r.tableName(taskTable)
                    .item(claim)
                    .conditionExpression("attribute_not_exists(#K) OR #U <= :now")
                    .expressionAttributeNames(Map.of("#K", Items.TASK_UUID, "#U", UNIQUE_UNTIL))
                    .expressionAttributeValues(
                        Map.of(":now", AttributeValue.fromN(Long.toString(now)))));
        return Optional.empty();
      } catch (ConditionalCheckFailedException e) {
        // held: read by whom below
      } catch (SdkException e) {
        throw new MachineryException(
            "DynamoDB: could not claim the uniqueness key "
                + LogText.of(key)
                + ": "
                + e.getMessage(),
            e);
      }
      Map<String, AttributeValue> held =
          call(
                  "read the holder of the uniqueness key " + LogText.of(key),
                  () ->
                      client.getItem(
                          r ->
                              r.tableName(taskTable)
                                  .key(Items.taskKey(itemKey))
                                  .consistentRead(true)))
              .item();
      AttributeValue holder = held == null ? null : held.get(UNIQUE_HOLDER);
      AttributeValue heldUntil = held == null ? null : held.get(UNIQUE_UNTIL);
      if (holder != null
          && holder.s() != null
          && heldUntil != null
          && heldUntil.n() != null
          && Long.parseLong(heldUntil.n()) > now) {
        return Optional.of(holder.s());
      }
      if (attempt == 3) { // released or lapsed between the two calls, three times over
        throw new MachineryException(
            "DynamoDB: the uniqueness key "
                + LogText.of(key)
                + " kept changing hands while claiming it");
      }
    }
  }

  /** A delete on condition that {@code taskUuid} holds the key. */
  @Override
  public void releaseUnique(String key, String taskUuid) {
    try {
      client.deleteItem(
          r ->
              r.tableName(taskTable)
                  .key(Items.taskKey(uniqueItemKey(key)))
                  .conditionExpression("#H = :h")
                  .expressionAttributeNames(Map.of("#H", UNIQUE_HOLDER))
                  .expressionAttributeValues(Map.of(":h", AttributeValue.fromS(taskUuid))));
    } catch (ConditionalCheckFailedException e) {
      // held by another task, or by none: nothing to release
    } catch (SdkException e) {
      throw new MachineryException(
          "DynamoDB: could not release the uniqueness key "
              + LogText.of(key)
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /**
   * The task-table key of a uniqueness key's claim; a key past 1,024 bytes goes by its hex SHA-256
   * (DynamoDB's partition keys stop at 2,048 bytes).
   */
  static String uniqueItemKey(String key) {
    byte[] utf8 = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return utf8.length <= 1024
        ? UNIQUE_PREFIX + key
        : UNIQUE_PREFIX + "sha256:" + io.machinery.wire.BodyPreview.sha256Hex(utf8);
  }

  @Override
  public void close() {
    if (ownsClient) {
      client.close();
    }
  }

  @Override
  public String toString() {
    return "DynamoDbBackend{" + taskTable + ", " + groupTable + "}";
  }

  /** Builds a {@link DynamoDbBackend}. */
  public static final class Builder {
    private final Config config;
    private @Nullable DynamoDbClient client;
    private @Nullable AwsClients aws;
    private Clock clock = Clock.systemUTC();

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * A client to use instead of building one (Go's {@code cnf.DynamoDB.Client}); the backend never
     * closes it.
     */
    public Builder client(DynamoDbClient value) {
      client = Objects.requireNonNull(value, "client");
      return this;
    }

    /**
     * How to build the client; default {@link AwsClients#forDynamoDbBackend} of {@code
     * config.resultBackend()}.
     */
    public Builder aws(AwsClients value) {
      aws = Objects.requireNonNull(value, "aws");
      return this;
    }

    /** The clock for CreatedAt and TTL; default the system clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    public DynamoDbBackend build() {
      if (client != null) {
        return new DynamoDbBackend(this, client, false);
      }
      AwsClients settings =
          aws != null ? aws : AwsClients.forDynamoDbBackend(config.resultBackend());
      return new DynamoDbBackend(this, settings.build(DynamoDbClient.builder()), true);
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
    return DynamoDbBackendProvider.INSTANCE;
  }
}
