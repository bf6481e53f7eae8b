package io.machinery.backend.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFailedException;
import io.machinery.TaskFunction;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The DynamoDB backend at its edges: Go results of types without a Java mapping, conditional writes
 * whose replies were lost (a proxy in front of dynalite answers 500 after dynalite applied the
 * write, and the AWS SDK tries again), a group whose members finish late, DynamoDB's 400 KB item
 * limit, and a task run again after a final state.
 */
class DynamoDbBackendEdgeCasesIT {
  private static DynamoDbConfig tables;
  private DynamoDbBackend backend;

  @BeforeAll
  static void createTables() {
    tables = TestTables.create("audit");
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

  /** A Go worker's SUCCESS as Go's setTaskState writes it: Results L[M{Type, Value: S(%v)}]. */
  private static void goSuccess(String uuid, String type, String value) {
    TestTables.client()
        .putItem(
            r ->
                r.tableName(tables.taskStatesTable())
                    .item(
                        Map.of(
                            "TaskUUID", AttributeValue.fromS(uuid),
                            "TaskName", AttributeValue.fromS("goTask"),
                            "State", AttributeValue.fromS("SUCCESS"),
                            "Results",
                                AttributeValue.fromL(
                                    List.of(
                                        AttributeValue.fromM(
                                            Map.of(
                                                "Type", AttributeValue.fromS(type),
                                                "Value", AttributeValue.fromS(value))))),
                            "CreatedAt", AttributeValue.fromS("2025-01-02T03:04:05Z"),
                            "TTL", AttributeValue.fromN("0"))));
  }

  // ------------------------------------------------------------------------------------------
  // 1. Go results of types Java has no mapping for

  /**
   * A Go task may return any type (a map, a struct, time.Duration); Go's DynamoDB backend stores
   * {@code %v} of it under its reflect type name. Reading it must not throw an unchecked
   * NumberFormatException out of the backend (the SPI promises MachineryException); Items.results
   * even means to keep such a value raw.
   */
  @Test
  void aGoResultOfATypeJavaDoesNotMapIsReadBackRawInsteadOfThrowing() {
    String uuid = Uuids.newTaskUuid();
    goSuccess(uuid, "map[string]int", "map[a:1 b:2]");
    assertThatCode(() -> backend.getState(uuid)).doesNotThrowAnyException();
    TaskState state = backend.getState(uuid).orElseThrow();
    assertThat(state.results()).containsExactly(TaskResult.of("map[string]int", "map[a:1 b:2]"));
  }

  /** The same Go results in a chord: the Java worker completing it reads the group's states. */
  @Test
  void aChordWithAGoMemberThatReturnedADurationCanReadItsGroupStates() {
    String member = Uuids.newTaskUuid();
    goSuccess(member, "time.Duration", "1m30s");
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(member));
    assertThat(backend.groupCompleted(group, 1)).isTrue();
    assertThatCode(() -> backend.groupTaskStates(group, 1)).doesNotThrowAnyException();
  }

  // ------------------------------------------------------------------------------------------
  // 2. a conditional write applied by DynamoDB whose response was lost (the SDK retries it)

  /**
   * The SDK tries a PutItem again whose reply was lost (a 500, a reset connection, a read timeout)
   * although DynamoDB applied it; the second try fails its condition and reads the claim the first
   * made: the caller itself. The send must still go out (it used to return a handle to a task it
   * never sent, the key held for its whole TTL).
   */
  @Test
  void aUniqueSendWhoseClaimReplyWasLostIsStillSent() throws Exception {
    try (LossyProxy proxy =
            new LossyProxy(
                "DynamoDB_20120810.PutItem", body -> body.contains("machinery_unique:"));
        DynamoDbBackend lossy = lossyBackend(proxy);
        MemoryBroker broker = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
        Server server = Server.builder().broker(broker).backend(lossy).build()) {
      String key = "lost-reply-" + Uuids.newTaskUuid();
      AsyncResult sent =
          server.sendTaskUnique(Signature.create("report"), key, Duration.ofMinutes(5));
      assertThat(proxy.dropped.get()).as("one reply dropped, the SDK tried again").isEqualTo(1);
      assertThat(backend.getState(sent.taskUuid()).orElseThrow().state())
          .as("the task was sent")
          .isEqualTo(State.PENDING);
      assertThat(broker.pendingTasks(Config.DEFAULT.defaultQueue()))
          .singleElement()
          .satisfies(task -> assertThat(task.uuid()).isEqualTo(sent.taskUuid()));
      AsyncResult again =
          server.sendTaskUnique(Signature.create("report"), key, Duration.ofMinutes(5));
      assertThat(again.taskUuid())
          .as("the key is held by the task sent")
          .isEqualTo(sent.taskUuid());
    }
  }

