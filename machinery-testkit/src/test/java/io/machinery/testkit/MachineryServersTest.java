package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.testkit.MachineryServers.ContainerSource;
import io.machinery.testkit.MachineryServers.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.testcontainers.DockerClientFactory;

/**
 * Where {@link MachineryServers} takes a server from, with fake container sources (no server
 * needed).
 */
class MachineryServersTest {

  /** A fake container source that records what it was asked to start. */
  static final class FakeSource implements ContainerSource {
    final Optional<String> unavailable;
    final List<Kind> starts = new ArrayList<>();

    FakeSource(Optional<String> unavailable) {
      this.unavailable = unavailable;
    }

    @Override
    public Optional<String> unavailableBecause() {
      return unavailable;
    }

    @Override
    public String start(Kind kind) {
      starts.add(kind);
      return kind.url("container-host", 32768);
    }
  }

  @Test
  void anEndpointVariableWinsAndNoContainerStarts() {
    FakeSource containers = new FakeSource(Optional.empty());
    assertThat(
            MachineryServers.resolve(
                Kind.REDIS, Map.of("REDIS_URL", "redis://10.0.0.5:6380"), containers))
        .isEqualTo("redis://10.0.0.5:6380");
    assertThat(
            MachineryServers.resolve(
                Kind.RABBITMQ, Map.of("AMQP_URL", "amqp://u:p@mq:5672/"), containers))
        .isEqualTo("amqp://u:p@mq:5672/");
    assertThat(containers.starts).isEmpty();
  }

  @Test
  void withoutTheVariableAContainerIsStartedAndAddressedByItsMappedPort() {
    FakeSource containers = new FakeSource(Optional.empty());
    assertThat(MachineryServers.resolve(Kind.REDIS, Map.of("REDIS_URL", " "), containers))
        .isEqualTo("redis://container-host:32768");
    assertThat(MachineryServers.resolve(Kind.RABBITMQ, Map.of(), containers))
        .isEqualTo("amqp://guest:guest@container-host:32768/");
    assertThat(containers.starts).containsExactly(Kind.REDIS, Kind.RABBITMQ);
  }

  @Test
  void withNeitherTheTestFailsSayingHowToFixIt() {
    FakeSource containers =
        new FakeSource(Optional.of("Testcontainers found no Docker engine (why)"));
    assertThatThrownBy(() -> MachineryServers.resolve(Kind.RABBITMQ, Map.of(), containers))
        .isInstanceOf(ExtensionConfigurationException.class)
        .hasMessageContaining(
            "This test needs RabbitMQ, but AMQP_URL is not set and Testcontainers found no"
                + " Docker engine (why)")
        .hasMessageContaining("set AMQP_URL to a running server")
        .hasMessageContaining("make services");
    assertThat(containers.starts).isEmpty();
  }

  /**
   * This machine and CI have no Docker engine: the real source must say so rather than try to start
   * one.
   */
  @Test
  @EnabledIf("noDockerEngine")
  void theRealSourceReportsAMissingDockerEngine() {
    assertThat(MachineryServers.Testcontainers.SOURCE.unavailableBecause())
        .hasValueSatisfying(reason -> assertThat(reason).contains("no Docker engine"));
    assertThatThrownBy(
            () ->
                MachineryServers.resolve(
                    Kind.REDIS, Map.of(), MachineryServers.Testcontainers.SOURCE))
        .hasMessageContaining("REDIS_URL is not set and Testcontainers found no Docker engine");
  }

  static boolean noDockerEngine() {
    return !DockerClientFactory.instance().isDockerAvailable();
  }
}
