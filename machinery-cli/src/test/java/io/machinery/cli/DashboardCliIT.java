package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code machinery dashboard} through the command's entry point on a real Redis: it prints the
 * dashboard's address, serves the JSON API over the deployment that Go's environment variables
 * name, honours {@code --token}/{@code --read-only}, and stops (closing the port) with exit code 0
 * when its thread is interrupted, as Ctrl-C does through the command's shutdown hook.
 */
class DashboardCliIT {
  private static final Pattern URL = Pattern.compile("dashboard on (http://\\S+/) \\((.*)\\)");

  private final String queue = "dashcli_" + UUID.randomUUID().toString().substring(0, 8);
  private final Map<String, String> env =
      Map.of(
          "BROKER",
          TestEndpoints.redisUrl(),
          "RESULT_BACKEND",
          TestEndpoints.redisUrl(),
          "DEFAULT_QUEUE",
          queue);
  private final Server sender = Providers.connect(Config.fromEnvironment(env));
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void tearDown() {
    io.machinery.Inspection.of(sender).purge(queue);
    sender.close();
  }

  /** A run of the command on its own thread, with its output readable while it runs. */
  private final class Run implements AutoCloseable {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    final AtomicInteger code = new AtomicInteger(-1);
    final Thread thread;

    Run(String... args) {
      MachineryCli.Io io =
          new MachineryCli.Io(
              new PrintStream(out, true, StandardCharsets.UTF_8),
              new PrintStream(err, true, StandardCharsets.UTF_8),
              env,
              false,
              Providers::connect);
      thread = Thread.ofPlatform().start(() -> code.set(MachineryCli.run(args, io)));
    }

    Matcher started() {
      return await()
          .atMost(Duration.ofSeconds(20))
          .failFast(() -> !thread.isAlive())
          .until(() -> URL.matcher(out.toString(StandardCharsets.UTF_8)), Matcher::find);
    }

    @Override
    public void close() throws InterruptedException {
      thread.interrupt();
      thread.join(Duration.ofSeconds(20));
    }
  }

  private JsonNode get(String base, String path) throws IOException, InterruptedException {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(base + path.substring(1))).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
    return Render.JSON.readTree(r.body());
  }

  @Test
  void servesTheDeploymentsQueuesUntilInterrupted() throws Exception {
    for (int i = 0; i < 3; i++) {
      sender.sendTask(Signature.create("resize", Arg.of((long) i)));
    }
    String base;
    try (Run run = new Run("dashboard", "--port", "0", "--token", "cli-token-123")) {
      Matcher m = run.started();
      base = m.group(1);
      assertThat(base).startsWith("http://127.0.0.1:");
      assertThat(m.group(2)).isEqualTo("actions need the token");

      JsonNode overview = get(base, "/api/overview");
      assertThat(overview.path("defaultQueue").asText()).isEqualTo(queue);
      assertThat(overview.path("actions").asBoolean()).isTrue();
      JsonNode page = get(base, "/api/queue?name=" + queue + "&tab=pending");
      assertThat(page.path("stats").path("pending").asLong()).isEqualTo(3);
      assertThat(CliRunner.texts(page.path("items"), "name")).containsOnly("resize");

      run.close();
      assertThat(run.thread.isAlive()).isFalse();
      assertThat(run.code.get()).isZero();
      assertThat(run.err.toString(StandardCharsets.UTF_8)).isEmpty();
    }
    String stopped = base;
    assertThatThrownBy(() -> get(stopped, "/api/overview")).isInstanceOf(ConnectException.class);
  }

  @Test
  void readOnlyAndJsonSayWhatTheyServe() throws Exception {
    try (Run run = new Run("dashboard", "--port", "0", "--read-only", "--json")) {
      JsonNode printed =
          await()
              .atMost(Duration.ofSeconds(20))
              .failFast(() -> !run.thread.isAlive())
              .until(
                  () -> {
                    String text = run.out.toString(StandardCharsets.UTF_8);
                    return text.contains("}") ? Render.JSON.readTree(text) : null;
                  },
                  n -> n != null);
      assertThat(printed.path("mode").asText()).isEqualTo("read-only");
      JsonNode overview = get(printed.path("url").asText(), "/api/overview");
      assertThat(overview.path("readOnly").asBoolean()).isTrue();
      assertThat(overview.path("actions").asBoolean()).isFalse();
    }
  }

  @Test
  void boundBeyondThisHostReadsNeedTheTokenUnlessOpenReadsAndWithoutEitherItIsAUsageError()
      throws Exception {
    CliRunner cli = new CliRunner(env, Providers::connect, false);
    CliRunner.Result unguarded = cli.run("dashboard", "--port", "0", "--bind", "0.0.0.0");
    assertThat(unguarded.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(unguarded.err()).contains("give --token").contains("--open-reads");

    try (Run run =
        new Run("dashboard", "--port", "0", "--bind", "0.0.0.0", "--token", "cli-token-123")) {
      Matcher m = run.started();
      assertThat(m.group(2)).isEqualTo("actions need the token, reads need the token");
      String base = "http://127.0.0.1:" + URI.create(m.group(1)).getPort() + "/";
      HttpResponse<String> refused =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "api/overview")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(refused.statusCode()).isEqualTo(401);
      HttpResponse<String> read =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "api/overview"))
                  .header(io.machinery.dashboard.Dashboard.TOKEN_HEADER, "cli-token-123")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(read.statusCode()).isEqualTo(200);
    }
    try (Run run = new Run("dashboard", "--port", "0", "--bind", "0.0.0.0", "--open-reads")) {
      Matcher m = run.started();
      assertThat(m.group(2)).isEqualTo("actions disabled: no --token");
      String base = "http://127.0.0.1:" + URI.create(m.group(1)).getPort() + "/";
      assertThat(get(base, "/api/overview").path("defaultQueue").asText()).isEqualTo(queue);
    }
  }

  @Test
  void aShortTokenOrABusyPortIsAUsageError() throws Exception {
    CliRunner cli = new CliRunner(env, Providers::connect, false);
    CliRunner.Result shortToken = cli.run("dashboard", "--port", "0", "--token", "short");
    assertThat(shortToken.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(shortToken.err()).contains("at least 8 characters");

    try (Run run = new Run("dashboard", "--port", "0")) {
      int port = URI.create(run.started().group(1)).getPort();
      CliRunner.Result busy = cli.run("dashboard", "--port", Integer.toString(port));
      assertThat(busy.code()).isEqualTo(MachineryCli.EXIT_USAGE);
      assertThat(busy.err()).contains("cannot bind the dashboard");
    }
  }
}
