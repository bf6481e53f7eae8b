package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.spi.ComponentProvider;
import io.machinery.spi.WorkerStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What needs no server: config sources, URL errors, exit codes, Go-typed arguments, the providers
 * in the jar.
 */
class MachineryCliTest {
  private final CliRunner memory =
      new CliRunner(
          Map.of("BROKER", "memory://", "RESULT_BACKEND", "memory://"), Providers::connect, false);

  @Test
  void everyModuleOfTheJarServesItsGoUrlForms() {
    List<ComponentProvider> providers = Providers.ALL;
    Map<String, String> moduleByKindAndUrl =
        Map.ofEntries(
            Map.entry("BROKER redis://localhost:6379", "machinery-broker-redis"),
            Map.entry("BROKER rediss://h:6380,h2:6380", "machinery-broker-redis"),
            Map.entry("BROKER amqps://guest:guest@h:5671/", "machinery-broker-amqp"),
            Map.entry(
                "BROKER https://sqs.us-east-2.amazonaws.com/123456789012", "machinery-broker-sqs"),
            Map.entry("BROKER gcppubsub://project/subscription", "machinery-broker-gcppubsub"),
            Map.entry("BACKEND redis+socket:///tmp/redis.sock", "machinery-backend-redis"),
            Map.entry("BACKEND amqp://guest:guest@h:5672/", "machinery-backend-amqp"),
            Map.entry("BACKEND mongodb+srv://cluster.example/", "machinery-backend-mongodb"),
            Map.entry("BACKEND memcache://h1:11211,h2:11211", "machinery-backend-memcache"),
            Map.entry(
                "BACKEND https://dynamodb.us-east-1.amazonaws.com", "machinery-backend-dynamodb"),
            Map.entry("LOCK redis://h:6379", "machinery-lock-redis"),
            Map.entry("LOCK amqp://guest:guest@h:5672/", "machinery-lock-amqp"));
    moduleByKindAndUrl.forEach(
        (kindAndUrl, module) -> {
          String[] parts = kindAndUrl.split(" ", 2);
          assertThat(
                  providers.stream()
                      .filter(p -> p.kind().name().equals(parts[0]) && p.serves(parts[1]))
                      .map(ComponentProvider::module)
                      .collect(Collectors.toList()))
              .as(kindAndUrl)
              .containsExactly(module);
        });
  }

  @Test
  void aBadOrUnservedUrlExitsThreeWithoutThePassword() {
    CliRunner.Result unknown = memory.run("queues", "--broker", "kafka://admin:hunter2@kafka:9092");
    assertThat(unknown.code()).isEqualTo(MachineryCli.EXIT_UNREACHABLE);
    assertThat(unknown.err())
        .contains("'kafka'")
        .contains("kafka://kafka:9092")
        .doesNotContain("hunter2");

    CliRunner.Result refused = memory.run("queues", "--broker", "redis://:hunter2@127.0.0.1:1/0");
    assertThat(refused.code()).isEqualTo(MachineryCli.EXIT_UNREACHABLE);
    assertThat(refused.err())
        .contains("127.0.0.1")
        .doesNotContain("hunter2")
        .doesNotContain("\tat ");

    CliRunner.Result verbose =
        memory.run("queues", "-v", "--broker", "redis://:hunter2@127.0.0.1:1/0");
    assertThat(verbose.err()).contains("\tat ").doesNotContain("hunter2");
  }

  @Test
  void aBrokerThatCannotBeInspectedExitsFour() {
    CliRunner.Result result = memory.run("queues", "--broker", "eager");
    assertThat(result.code()).isEqualTo(MachineryCli.EXIT_UNSUPPORTED);
    assertThat(result.err()).contains("cannot inspect");
  }

