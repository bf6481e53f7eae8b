package io.machinery.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.testkit.TestEndpoints;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The service on a random port against the real Redis at REDIS_URL, driven over HTTP as a client
 * would.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SpringBootServiceIT {
  private static final String QUEUE =
      "spring_service_it_" + UUID.randomUUID().toString().substring(0, 8);
  private static String redisUrl = "";

  @LocalServerPort int port;

  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void endpoints() {
    redisUrl = TestEndpoints.redisUrl(); // skips, or fails under CI=true, before the service starts
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    registry.add("machinery.broker", () -> redisUrl);
    registry.add("machinery.result_backend", () -> redisUrl);
    registry.add("machinery.default_queue", () -> QUEUE);
    registry.add("machinery.redis.delayed_tasks_key", () -> QUEUE + "_delayed");
  }

  @Test
  void aPostedChordIsComputedByTheServicesOwnWorkerAndServed() throws Exception {
    HttpResponse<String> sent =
        http.send(
            HttpRequest.newBuilder(uri("/chords"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"pairs\":[[1,1],[2,2],[5,6]]}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(sent.statusCode()).isEqualTo(202);
    String location = sent.headers().firstValue("Location").orElseThrow();
    assertThat(location).startsWith("/chords/");

    AtomicReference<String> body = new AtomicReference<>("");
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              body.set(
                  http.send(
                          HttpRequest.newBuilder(uri(location)).build(),
                          HttpResponse.BodyHandlers.ofString())
                      .body());
              return body.get().contains("\"state\":\"SUCCESS\"");
            });
    assertThat(body.get()).contains("\"result\":88");
  }

  @Test
  void aBadRequestIsRefusedWithAReason() throws Exception {
    HttpResponse<String> refused =
        http.send(
            HttpRequest.newBuilder(uri("/chords"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"pairs\":[]}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(refused.body()).contains("pairs must hold 1 to 100");
  }

  @Test
  void actuatorHealthIncludesMachinery() throws Exception {
    HttpResponse<String> health =
        http.send(
            HttpRequest.newBuilder(uri("/actuator/health")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.body()).contains("\"machinery\":{\"status\":\"UP\"");
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