  /**
   * The one-argument triggerChord after the same lost response: the update that set ChordTriggered
   * was applied, its retry fails the condition, and the caller is told it lost, so nobody sends the
   * callback.
   */
  @Test
  void aChordTriggerWhoseResponseWasLostStillWins() throws Exception {
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(Uuids.newTaskUuid()));
    try (LossyProxy proxy =
        new LossyProxy("DynamoDB_20120810.UpdateItem", body -> body.contains(group))) {
      try (DynamoDbBackend lossy = lossyBackend(proxy)) {
        boolean won = lossy.triggerChord(group);
        assertThat(proxy.dropped.get()).isEqualTo(1);
        assertThat(won).as("the only caller, whose update set the flag").isTrue();
      }
    }
  }

  /** The member form survives the lost response: WON_BEFORE, and the worker checks the callback. */
  @Test
  void aMemberTriggerWhoseResponseWasLostLearnsItWonBefore() throws Exception {
    String group = Uuids.newGroupUuid();
    String member = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(member));
    try (LossyProxy proxy =
        new LossyProxy("DynamoDB_20120810.UpdateItem", body -> body.contains(group))) {
      try (DynamoDbBackend lossy = lossyBackend(proxy)) {
        assertThat(lossy.triggerChord(group, member)).isEqualTo(Backend.Trigger.WON_BEFORE);
      }
    }
  }

  /**
   * A release after the same lost response: DynamoDB applied it, and the SDK's retry finds the flag
   * false. The winner must still be told that it released (told otherwise, it would not check the
   * group again, and a member that finished in between and lost the trigger to it would leave the
   * chord unfired); a later release is still refused, and the next member wins.
   */
  @Test
  void aChordReleaseWhoseResponseWasLostStillReleases() throws Exception {
    String group = Uuids.newGroupUuid();
    String winner = Uuids.newTaskUuid();
    String next = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(winner, next));
    assertThat(backend.triggerChord(group, winner)).isEqualTo(Backend.Trigger.WON);
    try (LossyProxy proxy =
            new LossyProxy(
                "DynamoDB_20120810.UpdateItem",
                body -> body.contains(group) && body.contains(DynamoDbBackend.RELEASE_PREFIX));
        DynamoDbBackend lossy = lossyBackend(proxy)) {
      boolean released = lossy.releaseChordTrigger(group, winner);
      assertThat(proxy.dropped.get()).as("one reply dropped, the SDK tried again").isEqualTo(1);
      assertThat(released).as("the update that released it was the caller's").isTrue();
    }
    assertThat(backend.releaseChordTrigger(group, winner)).as("released already").isFalse();
    assertThat(backend.triggerChord(group, next)).isEqualTo(Backend.Trigger.WON);
  }

  private static DynamoDbBackend lossyBackend(LossyProxy proxy) {
    Config config =
        Config.builder().resultBackend("http://127.0.0.1:" + proxy.port()).dynamoDb(tables).build();
    return DynamoDbBackend.create(config);
  }

  // ------------------------------------------------------------------------------------------
  // 3. group meta expiry

  /**
   * The group meta's TTL is set once, at initGroup. A group whose members are still finishing
   * resultsExpireIn later (a backlog, retries) loses its meta to DynamoDB's TTL and the chord fails
   * with "Group not found" (Go issue #352). The Redis backend refreshes the group's expiry when a
   * member reaches RETRY, SUCCESS or FAILURE; here it stays at its first value.
   */
  @Test
  void aMembersFinalStateRefreshesItsGroupsExpiry() {
    Config config =
        Config.builder()
            .resultBackend(TestEndpoints.dynamoDbEndpoint())
            .dynamoDb(tables)
            .resultsExpireIn(600)
            .build();
    Instant t0 = Instant.parse("2030-01-01T00:00:00Z");
    DynamoDbBackend early =
        DynamoDbBackend.builder(config)
            .client(TestTables.client())
            .clock(Clock.fixed(t0, ZoneOffset.UTC))
            .build();
    DynamoDbBackend later =
        DynamoDbBackend.builder(config)
            .client(TestTables.client())
            .clock(Clock.fixed(t0.plusSeconds(500), ZoneOffset.UTC))
            .build();
    String group = Uuids.newGroupUuid();
    Signature a = Signature.builder("add").groupUuid(group).groupTaskCount(2).build();
    Signature b = Signature.builder("add").groupUuid(group).groupTaskCount(2).build();
    early.initGroup(group, List.of(a.uuid(), b.uuid()));
    early.setStatePending(a);
    early.setStatePending(b);
    later.setStateSuccess(a, List.of(TaskResult.of(1L)));
    long groupTtl =
        Long.parseLong(item(tables.groupMetasTable(), "GroupUUID", group).get("TTL").n());
    assertThat(groupTtl)
        .as("the group's TTL after a member finished 500 s into a 600 s expiry")
        .isGreaterThanOrEqualTo(t0.getEpochSecond() + 500 + 600);
  }

  // ------------------------------------------------------------------------------------------
  // 4. DynamoDB's 400 KB item limit

  /**
   * Results that do not fit in one item (400 KB) are refused as a value the backend cannot hold,
   * and the worker stores FAILURE with the reason; they used to fail as an outage would, so the
   * worker tried again in vain, dead-lettered the message and left the task at STARTED for ever.
   */
  @Test
  void aResultTooLargeForAnItemEndsTheTaskInFailureWithTheReason() throws Exception {
    Signature big = Signature.create("big");
    backend.setStatePending(big);
    backend.setStateStarted(big);
    assertThatThrownBy(() -> backend.setStateSuccess(big, List.of(TaskResult.of(huge()))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("do not fit in a DynamoDB item (400 KB)");
    try (MemoryBroker broker = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
        Server server = Server.builder().broker(broker).backend(backend).build()) {
      server.registerTask("big", TaskFunction.of(DynamoDbBackendEdgeCasesIT::huge));
      Worker worker = server.workerBuilder("edge").build();
      worker.launchAsync();
      AsyncResult task = server.sendTask(Signature.create("big"));
      assertThatThrownBy(() -> task.get(Duration.ofSeconds(30)))
          .isInstanceOf(TaskFailedException.class)
          .hasMessageContaining("the task succeeded but its results could not be stored")
          .hasMessageContaining("400 KB");
      assertThat(broker.deadLetters()).isEmpty();
      worker.quit();
    }
  }

  private static String huge() {
    return "x".repeat(450 * 1024);
  }

  /** A FAILURE always fits: an error text too long for an item (a huge message) is cut. */
  @Test
  void aFailureWithAHugeErrorTextIsStoredCut() {
    Signature big = Signature.create("big");
    backend.setStatePending(big);
    backend.setStateStarted(big);
    backend.setStateFailure(big, "é".repeat(300 * 1024));
    TaskState state = backend.getState(big.uuid()).orElseThrow();
    assertThat(state.state()).isEqualTo(State.FAILURE);
    assertThat(state.error())
        .startsWith("éé")
        .endsWith("… (cut: " + 600 * 1024 + " bytes in all)")
        .hasSizeLessThan(DynamoDbBackend.MAX_ERROR_BYTES);
  }

  /**
   * A group's meta is one item, as Go's: its TaskUUIDs list stops at 400 KB, about 9,000 members of
   * Go's 41-character UUIDs. A larger group is refused with that reason.
   */
  @Test
  void aGroupTooLargeForOneItemIsRefusedWithTheReason() {
    List<String> members =
        java.util.stream.IntStream.range(0, 10_000).mapToObj(i -> Uuids.newTaskUuid()).toList();
    assertThatThrownBy(() -> backend.initGroup(Uuids.newGroupUuid(), members))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a group of 10000 tasks does not fit in a DynamoDB item");
  }

  // ------------------------------------------------------------------------------------------
  // 5. attributes of an earlier state left behind by UpdateItem SET

  /** A task run again after a SUCCESS (a redelivery) that fails: its FAILURE keeps old Results. */
  @Test
  void aFailureAfterAnEarlierSuccessDoesNotKeepTheOldResults() {
    Signature t = Signature.create("add");
    backend.setStatePending(t);
    backend.setStateSuccess(t, List.of(TaskResult.of(42L)));
    backend.setStateReceived(t);
    backend.setStateStarted(t);
    backend.setStateFailure(t, "boom");
    TaskState state = backend.getState(t.uuid()).orElseThrow();
    assertThat(state.state()).isEqualTo(State.FAILURE);
    assertThat(state.results()).as("results of the earlier run").isEmpty();
  }

  /** And a SUCCESS after an earlier FAILURE keeps the old error text. */
  @Test
  void aSuccessAfterAnEarlierFailureDoesNotKeepTheOldError() {
    Signature t = Signature.create("add");
    backend.setStatePending(t);
    backend.setStateFailure(t, "boom");
    backend.setStateReceived(t);
    backend.setStateStarted(t);
    backend.setStateSuccess(t, List.of(TaskResult.of(1L)));
    TaskState state = backend.getState(t.uuid()).orElseThrow();
    assertThat(state.state()).isEqualTo(State.SUCCESS);
    assertThat(state.error()).as("error of the earlier run").isEmpty();
  }

  // ------------------------------------------------------------------------------------------

  /**
   * An HTTP proxy in front of dynalite that forwards every request, but for the first request of
   * {@code target} whose body matches, answers 500 after dynalite applied it (a lost response).
   */
  static final class LossyProxy implements AutoCloseable {
    private static final Set<String> RESTRICTED =
        Set.of("host", "content-length", "connection", "expect", "upgrade", "transfer-encoding");
    private final HttpServer server;
    private final HttpClient http = HttpClient.newHttpClient();
    private final URI upstream = URI.create(TestEndpoints.dynamoDbEndpoint());
    private final String target;
    private final Predicate<String> matches;
    final AtomicInteger dropped = new AtomicInteger();

    LossyProxy(String target, Predicate<String> matches) throws IOException {
      this.target = target;
      this.matches = matches;
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      server.createContext("/", this::handle);
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
      try (exchange) {
        byte[] body = exchange.getRequestBody().readAllBytes();
        HttpRequest.Builder request =
            HttpRequest.newBuilder(upstream.resolve(exchange.getRequestURI().getRawPath()))
                .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(body));
        exchange
            .getRequestHeaders()
            .forEach(
                (name, values) -> {
                  if (!RESTRICTED.contains(name.toLowerCase(java.util.Locale.ROOT))) {
                    values.forEach(v -> request.header(name, v));
                  }
                });
        HttpResponse<byte[]> response =
            http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        String amzTarget = exchange.getRequestHeaders().getFirst("X-Amz-Target");
        if (target.equals(amzTarget)
            && matches.test(new String(body, StandardCharsets.UTF_8))
            && dropped.compareAndSet(0, 1)) {
          byte[] error =
              "{\"__type\":\"com.amazon.coral.service#InternalFailure\",\"message\":\"lost\"}"
                  .getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/x-amz-json-1.0");
          exchange.sendResponseHeaders(500, error.length);
          exchange.getResponseBody().write(error);
          return;
        }
        response
            .headers()
            .map()
            .forEach(
                (name, values) -> {
                  if (!RESTRICTED.contains(name.toLowerCase(java.util.Locale.ROOT))
                      && !name.startsWith(":")) {
                    values.forEach(v -> exchange.getResponseHeaders().add(name, v));
                  }
                });
        byte[] out = response.body();
        exchange.sendResponseHeaders(response.statusCode(), out.length == 0 ? -1 : out.length);
        if (out.length > 0) {
          exchange.getResponseBody().write(out);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void close() {
      server.stop(0);
      http.close();
    }
  }
}
