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
import io.machinery.testkit.DroppingTcpProxy;
import io.machinery.testkit.TestEndpoints;
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
import org.junit.jupiter.api.Test;

/**
 * The dashboard on a real Redis broker and backend reached through a proxy that drops every
 * connection, as a Redis restart or a network partition would.
 */
class DashboardBrokerDownIT {
  /** The broker's own timeout here: far longer than the dashboard waits. */
  private static final Duration REDIS_READ_TIMEOUT = Duration.ofSeconds(30);

  /** More reads than run at once ({@code BoundedReads.MAX_WAITING}, 16). */
  private static final int MORE_READS_THAN_RUN_AT_ONCE = 20;

  /** The dashboard's deadline for a read ({@code BoundedReads.DEADLINE}), and some slack. */
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
    URI redis = URI.create(TestEndpoints.redisUrl());
    String queue = "dash_down_" + UUID.randomUUID().toString().substring(0, 8);
    try (DroppingTcpProxy proxy =
        DroppingTcpProxy.start(redis.getHost(), redis.getPort() < 0 ? 6379 : redis.getPort())) {
      String url =
          redis.getScheme()
              + "://"
              + (redis.getRawUserInfo() == null ? "" : redis.getRawUserInfo() + "@")
              + "127.0.0.1:"
              + proxy.port()
              + (redis.getRawPath() == null ? "" : redis.getRawPath());
      Config config =
          Config.builder()
              .broker(url)
              .resultBackend(url)
              .defaultQueue(queue)
              .redis(RedisConfig.DEFAULT.withReadTimeout(REDIS_READ_TIMEOUT))
              .build();
      try (RedisBroker broker = RedisBroker.builder(config).build();
          RedisBackend backend = RedisBackend.create(config);
          Server server = Server.builder().config(config).broker(broker).backend(backend).build();
          Dashboard dashboard = Dashboard.builder(server).port(0).build().start();
          ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
        String uuid = server.sendTask(Signature.create("add")).taskUuid();
        String base = "http://127.0.0.1:" + dashboard.address().getPort();
        HttpClient http = HttpClient.newHttpClient();
        assertThat(get(http, base + "/api/overview").statusCode()).isEqualTo(200);
        try {
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
          for (int offset = 1; reads.size() < MORE_READS_THAN_RUN_AT_ONCE; offset++) {
            reads.add("/api/queue?tab=pending&offset=" + offset);
          }
          int waitedForOthers = 0;
          long started = System.nanoTime();
          List<Future<HttpResponse<String>>> answers = new ArrayList<>();
          for (String read : reads) {
            answers.add(clients.submit(() -> get(http, base + read)));
          }
          for (int i = 0; i < reads.size(); i++) {
            HttpResponse<String> answer = answers.get(i).get(2, TimeUnit.MINUTES);
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(took).as(reads.get(i)).isLessThan(ANSWERED_WITHIN);
            assertThat(answer.statusCode()).as(reads.get(i)).isEqualTo(503);
            JsonNode body = HttpProbe.JSON.readTree(answer.body());
            if (body.path("error").asText().contains("reads are still waiting")) {
              waitedForOthers++;
            }
            assertThat(body.path("error").asText())
                .as(reads.get(i))
                .containsAnyOf(
                    "did not answer within",
                    "still waiting for the broker",
                    "waiting for the broker for",
                    "may be down or unreachable");
          }
          assertThat(waitedForOthers)
              .as("reads beyond those that may run at once answer at once")
              .isGreaterThanOrEqualTo(MORE_READS_THAN_RUN_AT_ONCE - 16);
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

  private static HttpResponse<String> get(HttpClient http, String uri) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofMinutes(2)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
