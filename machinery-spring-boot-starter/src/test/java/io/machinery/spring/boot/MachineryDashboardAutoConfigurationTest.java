package io.machinery.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.dashboard.Dashboard;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * {@code machinery.dashboard.*}: the dashboard starts with the context only when enabled, and
 * serves its API.
 */
class MachineryDashboardAutoConfigurationTest {
  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(
                  MachineryAutoConfiguration.class, MachineryDashboardAutoConfiguration.class))
          .withPropertyValues(
              "machinery.broker=memory://",
              "machinery.result_backend=memory://",
              "machinery.worker.enabled=false");

  private static HttpResponse<String> post(int port, String action, String token)
      throws IOException, InterruptedException {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/action/" + action))
            .header("Content-Type", "application/json")
            .header(Dashboard.TOKEN_HEADER, token)
            .POST(HttpRequest.BodyPublishers.ofString("{}"))
            .build();
    try (HttpClient client = HttpClient.newHttpClient()) {
      return client.send(request, HttpResponse.BodyHandlers.ofString());
    }
  }

  @Test
  void offByDefault() {
    runner.run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(Dashboard.class));
  }

  @Test
  void enabledItListensOnLoopbackWithTheTokenAndClosesWithTheContext() {
    int[] port = new int[1];
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.token=starter-token")
        .run(
            context -> {
              assertThat(context).hasNotFailed().hasSingleBean(Dashboard.class);
              Dashboard dashboard = context.getBean(Dashboard.class);
              assertThat(dashboard.address().getAddress().isLoopbackAddress()).isTrue();
              port[0] = dashboard.address().getPort();
              assertThat(post(port[0], "pause", "wrong-token!").statusCode()).isEqualTo(401);
              assertThat(post(port[0], "pause", "starter-token").statusCode()).isEqualTo(200);
            });
    assertThatThrownBy(() -> post(port[0], "resume", "starter-token"))
        .as("closed with the context")
        .isInstanceOf(IOException.class);
  }

  @Test
  void readOnlyRefusesActions() {
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.token=starter-token",
            "machinery.dashboard.read-only=true")
        .run(
            context ->
                assertThat(
                        post(
                                context.getBean(Dashboard.class).address().getPort(),
                                "pause",
                                "starter-token")
                            .statusCode())
                    .isEqualTo(403));
  }

  @Test
  void boundBeyondLoopbackItNeedsATokenForReadsOrOpenReads() {
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.bind-address=0.0.0.0")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("serves task data to the network"));
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.bind-address=0.0.0.0",
            "machinery.dashboard.open-reads=true")
        .run(
            context -> {
              int port = context.getBean(Dashboard.class).address().getPort();
              assertThat(get(port, "/api/overview").statusCode()).isEqualTo(200);
            });
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.bind-address=0.0.0.0",
            "machinery.dashboard.token=starter-token")
        .run(
            context -> {
              int port = context.getBean(Dashboard.class).address().getPort();
              assertThat(get(port, "/api/overview").statusCode()).isEqualTo(401);
            });
  }

  /** The read bounds reach the dashboard's builder, whose checks refuse what is out of range. */
  @Test
  void theReadBoundsAreTheDashboardsOwnSettings() {
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.read-timeout=0s")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("readTimeout must be from 1ms to 1h"));
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.max-concurrent-reads=0")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("maxConcurrentReads must be 1..10000"));
    runner
        .withPropertyValues(
            "machinery.dashboard.enabled=true",
            "machinery.dashboard.port=0",
            "machinery.dashboard.read-timeout=30s",
            "machinery.dashboard.max-concurrent-reads=4")
        .run(
            context -> {
              int port = context.getBean(Dashboard.class).address().getPort();
              assertThat(get(port, "/api/overview").statusCode()).isEqualTo(200);
            });
  }

  private static HttpResponse<String> get(int port, String path)
      throws IOException, InterruptedException {
    try (HttpClient client = HttpClient.newHttpClient()) {
      return client.send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
          HttpResponse.BodyHandlers.ofString());
    }
  }

  @Test
  void withoutTheModuleNothingIsConfigured() {
    runner
        .withPropertyValues("machinery.dashboard.enabled=true")
        .withClassLoader(new FilteredClassLoader(Dashboard.class))
        .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean("machineryDashboard"));
  }
}
