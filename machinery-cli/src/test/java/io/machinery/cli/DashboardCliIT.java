package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.dashboard.testing.CuttableRedis;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
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
      this(env, args);
    }

    Run(Map<String, String> env, String... args) {
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

  /**
   * {@code --read-timeout} and {@code --max-concurrent-reads} reach the dashboard (they were
   * constants, 10 s and 16): with the deployment's Redis cut off, of two reads sent at once one
   * answers 503 "did not answer within 1 s" within a few seconds and the other, while that one
   * waits, 503 "1 read is still waiting" at once.
   */
  @Test
  void theReadBoundsOptionsBoundTheDashboardsReads() throws Exception {
    try (CuttableRedis redis = CuttableRedis.start();
        Run run =
            new Run(
                Map.of(
                    "BROKER", redis.url(), "RESULT_BACKEND", redis.url(), "DEFAULT_QUEUE", queue),
                "dashboard",
                "--port",
                "0",
                "--read-timeout",
                "1s",
                "--max-concurrent-reads",
                "1")) {
      String base = run.started().group(1);
      get(base, "/api/overview");
      redis.proxy().cut();
      try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
        long started = System.nanoTime();
        List<Future<HttpResponse<String>>> answers = new ArrayList<>();
        for (String read : List.of("/api/overview", "/api/queue?tab=pending")) {
          answers.add(
              clients.submit(
                  () ->
                      http.send(
                          HttpRequest.newBuilder(URI.create(base + read.substring(1)))
                              .timeout(Duration.ofMinutes(1))
                              .build(),
                          HttpResponse.BodyHandlers.ofString())));
        }
        List<String> errors = new ArrayList<>();
        for (Future<HttpResponse<String>> answer : answers) {
          HttpResponse<String> r = answer.get(1, TimeUnit.MINUTES);
          assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
          errors.add(Render.JSON.readTree(r.body()).path("error").asText());
        }
        assertThat(Duration.ofNanos(System.nanoTime() - started))
            .as("answered within the 1 s read timeout and some slack, not the default 10 s")
            .isLessThan(Duration.ofSeconds(1 + 3));
        assertThat(errors)
            .anySatisfy(e -> assertThat(e).contains("did not answer within 1 s"))
            .anySatisfy(e -> assertThat(e).startsWith("1 read is still waiting for the broker"));
      } finally {
        redis.proxy().resume();
      }
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
