package io.machinery.examples.spring;

import io.machinery.testkit.TestEndpoints;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.BeforeAll;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * What the service's HTTP tests share: the real Redis at REDIS_URL (resolved before the service
 * starts), a queue of the test's own on it, the service on a random port, and a client.
 */
abstract class ServiceOverHttp {
  private static String redisUrl = "";

  @LocalServerPort int port;

  final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void endpoints() {
    redisUrl = TestEndpoints.redisUrl(); // skips, or fails under CI=true, before the service starts
  }

  /** Points the service at the test Redis, with {@code queue} and its delayed-task key. */
  static void onTestRedis(DynamicPropertyRegistry registry, String queue) {
    registry.add("machinery.broker", () -> redisUrl);
    registry.add("machinery.result_backend", () -> redisUrl);
    registry.add("machinery.default_queue", () -> queue);
    registry.add("machinery.redis.delayed_tasks_key", () -> queue + "_delayed");
  }

  URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  HttpResponse<String> postChords(String json) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri("/chords"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
