package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Server;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** The README's dashboard example, verbatim, on the memory broker. */
class DashboardReadmeExampleTest {

  @Test
  void theReadmeExampleServesThePage() throws Exception {
    String token = "s3cret-token";
    HttpResponse<String> page;
    try (Server server = Server.builder().build()) {
      // README:dashboard:begin
      try (Dashboard dashboard =
          Dashboard.builder(server) // io.machinery:machinery-dashboard
              .port(0) // default 8090; 0 picks a free port
              .token(token) // actions need it; without a token every action is refused
              .build()
              .start()) {
        System.out.println("dashboard on " + dashboard.uri()); // http://127.0.0.1:<port>/
        page =
            HttpClient.newHttpClient()
                .send(
                    HttpRequest.newBuilder(dashboard.uri()).build(),
                    HttpResponse.BodyHandlers.ofString());
      }
      // README:dashboard:end
    }
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.body()).contains("<html");
  }
}
