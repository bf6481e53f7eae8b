package io.machinery.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.testkit.TestEndpoints;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The service answers 503 with {@code Retry-After} when its queue is full: here a queue of its own
 * bounded at one waiting task ({@code machinery.bounds}), and no worker, so what is sent stays.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SpringBootServiceQueueFullIT {
  private static final String QUEUE =
      "spring_service_full_it_" + UUID.randomUUID().toString().substring(0, 8);
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
    registry.add("machinery.worker.enabled", () -> "false");
    registry.add("machinery.bounds." + QUEUE + ".max-pending", () -> "1");
  }

  private HttpResponse<String> post(String pairs) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/chords"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"pairs\":" + pairs + "}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aChordThatDoesNotFitAndOneSentToAFullQueueAreAnswered503() throws Exception {
    HttpResponse<String> tooBig = post("[[1,1],[2,2]]");
    assertThat(tooBig.statusCode()).isEqualTo(503);
    assertThat(tooBig.headers().firstValue("Retry-After")).contains("5");
    assertThat(tooBig.body()).contains("2 tasks sent at once can never fit");

    assertThat(post("[[1,1]]").statusCode()).isEqualTo(202);

    HttpResponse<String> full = post("[[2,2]]");
    assertThat(full.statusCode()).isEqualTo(503);
    assertThat(full.body()).contains("is full: 1 task waiting, bound 1");
  }
}
