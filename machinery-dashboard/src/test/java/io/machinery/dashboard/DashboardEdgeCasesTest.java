package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.embedded.MemoryBroker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Hostile input and edge cases of the API over real HTTP on the memory broker. */
class DashboardEdgeCasesTest {
  private static final String TOKEN = "s3cret-token";
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private Server server;

  @BeforeEach
  void setUp() {
    server = Server.builder().build();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    server.close();
  }

  private HttpProbe start(Dashboard.Builder builder) {
    Dashboard dashboard = builder.port(0).sampleInterval(Duration.ofMillis(200)).build().start();
    closeables.add(dashboard);
    return new HttpProbe(dashboard.address().getPort());
  }

  /**
   * A message's headers and callback lists are as untrusted as its arguments: a producer's 100,000
   * character expiry or saga header, or 150 callbacks, reached the task page whole (up to the 16
   * MiB a message may have, on every 2 s poll). They are cut like the arguments, with the download.
   */
  @Test
  void aTasksHeadersAndCallbackListsAreCutOnItsPage() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    String huge = "h".repeat(100_000);
    String uuid = "task_" + UUID.randomUUID();
    StringBuilder callbacks = new StringBuilder();
    for (int i = 0; i < 150; i++) {
      callbacks
          .append(i == 0 ? "" : ",")
          .append("{\"UUID\":\"task_")
          .append(UUID.randomUUID())
          .append("\",\"Name\":\"notify\"}");
    }
    String raw =
        "{\"UUID\":\"%s\",\"Name\":\"t\",\"Headers\":{\"machinery_expires\":\"%s\",\"machinery_saga_undoes\":\"%s\"},\"OnSuccess\":[%s],\"OnError\":[%s]}"
            .formatted(uuid, huge, huge, callbacks, callbacks);
    ((MemoryBroker) server.broker())
        .pushRaw(server.config().defaultQueue(), raw.getBytes(StandardCharsets.UTF_8));

    HttpProbe.Response response = http.get("/api/task?uuid=" + uuid);
    assertThat(response.status()).isEqualTo(200);
    JsonNode t = HttpProbe.JSON.readTree(response.body());
    assertThat(t.path("location").asText()).isEqualTo("PENDING");
    JsonNode links = t.path("links");
    assertThat(links.path("expires").asText())
        .hasSizeLessThan(Views.MAX_STRING + 100)
        .contains("more characters");
    assertThat(links.path("undoes").asText())
        .hasSizeLessThan(Views.MAX_STRING + 100)
        .contains("more characters");
    assertThat(links.path("onSuccess")).hasSize(Views.MAX_ITEMS);
    assertThat(links.path("onError")).hasSize(Views.MAX_ITEMS);
    assertThat(t.path("truncated").asBoolean()).as("the page offers the download").isTrue();
    JsonNode whole = HttpProbe.JSON.readTree(http.get("/api/task/raw?uuid=" + uuid).body());
    assertThat(whole.path("message").path("Headers").path("machinery_expires").asText())
        .isEqualTo(huge);
  }

  /**
   * With {@code keepFailedTasks}, a dead letter's reason quotes the task's error, which may quote
   * its arguments: the dead-letter tab cut it and the task page cut the stored error, but the task
   * page showed the reason whole.
   */
  @Test
  void aDeadLettersReasonIsCutOnTheTaskPageLikeTheError() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    server.registerTask(
        "echo_fails",
        TaskFunction.of(
            String.class,
            a -> {
              throw new IllegalStateException(a);
            }));
    Worker worker = server.workerBuilder("kept").keepFailedTasks(true).build();
    closeables.add(worker::quit);
    worker.launchAsync();
    String uuid =
        server
            .sendTask(Signature.create("echo_fails", Arg.of("e".repeat(100_000))))
            .signature()
            .uuid();
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> http.json("/api/task?uuid=" + uuid).path("deadLetter").isObject());

    JsonNode t = http.json("/api/task?uuid=" + uuid);
    assertThat(t.path("location").asText()).isEqualTo("DEAD_LETTERED");
    assertThat(t.path("state").path("error").asText()).hasSizeLessThan(Views.MAX_STRING + 100);
    assertThat(t.path("deadLetter").path("reason").asText())
        .startsWith("failed, kept to run again")
        .hasSizeLessThan(Views.MAX_STRING + 100)
        .contains("more characters");
    assertThat(t.path("truncated").asBoolean()).isTrue();
  }

  /**
   * An authenticator is asked about cancel with the queue the request names, but the action
   * cancelled the UUID wherever it was: a user allowed to cancel in "public" cancelled a task
   * waiting in "payments" by naming "public". Now the task must be found waiting or running there.
   */
  @Test
  void cancelActsOnlyOnATaskOfTheQueueTheAuthenticatorWasAskedAbout() throws Exception {
    HttpProbe http =
        start(
            Dashboard.builder(server)
                .authenticator(
                    (action, queue, header) -> action.equals("cancel") && queue.equals("public")));
    String payments =
        server.sendTask(Signature.builder("charge").routingKey("payments").build()).taskUuid();
    String mine =
        server.sendTask(Signature.builder("resize").routingKey("public").build()).taskUuid();

    HttpProbe.Response forged =
        http.post("/api/action/cancel", "{\"queue\":\"public\",\"uuid\":\"" + payments + "\"}");
    assertThat(forged.status()).isEqualTo(409);
    assertThat(new String(forged.body(), StandardCharsets.UTF_8))
        .contains("not waiting or running in queue public");
    assertThat(server.controlPlane().orElseThrow().revoked()).doesNotContain(payments);
    assertThat(server.backend().getState(payments).orElseThrow().error()).isEmpty();
    assertThat(
            http.post(
                    "/api/action/cancel", "{\"queue\":\"payments\",\"uuid\":\"" + payments + "\"}")
                .status())
        .as("asked about payments")
        .isEqualTo(401);

    HttpProbe.Response allowed =
        http.post("/api/action/cancel", "{\"queue\":\"public\",\"uuid\":\"" + mine + "\"}");
    assertThat(allowed.status()).isEqualTo(200);
    assertThat(server.controlPlane().orElseThrow().revoked()).contains(mine);
  }
}