  @Test
  void aYamlConfigIsReadAndFlagsOverrideIt(@TempDir Path dir) throws Exception {
    Path yaml = dir.resolve("machinery.yml");
    Files.writeString(
        yaml, "broker: kafka://nowhere\nresult_backend: memory://\ndefault_queue: from_yaml\n");
    CliRunner.Result sent =
        memory.ok("send", "--config", yaml.toString(), "--broker", "memory://", "add", "int64:1");
    assertThat(sent.out()).contains("to from_yaml");
    assertThat(memory.run("--config", yaml.toString(), "queues").err()).contains("'kafka'");
    CliRunner.Result missing =
        memory.run("queues", "--config", dir.resolve("absent.yml").toString());
    assertThat(missing.code()).isEqualTo(MachineryCli.EXIT_USAGE);
  }

  /**
   * {@code config} shows the settings in effect, flags over the environment, passwords masked, and
   * connects to nothing (the broker named here does not exist).
   */
  @Test
  void configShowsTheSettingsInEffectWithoutPasswordsAndConnectsToNothing() throws Exception {
    CliRunner env =
        new CliRunner(
            Map.of(
                "BROKER", "redis://:hunter2@nowhere.invalid:6379/1",
                "RESULT_BACKEND", "memory://",
                "MACHINERY_QUEUE_BOUNDS", "emails:2,imports:10000:1m",
                "REDIS_SENTINEL_PASSWORD", "hush"),
            Providers::connect,
            false);
    CliRunner.Result table = env.ok("config", "--backend", "redis://127.0.0.1:6379/4");
    assertThat(table.out())
        .contains("VARIABLE")
        .containsPattern("BROKER +broker +redis://nowhere.invalid:6379")
        .containsPattern("RESULT_BACKEND +result_backend +redis://127.0.0.1:6379/4")
        .containsPattern("MACHINERY_QUEUE_BOUNDS +queue_bounds +emails:2,imports:10000:1m0s")
        .containsPattern("REDIS_SENTINEL_PASSWORD +redis.sentinel_password +\\*\\*\\*")
        .doesNotContain("hunter2")
        .doesNotContain("hush");
    CliRunner.Result json = env.ok("config", "--json");
    com.fasterxml.jackson.databind.JsonNode settings = Render.JSON.readTree(json.out());
    assertThat(settings.isArray()).isTrue();
    assertThat(settings.get(0).path("variable").asText()).isEqualTo("BROKER");
    assertThat(settings.get(0).path("yaml").asText()).isEqualTo("broker");
    assertThat(settings.get(0).path("value").asText()).isEqualTo("redis://nowhere.invalid:6379");
    assertThat(json.out()).doesNotContain("hunter2");
  }

  @Test
  void aWorkersLimitsAreOneCellInTheWordsOfTheLimitsColumns() {
    assertThat(QueueCommands.Workers.limits(Map.of())).isEqualTo("-");
    Map<String, WorkerStatus.LimitInForce> limits = new TreeMap<>();
    limits.put("resize", new WorkerStatus.LimitInForce(0, Duration.ZERO, 0, 4, true, false));
    limits.put(
        "charge", new WorkerStatus.LimitInForce(2, Duration.ofSeconds(1), 2, 1, false, true));
    limits.put(
        "mail", new WorkerStatus.LimitInForce(100, Duration.ofMinutes(1), 5, 0, false, false));
    assertThat(QueueCommands.Workers.limits(limits))
        .as("by task name; the burst only when it is not the permits")
        .isEqualTo("charge 2/1s max 1 (set), mail 100/1m0s burst 5, resize max 4 per key");
  }

