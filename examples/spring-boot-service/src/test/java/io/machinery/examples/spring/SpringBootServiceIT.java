package io.machinery.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The service on a random port against the real Redis at REDIS_URL, driven over HTTP as a client
 * would.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SpringBootServiceIT extends ServiceOverHttp {
  private static final String QUEUE =
      "spring_service_it_" + UUID.randomUUID().toString().substring(0, 8);

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    onTestRedis(registry, QUEUE);
  }

  @Test
  void aPostedChordIsComputedByTheServicesOwnWorkerAndServed() throws Exception {
    HttpResponse<String> sent = postChords("{\"pairs\":[[1,1],[2,2],[5,6]]}");
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
    HttpResponse<String> refused = postChords("{\"pairs\":[]}");
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
}
