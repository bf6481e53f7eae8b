package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigTest {
  @Test
  void defaultsAreGos() {
    Config c = Config.DEFAULT;
    assertThat(c.broker()).isEqualTo("amqp://guest:guest@localhost:5672/");
    assertThat(c.defaultQueue()).isEqualTo("machinery_tasks");
    assertThat(c.resultsExpireIn()).isEqualTo(3600);
    assertThat(c.amqp().exchange()).isEqualTo("machinery_exchange");
    assertThat(c.amqp().bindingKey()).isEqualTo("machinery_task");
    assertThat(c.amqp().prefetchCount()).isEqualTo(3);
    assertThat(c.redis().delayedTasksKey()).isEqualTo("delayed_tasks");
    assertThat(c.tls()).isFalse();
  }

  @Test
  void environmentVariablesUseGosNames() {
    Config c = Config.fromEnvironment(Map.of(
        "BROKER", "redis://127.0.0.1:6379",
        "DEFAULT_QUEUE", "q",
        "RESULTS_EXPIRE_IN", "30",
        "MULTIPLE_BROKEN_SEPARATOR", ",",
        "AMQP_EXCHANGE", "ex",
        "AMQP_PREFETCH_COUNT", "7",
        "AMQP_QUEUE_BINDING_ARGS", "image-type:png,x-match:any",
        "REDIS_NORMAL_TASKS_POLL_PERIOD", "10",
        "REDIS_CLUSTER_ENABLED", "true",
        "NO_UNIX_SIGNALS", "false"));
    assertThat(c.broker()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(c.defaultQueue()).isEqualTo("q");
    assertThat(c.resultsExpireIn()).isEqualTo(30);
    assertThat(c.multipleBrokerSeparator()).isEqualTo(",");
    assertThat(c.amqp().exchange()).isEqualTo("ex");
    assertThat(c.amqp().prefetchCount()).isEqualTo(7);
    assertThat(c.amqp().queueBindingArgs()).containsEntry("image-type", "png").containsEntry("x-match", "any");
    assertThat(c.redis().normalTasksPollPeriod()).isEqualTo(Duration.ofMillis(10));
    assertThat(c.redis().clusterEnabled()).isTrue();
    assertThat(c.noUnixSignals()).isFalse();
    assertThat(c.tls()).as("loading a config never turns TLS on (Go issue #517)").isFalse();
  }

  @Test
  void badValuesSayWhichVariableAndWhatIsExpected() {
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("RESULTS_EXPIRE_IN", "soon")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("RESULTS_EXPIRE_IN")
        .hasMessageContaining("whole number").hasMessageContaining("'soon'");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("REDIS_CLUSTER_ENABLED", "maybe")))
        .hasMessageContaining("true or false");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("RESULTS_EXPIRE_IN", "-1")))
        .hasMessageContaining("results_expire_in must be >= 0");
  }

  @Test
  void yamlUsesGosKeysAndHasNoSizeLimit(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("config.yml");
    String padding = "# " + "x".repeat(2000) + "\n"; // Go reads only the first 1000 bytes (issue #213)
    Files.writeString(file, padding + """
        broker: amqp://guest:guest@127.0.0.1:5672/
        default_queue: machinery_tasks
        result_backend: redis://127.0.0.1:6379
        results_expire_in: 3600000
        amqp:
          exchange: machinery_exchange
          exchange_type: direct
          binding_key: machinery_task
          prefetch_count: 1
          queue_declare_args:
            x-max-priority: 10
        redis:
          delayed_tasks_poll_period: 20
        """);
    Config c = Config.fromYaml(file);
    assertThat(c.resultBackend()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(c.resultsExpireIn()).isEqualTo(3_600_000);
    assertThat(c.amqp().prefetchCount()).isEqualTo(1);
    assertThat(c.amqp().queueDeclareArgs()).containsEntry("x-max-priority", 10);
    assertThat(c.redis().delayedTasksPollPeriod()).isEqualTo(Duration.ofMillis(20));
  }

  @Test
  void aBrokenYamlFileIsAClearError(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("bad.yml");
    Files.writeString(file, "broker: [unclosed\n");
    assertThatThrownBy(() -> Config.fromYaml(file)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot read YAML config");
    assertThatThrownBy(() -> Config.fromYaml(dir.resolve("missing.yml"))).hasMessageContaining("missing.yml");
  }

  @Test
  void credentialsNeverReachToString() {
    Config c = Config.builder().broker("amqp://user:secret@host:5672/vhost").resultBackend("redis://:pw@h:6379/1").build();
    assertThat(c.toString()).doesNotContain("secret").doesNotContain("pw").contains("amqp://host:5672");
  }
}
