package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.dashboard.testing.CuttableRedis;
import io.machinery.testkit.DroppingTcpProxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The dashboard on a real Redis broker and backend reached through a proxy that drops every
 * connection, as a Redis restart or a network partition would.
 */
class DashboardBrokerDownIT {
  /** The broker's own timeout here: far longer than the dashboard waits. */
  private static final Duration REDIS_READ_TIMEOUT = Duration.ofSeconds(30);

  /** More reads than run at once by default ({@link Dashboard#DEFAULT_MAX_CONCURRENT_READS}). */
  private static final int MORE_READS_THAN_RUN_AT_ONCE = 20;

  /**
   * The dashboard's default deadline for a read ({@link Dashboard#DEFAULT_READ_TIMEOUT}), and some
   * slack.
   */
  private static final Duration ANSWERED_WITHIN = Duration.ofSeconds(10 + 4);

  /**
   * With the broker down, each read waited for the broker's timeout (30 s here, 15 s by default)
   * and the reads that list a queue waited for each other's, one listing at a time: the page showed
   * nothing for minutes and every poll left a request thread waiting. A read now answers 503 in the
   * dashboard's words within its deadline, concurrent reads too; beyond 16 reads running at once a
   * read answers at once; and the dashboard serves again once the broker is back.
   */
  @Test
  void withTheBrokerDownConcurrentReadsAreAnsweredWithinTheDeadline() throws Exception {
    behindADroppingProxy(
        builder -> builder,
        (proxy, http, base, uuid) -> {
          int waitedForOthers =
              readWhileCut(
                  proxy, http, base, uuid, MORE_READS_THAN_RUN_AT_ONCE, ANSWERED_WITHIN, "10 s");
          assertThat(waitedForOthers)
              .as("reads beyond those that may run at once answer at once")
              .isGreaterThanOrEqualTo(
                  MORE_READS_THAN_RUN_AT_ONCE - Dashboard.DEFAULT_MAX_CONCURRENT_READS);
        });
  }

  /**
   * The read deadline and the number of reads running at once were constants (10 s, 16), too short
   * for a deployment whose listings are slow and too long for an operator who wants to learn of an
   * outage at once. They are the builder's: with 1 s and 2 reads, every read answers 503 within 1 s
   * and some slack, saying "within 1 s", and beyond 2 running reads a read answers at once.
   */
  @Test
  void theReadTimeoutAndTheReadsRunningAtOnceAreTheBuildersSettings() throws Exception {
    int reads = 6;
    int atOnce = 2;
    behindADroppingProxy(
        builder -> builder.readTimeout(Duration.ofSeconds(1)).maxConcurrentReads(atOnce),
        (proxy, http, base, uuid) -> {
          int waitedForOthers =
              readWhileCut(proxy, http, base, uuid, reads, Duration.ofSeconds(1 + 3), "1 s");
          assertThat(waitedForOthers)
              .as("reads beyond the %d that may run at once answer at once", atOnce)
              .isGreaterThanOrEqualTo(reads - atOnce);
        });
  }

  /** What a test does with a dashboard whose Redis it can cut off. */
  @FunctionalInterface
  private interface WithProxy {
    /**
     * @param base the dashboard's address, without a trailing slash
     * @param uuid a task waiting in the default queue
     */
    void run(DroppingTcpProxy proxy, HttpClient http, String base, String uuid) throws Exception;
  }

  /**
   * Runs {@code test} on a dashboard ({@code settings} applied to its builder) over a real Redis
   * broker and backend reached through a proxy, with one task waiting; then checks that the
   * dashboard serves again once the proxy lets connections through, and purges the queue.
   */
  private static void behindADroppingProxy(
      UnaryOperator<Dashboard.Builder> settings, WithProxy test) throws Exception {
    String queue = "dash_down_" + UUID.randomUUID().toString().substring(0, 8);
    try (CuttableRedis redis = CuttableRedis.start()) {
      DroppingTcpProxy proxy = redis.proxy();
      Config config =
          Config.builder()
              .broker(redis.url())
              .resultBackend(redis.url())
              .defaultQueue(queue)
              .redis(RedisConfig.DEFAULT.withReadTimeout(REDIS_READ_TIMEOUT))
              .build();
      try (RedisBroker broker = RedisBroker.builder(config).build();
          RedisBackend backend = RedisBackend.create(config);
          Server server = Server.builder().config(config).broker(broker).backend(backend).build();
          Dashboard dashboard = settings.apply(Dashboard.builder(server).port(0)).build().start()) {
        String uuid = server.sendTask(Signature.create("add")).taskUuid();
        String base = "http://127.0.0.1:" + dashboard.address().getPort();
        HttpClient http = HttpClient.newHttpClient();
        assertThat(get(http, base + "/api/overview").statusCode()).isEqualTo(200);
        try {
          test.run(proxy, http, base, uuid);
        } finally {
          proxy.resume();
        }
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> get(http, base + "/api/queue?tab=pending").statusCode() == 200);
        JsonNode page = HttpProbe.JSON.readTree(get(http, base + "/api/queue?tab=pending").body());
        assertThat(page.path("items").get(0).path("uuid").asText()).isEqualTo(uuid);
        broker.inspector().orElseThrow().purge(queue);
      }
    }
  }

  /**
   * Cuts the proxy and sends {@code count} different reads at once; checks that each answers 503 in
   * the dashboard's words within {@code within}, a deadline given up saying {@code deadline}.
   *
   * @return how many were refused at once because too many reads were running
   */
  private static int readWhileCut(
      DroppingTcpProxy proxy,
      HttpClient http,
      String base,
      String uuid,
      int count,
      Duration within,
      String deadline)
      throws Exception {
    proxy.cut();
    List<String> reads =
        new ArrayList<>(
            List.of(
                "/api/overview",
                "/api/workers",
                "/api/queue?tab=pending",
                "/api/queue?tab=dead",
                "/api/queue?tab=delayed",
                "/api/task?uuid=" + uuid,
                "/api/limits",
                "/api/breakers"));
    for (int offset = 1; reads.size() < count; offset++) {
      reads.add("/api/queue?tab=pending&offset=" + offset);
    }
    reads = reads.subList(0, count);
    int waitedForOthers = 0;
    try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
      long started = System.nanoTime();
      List<Future<HttpResponse<String>>> answers = new ArrayList<>();
      for (String read : reads) {
        answers.add(clients.submit(() -> get(http, base + read)));
      }
      for (int i = 0; i < reads.size(); i++) {
        HttpResponse<String> answer = answers.get(i).get(2, TimeUnit.MINUTES);
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(took).as(reads.get(i)).isLessThan(within);
        assertThat(answer.statusCode()).as(reads.get(i)).isEqualTo(503);
        String error = HttpProbe.JSON.readTree(answer.body()).path("error").asText();
        if (error.contains("still waiting for the broker or the result backend")) {
          waitedForOthers++;
        }
        assertThat(error)
            .as(reads.get(i))
            .containsAnyOf(
                "did not answer within " + deadline,
                "still waiting for the broker",
                "waiting for the broker for " + deadline,
                "may be down or unreachable");
      }
    }
    return waitedForOthers;
  }

  private static HttpResponse<String> get(HttpClient http, String uri) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofMinutes(2)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
