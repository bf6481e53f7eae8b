package io.machinery.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Runs the Prometheus example, scrapes it over HTTP, and checks the README quotes it and its
 * output.
 */
class PrometheusMetricsTest {
  @Test
  void theExampleServesAScrapeWithTheTaskMetrics() throws Exception {
    CompletableFuture<String> url = new CompletableFuture<>();
    CountDownLatch stop = new CountDownLatch(1);
    Thread runner =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    PrometheusMetrics.run(0, url::complete, stop);
                  } catch (Exception e) {
                    url.completeExceptionally(e);
                  }
                });
    try {
      String scrape = scrape(url.get(30, java.util.concurrent.TimeUnit.SECONDS));
      assertThat(scrape)
          .contains("machinery_tasks_sent_total{exception=\"none\",task=\"add\"} 3.0")
          .contains("machinery_tasks_succeeded_total{task=\"add\"} 3.0")
          .contains("machinery_task_run_seconds_count{state=\"SUCCESS\",task=\"add\"} 3")
          .contains("machinery_task_run_seconds_bucket{")
          .contains("machinery_task_latency_seconds_count{task=\"add\"} 3")
          .contains("machinery_worker_slots{state=\"free\",worker=\"metrics-demo\"}")
          .contains("machinery_queue_pending{queue=\"machinery_tasks\"} 0.0");
      String readme = Files.readString(Path.of("../README.md"));
      for (String line :
          readme
              .substring(readme.indexOf("# scrape:begin"), readme.indexOf("# scrape:end"))
              .lines()
              .filter(l -> l.startsWith("machinery_"))
              .toList()) {
        assertThat(scrape).as("the README's scrape lines come from a real scrape").contains(line);
      }
    } finally {
      stop.countDown();
      runner.join(Duration.ofSeconds(10));
    }
  }

  @Test
  void theReadmeQuotesTheExample() throws Exception {
    String source =
        Files.readString(Path.of("src/main/java/io/machinery/examples/PrometheusMetrics.java"));
    String begin = "// README:metrics:begin\n";
    int from = source.indexOf(begin) + begin.length();
    String snippet =
        source.substring(from, source.indexOf("// README:metrics:end", from)).stripIndent();
    assertThat(Files.readString(Path.of("../README.md")))
        .as("README.md quotes PrometheusMetrics.java")
        .contains(snippet);
  }

  private static String scrape(String url) {
    HttpClient client = HttpClient.newHttpClient();
    String[] body = new String[1];
    // the worker may still be settling the last task's metrics when the sender has its result
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              body[0] =
                  client
                      .send(
                          HttpRequest.newBuilder(URI.create(url)).build(),
                          HttpResponse.BodyHandlers.ofString())
                      .body();
              return body[0].contains("machinery_tasks_succeeded_total{task=\"add\"} 3.0");
            });
    return body[0];
  }
}
