package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
    Config c =
        Config.fromEnvironment(
            Map.of(
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
    assertThat(c.amqp().queueBindingArgs())
        .containsEntry("image-type", "png")
        .containsEntry("x-match", "any");
    assertThat(c.redis().normalTasksPollPeriod()).isEqualTo(Duration.ofMillis(10));
    assertThat(c.redis().clusterEnabled()).isTrue();
    assertThat(c.noUnixSignals()).isFalse();
    assertThat(c.tls()).as("loading a config never turns TLS on (Go issue #517)").isFalse();
  }

  /**
   * The Redis broker's replica acknowledgement of sends (not Go's): off by default; a count and a
   * timeout in milliseconds, like the poll periods, from the environment or YAML.
   */
  @Test
  void replicaAcksComeFromTheEnvironmentOrYamlWithTheirTimeoutInMilliseconds(@TempDir Path dir)
      throws IOException {
    assertThat(Config.DEFAULT.redis().replicaAcks()).isZero();
    assertThat(Config.DEFAULT.redis().replicaAckTimeout()).isEqualTo(Duration.ZERO);

    RedisConfig fromEnvironment =
        Config.fromEnvironment(
                Map.of("REDIS_REPLICA_ACKS", "2", "REDIS_REPLICA_ACK_TIMEOUT", "250"))
            .redis();
    assertThat(fromEnvironment.replicaAcks()).isEqualTo(2);
    assertThat(fromEnvironment.replicaAckTimeout()).isEqualTo(Duration.ofMillis(250));

    Path file = dir.resolve("config.yml");
    Files.writeString(file, "redis:\n  replica_acks: 1\n  replica_ack_timeout: 40\n");
    RedisConfig fromYaml = Config.fromYaml(file).redis();
    assertThat(fromYaml.replicaAcks()).isEqualTo(1);
    assertThat(fromYaml.replicaAckTimeout()).isEqualTo(Duration.ofMillis(40));
    assertThat(fromYaml)
        .isEqualTo(
            RedisConfig.builder().replicaAcks(1).replicaAckTimeout(Duration.ofMillis(40)).build())
        .isNotEqualTo(RedisConfig.DEFAULT);
    assertThat(fromYaml.toString()).contains("replicaAcks=1, replicaAckTimeout=PT0.04S");

    // off: a timeout alone changes nothing, and 0 turns a copied setting off again
    assertThat(
            Config.fromEnvironment(Map.of("REDIS_REPLICA_ACK_TIMEOUT", "100"))
                .redis()
                .replicaAcks())
        .isZero();
    assertThat(fromYaml.toBuilder().replicaAcks(0).build().replicaAcks()).isZero();
  }

  @Test
  void aMigrationNamesItsOldBrokerInTheEnvironmentOrYamlAndHidesItsPassword(@TempDir Path dir)
      throws IOException {
    assertThat(Config.DEFAULT.migrateFromBroker()).isEmpty();
    Config fromEnv =
        Config.fromEnvironment(
            Map.of(
                "BROKER", "amqp://guest:guest@127.0.0.1:5672/",
                "MACHINERY_MIGRATE_FROM_BROKER", "redis://:s3cret@127.0.0.1:6379/2"));
    assertThat(fromEnv.migrateFromBroker()).isEqualTo("redis://:s3cret@127.0.0.1:6379/2");
    assertThat(fromEnv.toString()).contains("migrateFromBroker=redis://").doesNotContain("s3cret");
    Path file = dir.resolve("migrating.yml");
    Files.writeString(
        file,
        """
        broker: amqp://guest:guest@127.0.0.1:5672/
        migrate_from_broker: redis://127.0.0.1:6379/2
        """);
    assertThat(Config.fromYaml(file).migrateFromBroker()).isEqualTo("redis://127.0.0.1:6379/2");
    assertThat(Config.fromYaml(file))
        .isNotEqualTo(Config.fromYaml(file).toBuilder().migrateFromBroker("").build());
  }

  @Test
  void aResultBackendMoveNamesItsOldBackendInTheEnvironmentOrYamlAndHidesItsPassword(
      @TempDir Path dir) throws IOException {
    assertThat(Config.DEFAULT.migrateFromResultBackend()).isEmpty();
    Config fromEnv =
        Config.fromEnvironment(
            Map.of(
                "RESULT_BACKEND", "mongodb://127.0.0.1:27017/",
                "MACHINERY_MIGRATE_FROM_RESULT_BACKEND", "redis://:s3cret@127.0.0.1:6379/2"));
    assertThat(fromEnv.migrateFromResultBackend()).isEqualTo("redis://:s3cret@127.0.0.1:6379/2");
    assertThat(fromEnv.toString())
        .contains("migrateFromResultBackend=redis://")
        .doesNotContain("s3cret");
    assertThat(fromEnv.settings())
        .filteredOn(setting -> setting.variable().equals("MACHINERY_MIGRATE_FROM_RESULT_BACKEND"))
        .extracting(Config.Setting::value)
        .singleElement()
        .asString()
        .startsWith("redis://")
        .doesNotContain("s3cret");
    Path file = dir.resolve("moving-results.yml");
    Files.writeString(
        file,
        """
        result_backend: mongodb://127.0.0.1:27017/
        migrate_from_result_backend: redis://127.0.0.1:6379/2
        """);
    assertThat(Config.fromYaml(file).migrateFromResultBackend())
        .isEqualTo("redis://127.0.0.1:6379/2");
    assertThat(Config.fromYaml(file))
        .isNotEqualTo(Config.fromYaml(file).toBuilder().migrateFromResultBackend("").build());
  }

  @Test
  void queueBoundsComeFromTheEnvironmentOrYaml(@TempDir Path dir) throws IOException {
    assertThat(Config.DEFAULT.queueBounds()).isEmpty();
    Config fromEnv =
        Config.fromEnvironment(
            Map.of("MACHINERY_QUEUE_BOUNDS", "emails:2, imports:10000:1m30s,tenant:a:5,:7"));
    assertThat(fromEnv.queueBounds())
        .containsExactly(
            new QueueBoundSetting("emails", 2, Duration.ZERO),
            new QueueBoundSetting("imports", 10_000, Duration.ofSeconds(90)),
            new QueueBoundSetting("tenant:a", 5, Duration.ZERO),
            new QueueBoundSetting("", 7, Duration.ZERO));
    assertThat(fromEnv.toString()).contains("queueBounds=[");

    Path strings = dir.resolve("bounds-string.yml");
    Files.writeString(strings, "queue_bounds: emails:2,imports:10000:1m\n");
    assertThat(Config.fromYaml(strings).queueBounds())
        .containsExactly(
            new QueueBoundSetting("emails", 2, Duration.ZERO),
            new QueueBoundSetting("imports", 10_000, Duration.ofMinutes(1)));
    Path mapping = dir.resolve("bounds-mapping.yml");
    Files.writeString(
        mapping,
        """
        default_queue: Billing.EU
        queue_bounds:
          Billing.EU: 50
          imports: "10000:1m"
        """);
    Config fromYaml = Config.fromYaml(mapping);
    assertThat(fromYaml.queueBounds())
        .as("queue names keep their case and dots")
        .containsExactly(
            new QueueBoundSetting("Billing.EU", 50, Duration.ZERO),
            new QueueBoundSetting("imports", 10_000, Duration.ofMinutes(1)));
    assertThat(fromYaml.defaultQueue()).isEqualTo("Billing.EU");
  }

  @Test
  void aBadQueueBoundSaysWhatTheSettingTakes(@TempDir Path dir) throws IOException {
    for (String bad : List.of("emails", "emails:many", "emails:0", "emails:2:soon", "a:1,a:2")) {
      assertThatThrownBy(() -> Config.fromEnvironment(Map.of("MACHINERY_QUEUE_BOUNDS", bad)), bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith(
              "environment variable MACHINERY_QUEUE_BOUNDS (YAML queue_bounds)");
    }
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("MACHINERY_QUEUE_BOUNDS", "emails:0")))
        .hasMessageContaining("got 'emails:0'")
        .hasMessageContaining("at least 1 task");
    Path file = dir.resolve("bad-bounds.yml");
    Files.writeString(file, "queue_bounds:\n  emails: lots\n");
    assertThatThrownBy(() -> Config.fromYaml(file))
        .hasMessageStartingWith("YAML key for MACHINERY_QUEUE_BOUNDS (YAML queue_bounds)")
        .hasMessageContaining("got 'emails:lots'");
  }

  /**
   * {@link Config#settings()} lists every variable read, in the text it takes: read back, they give
   * the same config; credentials are masked.
   */
  @Test
  void theSettingsReadBackAsTheSameConfig() {
    Map<String, String> env = new java.util.HashMap<>();
    env.put("BROKER", "redis://127.0.0.1:6379/3");
    env.put("RESULT_BACKEND", "redis://127.0.0.1:6379/4");
    env.put("DEFAULT_QUEUE", "billing");
    env.put("RESULTS_EXPIRE_IN", "60");
    env.put("NO_UNIX_SIGNALS", "false");
    env.put("AMQP_QUEUE_DECLARE_ARGS", "x-max-priority:10,x-queue-mode:lazy");
    env.put("AMQP_DELAYED_QUEUE", "delayed");
    env.put("REDIS_READ_TIMEOUT", "7");
    env.put("REDIS_NORMAL_TASKS_POLL_PERIOD", "250");
    env.put("REDIS_CLUSTER_ENABLED", "true");
    env.put("REDIS_REPLICA_ACKS", "2");
    env.put("REDIS_REPLICA_ACK_TIMEOUT", "250");
    env.put("SQS_VISIBILITY_TIMEOUT", "45");
    env.put("TASK_STATES_TABLE", "states");
    env.put("MACHINERY_MIGRATE_FROM_BROKER", "amqp://127.0.0.1:5672/");
    env.put("MACHINERY_QUEUE_BOUNDS", "emails:2,imports:10000:1m30s");
    env.put("MACHINERY_MAX_MESSAGE_BYTES", "1024");
    env.put("MACHINERY_STRICT_UUIDS", "false");
    Config config = Config.fromEnvironment(env);

    List<Config.Setting> settings = config.settings();
    assertThat(settings)
        .extracting(Config.Setting::variable)
        .containsAll(ConfigLoader.ENV_TO_YAML.keySet())
        .contains("AMQP_QUEUE_DECLARE_ARGS", "AMQP_QUEUE_BINDING_ARGS")
        .doesNotHaveDuplicates();
    Map<String, String> readBack = new java.util.HashMap<>();
    settings.forEach(setting -> readBack.put(setting.variable(), setting.value()));
    assertThat(readBack)
        .containsEntry("MACHINERY_QUEUE_BOUNDS", "emails:2,imports:10000:1m30s")
        .containsEntry("REDIS_READ_TIMEOUT", "7");
    assertThat(Config.fromEnvironment(readBack)).isEqualTo(config);
    assertThat(settings)
        .filteredOn(setting -> setting.variable().equals("REDIS_READ_TIMEOUT"))
        .extracting(Config.Setting::yamlKey)
        .containsExactly("redis.read_timeout");

    Config secret =
        config.toBuilder()
            .broker("redis://:s3cret@127.0.0.1:6379/3")
            .redis(config.redis().toBuilder().sentinelPassword("hush").build())
            .build();
    assertThat(secret.settings().toString()).doesNotContain("s3cret").doesNotContain("hush");
  }

  /** The README's configuration table names every environment variable and YAML key read. */
  @Test
  void theReadmeNamesEverySetting() throws IOException {
    String readme = Files.readString(Path.of("../README.md"));
    String table =
        readme.substring(
            readme.indexOf("## Configuration\n"), readme.indexOf("## Brokers and backends\n"));
    ConfigLoader.ENV_TO_YAML.forEach(
        (env, yaml) ->
            assertThat(table).as(env).contains("`" + env + "`").contains("`" + yaml + "`"));
    for (String mapping : List.of("AMQP_QUEUE_DECLARE_ARGS", "AMQP_QUEUE_BINDING_ARGS")) {
      assertThat(table).contains("`" + mapping + "`");
    }
  }

  @Test
  void theLockUrlIsTheLocksElseTheBrokersElseDuringAMigrationTheOldBrokers() {
    Config config = Config.builder().broker("amqp://new:5672/").build();
    assertThat(config.lockUrl()).isEqualTo("amqp://new:5672/");
    assertThat(config.toBuilder().migrateFromBroker("redis://old:6379").build().lockUrl())
        .isEqualTo("redis://old:6379");
    assertThat(
            config.toBuilder()
                .migrateFromBroker("redis://old:6379")
                .lock("redis://locks:6379")
                .build()
                .lockUrl())
        .isEqualTo("redis://locks:6379");
  }

  @Test
  void badValuesSayWhichVariableAndWhatIsExpected() {
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("RESULTS_EXPIRE_IN", "soon")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("RESULTS_EXPIRE_IN")
        .hasMessageContaining("whole number")
        .hasMessageContaining("'soon'");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("REDIS_CLUSTER_ENABLED", "maybe")))
        .hasMessageContaining("true or false");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("RESULTS_EXPIRE_IN", "-1")))
        .hasMessageContaining("results_expire_in must be >= 0");
  }

  @Test
  void yamlUsesGosKeysAndHasNoSizeLimit(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("config.yml");
    String padding =
        "# " + "x".repeat(2000) + "\n"; // Go reads only the first 1000 bytes (issue #213)
    Files.writeString(
        file,
        padding
            + """
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
    assertThatThrownBy(() -> Config.fromYaml(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("invalid YAML in config")
        .hasMessageContaining("at line 1, column");
    assertThatThrownBy(() -> Config.fromYaml(dir.resolve("missing.yml")))
        .hasMessageContaining("missing.yml");
  }

  @Test
  void credentialsNeverReachToString() {
    Config c =
        Config.builder()
            .broker("amqp://user:secret@host:5672/vhost")
            .resultBackend("redis://:pw@h:6379/1")
            .build();
    assertThat(c.toString())
        .doesNotContain("secret")
        .doesNotContain("pw")
        .contains("amqp://host:5672");
  }

  /**
   * Reliability review F11: a YAML error says where, never what, since the file holds passwords.
   */
  @Test
  void aYamlErrorNeverQuotesTheFile(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("secret.yml");
    Files.writeString(
        file,
        """
        result_backend: redis://:r3d1s-pw@127.0.0.1:6379
        broker: "amqp://admin:S3cr3t-P4ss@rabbit:5672/
        redis:
          sentinel_password: s3nt1nel
        """);
    assertThatThrownBy(() -> Config.fromYaml(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("invalid YAML in config")
        .hasMessageMatching("(?s).*line \\d+, column \\d+.*")
        .satisfies(
            e -> {
              for (Throwable t = e; t != null; t = t.getCause()) {
                assertThat(String.valueOf(t.getMessage()))
                    .doesNotContain("S3cr3t", "r3d1s", "s3nt1nel");
                assertThat(t.toString()).doesNotContain("S3cr3t", "r3d1s", "s3nt1nel");
              }
            });
  }

  @Test
  void theSentinelPasswordNeverReachesToString() {
    RedisConfig redis =
        RedisConfig.builder().sentinelPassword("s3nt1nel").masterName("mymaster").build();
    assertThat(redis.toString())
        .doesNotContain("s3nt1nel")
        .contains("sentinelPassword=<redacted>")
        .contains("masterName=mymaster");
    Config c = Config.builder().redis(redis).lock("redis://:l0ck-pw@h:6379").build();
    assertThat(c.toString())
        .doesNotContain("s3nt1nel")
        .doesNotContain("l0ck-pw")
        .contains("redis://h:6379");
  }

  @Test
  void redisAndAmqpBuildersStartFromGosDefaultsAndCopy() {
    assertThat(RedisConfig.builder().build()).isEqualTo(RedisConfig.DEFAULT);
    assertThat(AmqpConfig.builder().build()).isEqualTo(AmqpConfig.DEFAULT);
    RedisConfig redis =
        RedisConfig.DEFAULT.toBuilder()
            .clusterEnabled(true)
            .readTimeout(Duration.ofSeconds(2))
            .normalTasksPollPeriod(Duration.ZERO)
            .build();
    assertThat(redis.clusterEnabled()).isTrue();
    assertThat(redis.readTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(redis.normalTasksPollPeriod())
        .as("0 means Go's default")
        .isEqualTo(RedisConfig.DEFAULT_NORMAL_TASKS_POLL_PERIOD);
    assertThat(redis.toBuilder().build()).isEqualTo(redis);
    assertThat(RedisConfig.DEFAULT.withClusterEnabled(true).withReadTimeout(Duration.ofSeconds(2)))
        .isEqualTo(redis);
    AmqpConfig amqp =
        AmqpConfig.DEFAULT.toBuilder().exchange("ex").prefetchCount(9).delayedQueue(null).build();
    assertThat(amqp).isEqualTo(AmqpConfig.DEFAULT.withExchange("ex").withPrefetchCount(9));
    assertThatThrownBy(() -> AmqpConfig.builder().prefetchCount(-1))
        .as("refused by the setter, not later by build()")
        .hasMessageContaining("AmqpConfig.prefetchCount");
  }

  /**
   * Reliability review F18: {@link ConfigReloader} applies a change when the configs differ, so
   * every field of {@link Config} must take part in {@code equals}. Each field in turn is given
   * another value (set on the builder field of the same name, since the builder copies them one by
   * one).
   */
  @Test
  void equalsAndHashCodeSeeEverySetting() throws Exception {
    Config base = Config.DEFAULT.toBuilder().build();
    assertThat(base).isEqualTo(Config.DEFAULT).hasSameHashCodeAs(Config.DEFAULT);
    int checked = 0;
    for (java.lang.reflect.Field field : Config.class.getDeclaredFields()) {
      if (java.lang.reflect.Modifier.isStatic(field.getModifiers())) {
        continue;
      }
      // Through the builder's field of the same name: the builder's fields are not final.
      java.lang.reflect.Field setting = Config.Builder.class.getDeclaredField(field.getName());
      setting.setAccessible(true);
      Config.Builder builder = Config.DEFAULT.toBuilder();
      setting.set(builder, different(setting.get(builder)));
      Config changed = builder.build();
      assertThat(changed).as(field.getName()).isNotEqualTo(base);
      assertThat(changed.hashCode()).as(field.getName()).isNotEqualTo(base.hashCode());
      checked++;
    }
    assertThat(checked).isGreaterThanOrEqualTo(14);
  }

  @Test
  void resultsExpiryIsADurationWithGosZeroRule() {
    assertThat(Config.DEFAULT.resultsExpiry()).isEqualTo(Duration.ofHours(1));
    assertThat(Config.builder().resultsExpiry(Duration.ofMillis(1500)).build().resultsExpireIn())
        .isEqualTo(2);
    assertThat(Config.builder().resultsExpiry(Duration.ZERO).build().resultsExpiry())
        .isEqualTo(Duration.ofHours(1));
    assertThat(Config.builder().resultsExpireIn(30).build().resultsExpiry())
        .isEqualTo(Duration.ofSeconds(30));
    assertThatThrownBy(() -> Config.builder().resultsExpiry(Duration.ofSeconds(-1)))
        .hasMessageContaining("negative");
    assertThatThrownBy(() -> Config.builder().resultsExpiry(Duration.ofDays(100_000)))
        .hasMessageContaining("at most");
  }

  /** Another value of the same type: for a record, the first component that can be changed is. */
  private static Object different(Object value) throws Exception {
    if (value instanceof String s) return s + "x";
    if (value instanceof Integer i) return i + 1;
    if (value instanceof Boolean b) return !b;
    if (value instanceof Duration d) return d.plusSeconds(1);
    if (value instanceof List<?> l) {
      List<Object> copy = new java.util.ArrayList<>(l);
      copy.add(new QueueBoundSetting("different", 1, Duration.ZERO));
      return copy;
    }
    if (value instanceof Map<?, ?> m) {
      Map<Object, Object> copy = new java.util.HashMap<>(m);
      copy.put("different", "x");
      return copy;
    }
    if (value.getClass().isRecord()) {
      java.lang.reflect.RecordComponent[] components = value.getClass().getRecordComponents();
      Class<?>[] types =
          java.util.Arrays.stream(components)
              .map(java.lang.reflect.RecordComponent::getType)
              .toArray(Class<?>[]::new);
      for (int i = 0; i < components.length; i++) {
        Object[] args = new Object[components.length];
        for (int j = 0; j < components.length; j++) {
          args[j] = components[j].getAccessor().invoke(value);
        }
        if (args[i] == null) {
          continue;
        }
        args[i] = different(args[i]);
        return value.getClass().getDeclaredConstructor(types).newInstance(args);
      }
    }
    throw new AssertionError(
        "no other value for " + value.getClass() + ": add a case to ConfigTest.different");
  }
}
