package io.machinery.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The service answers 503 with {@code Retry-After} when its queue is full: here a queue of its own
 * bounded at one waiting task ({@code machinery.bounds}), and no worker, so what is sent stays.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SpringBootServiceQueueFullIT extends ServiceOverHttp {
  private static final String QUEUE =
      "spring_service_full_it_" + UUID.randomUUID().toString().substring(0, 8);

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    onTestRedis(registry, QUEUE);
    registry.add("machinery.worker.enabled", () -> "false");
    registry.add("machinery.bounds." + QUEUE + ".max-pending", () -> "1");
  }

  @Test
  void aChordThatDoesNotFitAndOneSentToAFullQueueAreAnswered503() throws Exception {
    HttpResponse<String> tooBig = postChords("{\"pairs\":[[1,1],[2,2]]}");
    assertThat(tooBig.statusCode()).isEqualTo(503);
    assertThat(tooBig.headers().firstValue("Retry-After")).contains("5");
    assertThat(tooBig.body()).contains("2 tasks sent at once can never fit");

    assertThat(postChords("{\"pairs\":[[1,1]]}").statusCode()).isEqualTo(202);

    HttpResponse<String> full = postChords("{\"pairs\":[[2,2]]}");
    assertThat(full.statusCode()).isEqualTo(503);
    assertThat(full.body()).contains("is full: 1 task waiting, bound 1");
  }
}
