package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Server;
import io.machinery.embedded.EagerBroker;
import io.machinery.embedded.NullBackend;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * An audit of every error answer with hostile input over real HTTP on the memory broker: what a
 * client sends comes back bounded, escaped and as JSON; a deployment that lacks something is
 * answered in the dashboard's words; oversized queries are refused before any work.
 */
class DashboardHostileInputTest extends MemoryServerFixture {
  /** Terminal escapes (title, clear screen), markup and a right-to-left override. */
  private static final String HOSTILE =
      "\u001b]0;owned\u0007\u001b[2J\u009b31m<script>alert(1)</script>\u202egnp.exe";

  private static final String LONG = "x".repeat(100_000);

  // the limits, as literals so that this test compiles against the code before them (the control)
  private static final int MAX_SEARCH_CHARS = 512;
  private static final int MAX_QUERY_PARAMETERS = 16;
  private static final int MAX_QUERY_CHARS = 8_192;

  /**
   * The 404 "no such API" (and "no such page", "no such action", the 405 "needs GET") echoed the
   * request's path whole: 100 KB of it, with the terminal escapes and the text-direction override
   * it held. Each quotes at most a short escaped part of it, as JSON the browser does not sniff.
   */
  @Test
  void aRequestPathIsEchoedBoundedAndEscaped() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    String path = URLEncoder.encode(HOSTILE, StandardCharsets.UTF_8).replace("+", "%20") + LONG;
    record Echo(String what, int status, HttpProbe.Response response) {}
    List<Echo> echoes =
        List.of(
            new Echo("no such API", 404, http.get("/api/" + path)),
            new Echo("no such page", 404, http.get("/" + path)),
            new Echo(
                "no such action",
                404,
                http.post("/api/action/" + path, "{}", Dashboard.TOKEN_HEADER, TOKEN)),
            new Echo("needs GET", 405, http.post("/api/" + path, "{}")));
    assertThat(echoes)
        .allSatisfy(
            e -> {
              assertThat(e.response().status()).as(e.what()).isEqualTo(e.status());
              assertSafeJsonError(e.response().header("Content-Type"), e.response().body());
              assertThat(error(e.response().body())).as(e.what()).contains(e.what());
            });
  }

  /**
   * The 421 quoted the {@code Host} header whole, the 403s the {@code Origin} and {@code
   * Sec-Fetch-Site} headers: a client's header of any length and bytes came back raw. They are
   * quoted bounded and escaped too.
   */
  @Test
  void aRequestsHeadersAreEchoedBoundedAndEscaped() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    String value = HOSTILE + "y".repeat(20_000);
    String host = "127.0.0.1:" + http.port();
    String action = "POST /api/action/pause HTTP/1.1\r\nHost: " + host + "\r\n";
    String body = "Content-Type: application/json\r\nContent-Length: 2\r\n";
    String end = "Connection: close\r\n\r\n";
    Map<String, String> requests =
        Map.of(
            "Host",
            "GET /api/overview HTTP/1.1\r\nHost: evil" + value + "\r\n" + end,
            "Origin",
            action + body + "Origin: http://evil" + value + "\r\n" + end + "{}",
            "Sec-Fetch-Site",
            action + body + "Sec-Fetch-Site: " + value + "\r\n" + end + "{}");
    for (Map.Entry<String, String> r : requests.entrySet()) {
      String answer = http.rawResponse(r.getValue());
      int split = answer.indexOf("\r\n\r\n");
      String head = answer.substring(0, split);
      assertThat(head).as(r.getKey()).matches("(?s)HTTP/1.1 4(21|03) .*");
      String type =
          head.lines()
              .filter(l -> l.toLowerCase(java.util.Locale.ROOT).startsWith("content-type:"))
              .findFirst()
              .orElse("")
              .substring("content-type:".length())
              .strip();
      assertSafeJsonError(type, answer.substring(split + 4).getBytes(StandardCharsets.ISO_8859_1));
    }
  }

  /**
   * A search of 5,000 characters was lower-cased again for each of up to 5,000 entries it scanned
   * (25 million characters copied for one request; the JDK's server takes queries of about 380 KB),
   * every one of any number of query parameters was decoded, and a query of any length was split
   * and decoded before anything was checked. Each is refused first, with the limit.
   */
  @Test
  void oversizedQueriesAreRefusedWithTheLimit() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    HttpProbe.Response search = http.get("/api/queue?tab=pending&q=" + "a".repeat(5_000));
    assertThat(search.status()).isEqualTo(400);
    assertThat(error(search.body())).contains("search").contains("at most " + MAX_SEARCH_CHARS);

    HttpProbe.Response many = http.get("/api/queue?" + "tab=pending&".repeat(100));
    assertThat(many.status()).isEqualTo(400);
    assertThat(error(many.body())).contains("at most " + MAX_QUERY_PARAMETERS);

    HttpProbe.Response huge = http.get("/api/task?uuid=x&pad=" + "p".repeat(100_000));
    assertThat(huge.status()).isEqualTo(414);
    assertThat(error(huge.body())).contains("at most " + MAX_QUERY_CHARS);
    assertSafeJsonError(huge.header("Content-Type"), huge.body());

    assertThat(http.get("/api/queue?tab=pending&q=" + "a".repeat(MAX_SEARCH_CHARS)).status())
        .as("a search at the limit")
        .isEqualTo(200);
  }

  /**
   * A token header of a megabyte is refused by the HTTP server before the dashboard reads it, the
   * connection closed at once, and the dashboard goes on serving. (Passes on the old code too: the
   * JDK's server bounds a request's headers; kept as the audit's record.)
   */
  @Test
  void anEnormousTokenHeaderIsRefusedAndTheDashboardGoesOnServing() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    long started = System.nanoTime();
    String answer;
    try {
      answer =
          http.rawResponse(
              "POST /api/action/pause HTTP/1.1\r\nHost: 127.0.0.1:"
                  + http.port()
                  + "\r\nContent-Type: application/json\r\n"
                  + Dashboard.TOKEN_HEADER
                  + ": "
                  + "t".repeat(1 << 20)
                  + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    } catch (java.net.SocketException e) {
      answer = ""; // refused and reset while the client was still writing the header
    }
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
    assertThat(answer).doesNotStartWith("HTTP/1.1 200").doesNotContain("t".repeat(1000));
    assertThat(server.controlPlane().orElseThrow().pausedQueues()).isEmpty();
    assertThat(http.get("/api/overview").status()).isEqualTo(200);
  }

  /**
   * An action's body is parsed before the token is checked (the authenticator may read it): a body
   * nested 100,000 levels deep, or a number of 200,000 digits, is a 400 in the dashboard's words,
   * not a stack overflow or a long parse. (Passes on the old code too: Jackson's read constraints
   * bound both; kept as the audit's record.)
   */
  @Test
  void aDeeplyNestedBodyOrAHugeNumberIsABadRequest() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    int depth = 100_000;
    List<String> bodies =
        List.of(
            "{\"ids\":" + "[".repeat(depth) + "]".repeat(depth) + "}",
            "{\"queue\":\"q\",\"all\":" + "9".repeat(200_000) + "}");
    for (String body : bodies) {
      long started = System.nanoTime();
      HttpProbe.Response r = http.post("/api/action/delete", body);
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
      assertThat(r.status()).isEqualTo(400);
      assertThat(error(r.body())).startsWith("the request body is not JSON");
      assertSafeJsonError(r.header("Content-Type"), r.body());
    }
  }

  /**
   * A 501 carried core's message as it was ("no control plane: neither the broker EagerBroker
   * ..."), and so did the reasons of /api/limits and /api/breakers, whatever a control plane of a
   * user's own put in them (here 100,000 characters with terminal escapes). Each says what was
   * asked, why it cannot be done and what to do, and quotes the underlying message bounded and
   * escaped.
   */
  @Test
  void whatADeploymentLacksIsAnsweredInTheDashboardsOwnWords() throws Exception {
    try (Server eager =
        Server.builder().broker(EagerBroker.create()).backend(NullBackend.create()).build()) {
      HttpProbe http = start(Dashboard.builder(eager).token(TOKEN));
      record Lack(String starts, String says, HttpProbe.Response response) {}
      List<Lack> lacks =
          List.of(
              new Lack("Listing the workers", "needs a control plane", http.get("/api/workers")),
              new Lack(
                  "Listing the pending tasks of queue machinery_tasks",
                  "needs a broker that can inspect its queues",
                  http.get("/api/queue?tab=pending")),
              new Lack(
                  "Pausing queue machinery_tasks",
                  "needs a control plane",
                  http.post("/api/action/pause", "{}", Dashboard.TOKEN_HEADER, TOKEN)),
              new Lack(
                  "Cancelling task task_x",
                  "needs a control plane",
                  http.post(
                      "/api/action/cancel",
                      "{\"uuid\":\"task_x\"}",
                      Dashboard.TOKEN_HEADER,
                      TOKEN)));
      assertThat(lacks)
          .allSatisfy(
              l -> {
                assertThat(l.response().status()).as(l.starts()).isEqualTo(501);
                assertSafeJsonError(l.response().header("Content-Type"), l.response().body());
                assertThat(error(l.response().body()))
                    .startsWith(l.starts() + " is not possible here")
                    .contains(l.says());
              });
      assertThat(http.json("/api/limits").path("reason").asText())
          .startsWith("Task limits set at run time cannot be listed here")
          .contains("needs a control plane");
    }
    String rambling = HOSTILE + "r".repeat(100_000);
    try (Server own =
        Server.builder()
            .broker(EagerBroker.create())
            .backend(NullBackend.create())
            .controlPlane(new RamblingPlane(rambling))
            .build()) {
      HttpProbe http = start(Dashboard.builder(own).token(TOKEN));
      for (String read : List.of("/api/limits", "/api/breakers")) {
        String reason = http.json(read).path("reason").asText();
        assertThat(reason)
            .as(read)
            .matches("(Task limits set at run time|Breaker openings) cannot be listed here.*")
            .contains("The deployment says: ")
            .hasSizeLessThan(1_000);
        assertNoControlOrFormatCharacters(reason);
      }
      HttpProbe.Response open =
          http.post(
              "/api/action/open-breaker",
              "{\"key\":\"charge\",\"openFor\":\"10m\"}",
              Dashboard.TOKEN_HEADER,
              TOKEN);
      assertThat(open.status()).isEqualTo(501);
      assertSafeJsonError(open.header("Content-Type"), open.body());
      assertThat(error(open.body())).startsWith("Opening breaker charge is not possible here");
    }
  }

  /** An authorized request's breaker key went into the log line as sent: CR/LF forged lines. */
  @Test
  void aBreakerKeyIsLoggedEscaped() throws Exception {
    ListAppender<ILoggingEvent> logged = recordDashboardLog();
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    http.post(
        "/api/action/close-breaker",
        "{\"key\":\"charge\\nINFO dashboard: purge on queue payments\"}",
        Dashboard.TOKEN_HEADER,
        TOKEN);
    List<String> lines =
        List.copyOf(logged.list).stream().map(ILoggingEvent::getFormattedMessage).toList();
    assertThat(lines).anySatisfy(l -> assertThat(l).contains("close-breaker on breaker charge"));
    assertThat(lines).allSatisfy(l -> assertThat(l).doesNotContain("\n"));
  }

  /** A control plane of a user's own whose refusals ramble on. */
  private static final class RamblingPlane implements ControlPlane {
    private final String message;

    RamblingPlane(String message) {
      this.message = message;
    }

    @Override
    public void announce(WorkerStatus status, Duration ttl) {}

    @Override
    public void withdraw(String workerId) {}

    @Override
    public List<WorkerStatus> workers() {
      return List.of();
    }

    @Override
    public void pause(String queue) {}

    @Override
    public void resume(String queue) {}

    @Override
    public Set<String> pausedQueues() {
      return Set.of();
    }

    @Override
    public Map<String, TaskLimitSetting> taskLimits() {
      throw new UnsupportedOperationException(message);
    }

    @Override
    public Map<String, BreakerOpening> openBreakers() {
      throw new UnsupportedOperationException(message);
    }

    @Override
    public BreakerOpening openBreaker(String key, Duration openFor, String reason, String by) {
      throw new UnsupportedOperationException(message);
    }
  }

  private static String error(byte[] body) throws java.io.IOException {
    return HttpProbe.JSON.readTree(body).path("error").asText();
  }

  /**
   * An error answer a browser shows as data and a terminal prints without interpreting: JSON that
   * must not be sniffed, short, its text free of control and format characters.
   */
  static void assertSafeJsonError(String contentType, byte[] body) throws java.io.IOException {
    assertThat(contentType).startsWith("application/json");
    assertThat(body.length).isLessThan(1_000);
    JsonNode node = HttpProbe.JSON.readTree(body);
    assertThat(node.isObject()).isTrue();
    List<String> texts = new ArrayList<>();
    node.forEach(v -> texts.add(v.asText()));
    texts.forEach(DashboardHostileInputTest::assertNoControlOrFormatCharacters);
  }

  static void assertNoControlOrFormatCharacters(String text) {
    assertThat(text.codePoints())
        .as(text)
        .noneMatch(c -> Character.isISOControl(c) || Character.getType(c) == Character.FORMAT);
  }
}