  @Test
  void goTypedArgumentsAreParsedAndChecked() {
    assertThat(
            Render.args(
                GoArgs.parse(
                    List.of(
                        "int64:-3",
                        "string:a:b",
                        "bool:true",
                        "float64:1.5",
                        "uint64:18446744073709551615",
                        "[]int64:1,2",
                        "[]string:",
                        "[]uint8:AQI="))))
        .isEqualTo(
            "int64:-3 string:a:b bool:true float64:1.5 uint64:18446744073709551615 []int64:1,2 []string: []uint8:AQI=");
    assertThat(memory.run("send", "add", "int8:300").err())
        .contains("cannot unmarshal number 300 into Go value of type int8");
    assertThat(memory.run("send", "add", "uint64:-1").err()).contains("uint64");
    assertThat(memory.run("send", "add", "3").err()).contains("TYPE:VALUE");
    assertThat(memory.run("send", "add", "complex128:1").err()).contains("unsupported Go type");
    assertThat(memory.run("send", "add", "bool:yes").err()).contains("is not a bool");
  }

  @Test
  void noCommandPrintsTheUsageAndExitsOne() {
    CliRunner.Result result = memory.run();
    assertThat(result.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(result.err()).contains("Commands:").contains("Exit codes:");
    assertThat(memory.ok("--help").out())
        .contains("requeue")
        .containsPattern("breakers +List the circuit breaker openings")
        .containsPattern("breaker +Open the circuit breakers of KEY");
  }

  /** Each command prints its own usage with --help, before and without connecting. */
  @Test
  void eachCommandPrintsItsUsageWithHelp() {
    for (String command : List.of("limit", "breaker", "queues", "send")) {
      CliRunner.Result result = memory.run(command, "--help", "--broker", "redis://127.0.0.1:1/0");
      assertThat(result.code()).as(command).isEqualTo(MachineryCli.EXIT_OK);
      assertThat(result.out()).as(command).contains("Usage: machinery " + command);
    }
    assertThat(memory.ok("breaker", "-h").out()).contains("--open=DURATION", "--close");
  }

  /**
   * {@code breaker}'s mistakes are usage errors found before connecting: an unreachable broker is
   * never reached.
   */
  @Test
  void breakerArgumentsAreCheckedBeforeConnecting() {
    String unreachable = "redis://127.0.0.1:1/0";
    for (String[] bad :
        new String[][] {
          {"breaker", "charge"},
          {"breaker", "charge", "--open", "10m", "--close"},
          {"breaker", "charge", "--open", "1d"},
          {"breaker", "charge", "--open", "-5m"},
          {"breaker", "charge", "--open", "168h0m1s"},
          {"breaker", "charge", "--close", "--reason", "why"},
          {"breaker", "", "--close"}
        }) {
      String[] line =
          java.util.stream.Stream.concat(
                  java.util.Arrays.stream(bad), java.util.stream.Stream.of("--broker", unreachable))
              .toArray(String[]::new);
      CliRunner.Result refused = memory.run(line);
      assertThat(refused.code()).as(String.join(" ", bad)).isEqualTo(MachineryCli.EXIT_USAGE);
      assertThat(refused.err()).as(String.join(" ", bad)).doesNotContain("connect");
    }
    assertThat(memory.run("breaker", "charge", "--open", "10m", "--close").err())
        .contains("--open DURATION or --close, not both");
    assertThat(memory.run("breaker", "charge", "--open", "1d").err())
        .contains("'1d' is not a Go duration such as 90s, 10m or 1h30m")
        .contains("24h is one");
    assertThat(memory.run("breaker", "charge", "--open", "soon").err()).doesNotContain("days");
    assertThat(memory.run("breaker", "charge", "--open", "-5m").err()).contains("at least 1ms");
    assertThat(memory.run("breaker", "charge", "--open", "200h").err())
        .contains("over 168h0m0s (7 days)");
    assertThat(BreakerCommands.openFor("168h")).isEqualTo(java.time.Duration.ofDays(7));
    assertThat(BreakerCommands.openFor("1h30m")).isEqualTo(java.time.Duration.ofMinutes(90));
    assertThat(BreakerCommands.openedBy())
        .startsWith("cli:" + System.getProperty("user.name") + "@")
        .hasSizeLessThanOrEqualTo(4 + System.getProperty("user.name").length() + 1 + 64);
  }
}
