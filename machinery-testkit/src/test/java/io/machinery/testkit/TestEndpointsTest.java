package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.testkit.MachineryServers.Kind;
import io.machinery.testkit.MachineryServersTest.FakeSource;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * Where the project's ITs take a server from: variable, else container, else fail (CI) or abort;
 * fake sources.
 */
class TestEndpointsTest {
  private static final FakeSource DOCKER = new FakeSource(Optional.empty());
  private static final FakeSource NO_DOCKER =
      new FakeSource(Optional.of("Testcontainers found no Docker engine (why)"));

  @Test
  void theVariableWinsOverAContainer() {
    FakeSource docker = new FakeSource(Optional.empty());
    assertThat(
            TestEndpoints.resolve(
                "REDIS_URL", "Redis", Kind.REDIS, Map.of("REDIS_URL", "redis://h:1"), docker))
        .isEqualTo("redis://h:1");
    assertThat(docker.starts).isEmpty();
  }

  @Test
  void withoutTheVariableADockerEngineGivesAContainerEvenUnderCi() {
    FakeSource docker = new FakeSource(Optional.empty());
    assertThat(
            TestEndpoints.resolve("REDIS_URL", "Redis", Kind.REDIS, Map.of("CI", "true"), docker))
        .isEqualTo("redis://container-host:32768");
    assertThat(
            TestEndpoints.resolve(
                "AMQP_URL", "RabbitMQ", Kind.RABBITMQ, Map.of("AMQP_URL", ""), docker))
        .isEqualTo("amqp://guest:guest@container-host:32768/");
    assertThat(docker.starts).containsExactly(Kind.REDIS, Kind.RABBITMQ);
  }

  @Test
  void withNeitherItFailsWhenServicesAreRequired() {
    assertThatThrownBy(
            () ->
                TestEndpoints.resolve(
                    "AMQP_URL",
                    "RabbitMQ",
                    Kind.RABBITMQ,
                    Map.of("IT_REQUIRE_SERVICES", "true"),
                    NO_DOCKER))
        .isInstanceOf(AssertionFailedError.class)
        .hasMessageContaining("AMQP_URL is not set")
        .hasMessageContaining("make services")
        .hasMessageContaining("No container either: Testcontainers found no Docker engine (why)");
    assertThat(NO_DOCKER.starts).isEmpty();
  }

  @Test
  void withNeitherItAbortsOnADevelopersMachine() {
    assertThatThrownBy(
            () ->
                TestEndpoints.resolve(
                    "REDIS_URL", "Redis", Kind.REDIS, Map.of("CI", "false"), NO_DOCKER))
        .isInstanceOf(TestAbortedException.class)
        .hasMessageContaining("REDIS_URL is not set");
  }

  @Test
  void aServerWithoutAContainerNeverAsksDocker() {
    assertThatThrownBy(
            () ->
                TestEndpoints.resolve("MONGODB_URI", "MongoDB", null, Map.of("CI", "true"), DOCKER))
        .isInstanceOf(AssertionFailedError.class)
        .hasMessageContaining("MONGODB_URI is not set")
        .hasMessageNotContaining("container");
    assertThat(DOCKER.starts).isEmpty();
  }
}
