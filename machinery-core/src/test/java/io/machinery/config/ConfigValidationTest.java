package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.assertj.core.api.SoftAssertions;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Configuration audit (s54): a bad setting is a clear error that names the setting and the rule,
 * never a silently different value, and never quotes a password.
 */
class ConfigValidationTest {
  private static AbstractThrowableAssert<?, ? extends Throwable> loading(Path dir, String yaml)
      throws IOException {
    Path file = dir.resolve("config.yml");
    Files.writeString(file, yaml);
    return assertThatThrownBy(() -> Config.fromYaml(file))
        .isInstanceOf(IllegalArgumentException.class)
        .satisfies(
            e -> {
              for (Throwable t = e; t != null; t = t.getCause()) {
                assertThat(String.valueOf(t.getMessage())).doesNotContain("S3cr3t");
              }
            });
  }

  /** Jackson reads an alias as the anchor's name: result_backend would have become "redis". */
  @Test
  void aYamlAliasIsRefusedRatherThanReadAsItsAnchorsName(@TempDir Path dir) throws IOException {
    loading(
            dir,
            """
            broker: &redis redis://:S3cr3t@127.0.0.1:6379
            result_backend: *redis
            """)
        .hasMessageContaining("alias")
        .hasMessageContaining("line 2");
  }

  @Test
  void aBillionLaughsFileIsRefusedWithoutExpandingIt(@TempDir Path dir) throws IOException {
    StringBuilder bomb = new StringBuilder("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (char c = 'b'; c <= 'j'; c++) {
      bomb.append(c).append(": &").append(c).append(" [");
      for (int i = 0; i < 9; i++) {
        bomb.append(i == 0 ? "" : ", ").append('*').append((char) (c - 1));
      }
      bomb.append("]\n");
    }
    loading(dir, bomb.toString()).hasMessageContaining("alias");
  }

  /** Go's yaml.v2 refuses a key given twice; the last one silently won here. */
  @Test
  void aKeyGivenTwiceIsRefused(@TempDir Path dir) throws IOException {
    loading(
            dir,
            """
            broker: redis://:S3cr3t@old:6379
            default_queue: tasks
            broker: redis://:S3cr3t@new:6379
            """)
        .hasMessageContaining("'broker' twice")
        .hasMessageContaining("line 3");
  }

  /** A list became the text "[redis://a, redis://b]" and was taken as the broker URL. */
  @Test
  void aListOrMappingWhereOneValueBelongsIsRefused(@TempDir Path dir) throws IOException {
    loading(dir, "broker: [redis://:S3cr3t@a:6379, redis://b:6379]\n")
        .hasMessageContaining("YAML key broker takes a single value, not a list");
    loading(dir, "redis:\n  read_timeout: {seconds: 5}\n")
        .hasMessageContaining("YAML key redis.read_timeout takes a single value, not a mapping");
  }

  /**
   * It said "invalid YAML at line 1, column 1", which sends the user looking for a syntax error.
   */
  @Test
  void anEmptyFileSaysItIsEmpty(@TempDir Path dir) throws IOException {
    loading(dir, "").hasMessageContaining("is empty");
    loading(dir, "# all commented out\n# broker: redis://x\n").hasMessageContaining("is empty");
  }

  /** It said only "invalid YAML", which sends the user looking for a syntax error. */
  @Test
  void aFileNotInUtf8SaysSo(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("latin1.yml");
    Files.write(
        file, "default_queue: caf\u00e9\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    assertThatThrownBy(() -> Config.fromYaml(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is not valid UTF-8 at line 1")
        .hasMessageNotContaining("caf");
  }

  /**
   * Values the servers or clients refuse later (or, for the prefetch count, Go's client silently
   * truncates to 16 bits) are refused while loading, with the variable and the range.
   */
  @Test
  void aNumberOutOfItsRangeNamesTheVariableAndTheRange() {
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("AMQP_PREFETCH_COUNT", "70000")))
        .hasMessageContaining("AMQP_PREFETCH_COUNT")
        .hasMessageContaining("from 0 to 65535");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("SQS_WAIT_TIME_SECONDS", "21")))
        .hasMessageContaining("SQS_WAIT_TIME_SECONDS")
        .hasMessageContaining("from 0 to 20");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("SQS_VISIBILITY_TIMEOUT", "-1")))
        .hasMessageContaining("SQS_VISIBILITY_TIMEOUT")
        .hasMessageContaining("from 0 to 43200");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("REDIS_READ_TIMEOUT", "-5")))
        .hasMessageContaining("REDIS_READ_TIMEOUT")
        .hasMessageContaining("must not be negative, was -5s");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("REDIS_CONNECT_TIMEOUT", "-1")))
        .hasMessageContaining("REDIS_CONNECT_TIMEOUT");
    // a whole number too large for the setting used to be called "not a whole number"
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("RESULTS_EXPIRE_IN", "99999999999")))
        .hasMessageContaining("RESULTS_EXPIRE_IN")
        .hasMessageContaining("from -2147483648 to 2147483647");
    assertThat(
            Config.fromEnvironment(Map.of("SQS_WAIT_TIME_SECONDS", "20")).sqs().waitTimeSeconds())
        .isEqualTo(20);
  }

  @Test
  void anAmqpValueNamesItsVariable() {
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("AMQP_QUEUE_BINDING_ARGS", "x-match")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("environment variable AMQP_QUEUE_BINDING_ARGS")
        .hasMessageContaining("key:value pairs");
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("AMQP_PREFETCH_COUNT", "-1")))
        .hasMessageContaining("environment variable AMQP_PREFETCH_COUNT");
  }

  /**
   * One rule of one setting: a value it refuses, as the variable's text and in code, the setter the
   * refusal names and the rule's words.
   */
  private record Rule(
      String variable, String text, ThrowingCallable inCode, String setter, String words) {}

  /** Every range rule, each through a different way in: builder, copy-with method, constructor. */
  private static final List<Rule> RULES =
      List.of(
          new Rule(
              "SQS_WAIT_TIME_SECONDS",
              "21",
              () -> new SqsConfig(21, null, false),
              "SqsConfig.waitTimeSeconds",
              "must be from 0 to 20"),
          new Rule(
              "SQS_WAIT_TIME_SECONDS",
              "-1",
              () -> new SqsConfig(-1, null, false),
              "SqsConfig.waitTimeSeconds",
              "must be from 0 to 20"),
          new Rule(
              "SQS_VISIBILITY_TIMEOUT",
              "43201",
              () -> new SqsConfig(0, 43_201, false),
              "SqsConfig.visibilityTimeout",
              "must be from 0 to 43200"),
          new Rule(
              "SQS_VISIBILITY_TIMEOUT",
              "-1",
              () -> new SqsConfig(0, -1, false),
              "SqsConfig.visibilityTimeout",
              "must be from 0 to 43200"),
          new Rule(
              "AMQP_PREFETCH_COUNT",
              "65536",
              () -> AmqpConfig.builder().prefetchCount(65_536),
              "AmqpConfig.prefetchCount",
              "must be from 0 to 65535"),
          new Rule(
              "AMQP_PREFETCH_COUNT",
              "-1",
              () -> AmqpConfig.DEFAULT.withPrefetchCount(-1),
              "AmqpConfig.prefetchCount",
              "must be from 0 to 65535"),
          new Rule(
              "REDIS_READ_TIMEOUT",
              "-5",
              () -> RedisConfig.builder().readTimeout(Duration.ofSeconds(-5)),
              "RedisConfig.readTimeout",
              "must not be negative"),
          new Rule(
              "REDIS_WRITE_TIMEOUT",
              "-1",
              () -> RedisConfig.builder().writeTimeout(Duration.ofSeconds(-1)),
              "RedisConfig.writeTimeout",
              "must not be negative"),
          new Rule(
              "REDIS_CONNECT_TIMEOUT",
              "-1",
              () -> RedisConfig.DEFAULT.withConnectTimeout(Duration.ofSeconds(-1)),
              "RedisConfig.connectTimeout",
              "must not be negative"),
          new Rule(
              "REDIS_IDLE_TIMEOUT",
              "-1",
              () -> RedisConfig.builder().idleTimeout(Duration.ofSeconds(-1)),
              "RedisConfig.idleTimeout",
              "must not be negative"),
          new Rule(
              "DEFAULT_QUEUE",
              " ",
              () -> Config.builder().defaultQueue(" "),
              "Config.defaultQueue",
              "must not be empty or blank"),
          new Rule(
              "DEFAULT_QUEUE",
              "\t",
              () -> Config.builder().defaultQueue("\t"),
              "Config.defaultQueue",
              "must not be empty or blank"),
          new Rule(
              "RESULTS_EXPIRE_IN",
              "-1",
              () -> Config.builder().resultsExpireIn(-1),
              "results_expire_in",
              "must be >= 0"),
          new Rule(
              "MACHINERY_MAX_MESSAGE_BYTES",
              "1023",
              () -> Config.builder().maxMessageBytes(1023),
              "Config.maxMessageBytes",
              "must be at least 1024"));

  /**
   * s55: the builders took what the environment and YAML readers refuse (an SQS wait over 20 s,
   * negative Redis timeouts, a prefetch count over 16 bits, a blank default queue). A value is now
   * refused in code naming the setter and the rule, and read from a variable with the very same
   * message after the variable's name: one rule, not two that can drift apart.
   */
  @Test
  void theBuildersRefuseWhatTheLoadersRefuseWithTheSameRule() {
    assertSameRule(RULES);
  }

  /**
   * s56: names a broker or a server chokes on later, and pool sizes that mean nothing, passed the
   * loader and the builders; Go takes them all and fails (or, for the pool sizes, shrugs) at first
   * use. Each is refused in code and from its variable with the same message.
   */
  private static final List<Rule> NAME_AND_POOL_RULES =
      List.of(
          new Rule(
              "AMQP_EXCHANGE",
              " ",
              () -> AmqpConfig.builder().exchange(" "),
              "AmqpConfig.exchange",
              "must not be empty or blank"),
          new Rule(
              "AMQP_EXCHANGE",
              "x".repeat(256),
              () -> AmqpConfig.DEFAULT.withExchange("x".repeat(256)),
              "AmqpConfig.exchange",
              "must be at most 255 bytes of UTF-8"),
          new Rule(
              "AMQP_EXCHANGE_TYPE",
              " direct",
              () -> AmqpConfig.DEFAULT.withExchangeType(" direct"),
              "AmqpConfig.exchangeType",
              "without spaces (RabbitMQ closes the connection on an unknown type)"),
          new Rule(
              "AMQP_EXCHANGE_TYPE",
              " ",
              () -> AmqpConfig.builder().exchangeType(" "),
              "AmqpConfig.exchangeType",
              "must be a type such as direct"),
          new Rule(
              "AMQP_BINDING_KEY",
              "\u00e9".repeat(128),
              () -> AmqpConfig.builder().bindingKey("\u00e9".repeat(128)),
              "AmqpConfig.bindingKey",
              "must be at most 255 bytes of UTF-8 (an AMQP short string), was 256 bytes"),
          new Rule(
              "AMQP_DELAYED_QUEUE",
              " ",
              () -> AmqpConfig.builder().delayedQueue(" "),
              "AmqpConfig.delayedQueue",
              "not blank"),
          new Rule(
              "AMQP_DELAYED_QUEUE",
              "amq.delayed",
              () -> AmqpConfig.DEFAULT.withDelayedQueue("amq.delayed"),
              "AmqpConfig.delayedQueue",
              "must not start with 'amq.'"),
          new Rule(
              "REDIS_MAX_IDLE",
              "-1",
              () -> RedisConfig.builder().maxIdle(-1),
              "RedisConfig.maxIdle",
              "must not be negative (0 means no idle connections kept to Go's pool), was -1"),
          new Rule(
              "REDIS_MAX_ACTIVE",
              "-5",
              () -> RedisConfig.builder().maxActive(-5),
              "RedisConfig.maxActive",
              "must not be negative (0 means no limit to Go's pool), was -5"),
          new Rule(
              "REDIS_CLIENT_NAME",
              "billing worker",
              () -> RedisConfig.DEFAULT.withClientName("billing worker"),
              "RedisConfig.clientName",
              "no spaces or newlines"),
          new Rule(
              "REDIS_MASTER_NAME",
              "mymaster ",
              () -> RedisConfig.DEFAULT.withMasterName("mymaster "),
              "RedisConfig.masterName",
              "without spaces at either end"),
          new Rule(
              "REDIS_MASTER_NAME",
              " ",
              () -> RedisConfig.builder().masterName(" "),
              "RedisConfig.masterName",
              "must be empty (no Sentinel)"),
          new Rule(
              "TASK_STATES_TABLE",
              "task_states ",
              () -> new DynamoDbConfig("task_states ", "group_metas"),
              "DynamoDbConfig.taskStatesTable",
              "must be a DynamoDB table name"),
          new Rule(
              "GROUP_METAS_TABLE",
              "gm",
              () -> new DynamoDbConfig("task_states", "gm"),
              "DynamoDbConfig.groupMetasTable",
              "3 to 255 letters"));

  @Test
  void namesABrokerWouldChokeOnAndMeaninglessPoolSizesAreRefusedByBuilderAndLoaderAlike() {
    assertSameRule(NAME_AND_POOL_RULES);
  }

  /**
   * The replica acknowledgement of sends: each value refused on its own by its setter and from its
   * variable alike; the pair (on without a timeout) by one rule, {@link
   * RedisConfig#checkReplicaAcks}, the same from the builder, the record, the environment and YAML,
   * naming the variables and keys to set.
   */
  @Test
  void replicaAcksAreRefusedByOneRuleWhereverTheyAreSet(@TempDir Path dir) throws IOException {
    assertSameRule(
        List.of(
            new Rule(
                "REDIS_REPLICA_ACKS",
                "-1",
                () -> RedisConfig.builder().replicaAcks(-1),
                "RedisConfig.replicaAcks",
                "must not be negative (how many replicas must acknowledge each send; 0 turns it"
                    + " off), was -1"),
            new Rule(
                "REDIS_REPLICA_ACK_TIMEOUT",
                "-5",
                () -> RedisConfig.builder().replicaAckTimeout(Duration.ofMillis(-5)),
                "RedisConfig.replicaAckTimeout",
                "must not be negative, was -5ms")));

    String onWithoutTimeout =
        "RedisConfig.replicaAckTimeout (REDIS_REPLICA_ACK_TIMEOUT in ms, YAML"
            + " redis.replica_ack_timeout) must be at least 1 ms when RedisConfig.replicaAcks"
            + " (REDIS_REPLICA_ACKS, YAML redis.replica_acks) is on (it is 2): Redis' WAIT would"
            + " wait for ever with 0; was 0s";
    assertThatThrownBy(() -> RedisConfig.checkReplicaAcks(2, Duration.ofNanos(999_999)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be at least 1 ms")
        .hasMessageEndingWith("was 999.999µs");
    assertThatThrownBy(() -> RedisConfig.checkReplicaAcks(2, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(onWithoutTimeout);
    assertThatThrownBy(() -> RedisConfig.builder().replicaAcks(2).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(onWithoutTimeout);
    assertThatThrownBy(() -> Config.fromEnvironment(Map.of("REDIS_REPLICA_ACKS", "2")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(onWithoutTimeout);
    assertThatThrownBy(
            () ->
                Config.fromEnvironment(
                    Map.of("REDIS_REPLICA_ACKS", "2", "REDIS_REPLICA_ACK_TIMEOUT", "0")))
        .hasMessage(onWithoutTimeout);
    loading(dir, "redis:\n  replica_acks: 2\n  replica_ack_timeout: 0\n")
        .hasMessage(onWithoutTimeout);
    RedisConfig d = RedisConfig.DEFAULT;
    assertThatThrownBy(
            () ->
                new RedisConfig(
                    d.maxIdle(),
                    d.maxActive(),
                    d.idleTimeout(),
                    d.waitForConnection(),
                    d.readTimeout(),
                    d.writeTimeout(),
                    d.connectTimeout(),
                    d.normalTasksPollPeriod(),
                    d.delayedTasksPollPeriod(),
                    d.delayedTasksKey(),
                    d.clientName(),
                    d.masterName(),
                    d.clusterEnabled(),
                    d.sentinelPassword(),
                    2,
                    Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(onWithoutTimeout);

    // 0 is off and needs no timeout; 1 ms is the least timeout
    RedisConfig.checkReplicaAcks(0, Duration.ZERO);
    assertThat(RedisConfig.builder().replicaAcks(1).replicaAckTimeout(Duration.ofMillis(1)).build())
        .extracting(RedisConfig::replicaAcks, RedisConfig::replicaAckTimeout)
        .containsExactly(1, Duration.ofMillis(1));
  }

  /** The same from YAML, named by the key. */
  @Test
  void aYamlNameABrokerWouldChokeOnNamesItsKey(@TempDir Path dir) throws IOException {
    loading(dir, "amqp:\n  exchange_type: \" direct\"\n")
        .hasMessageStartingWith("YAML key for AMQP_EXCHANGE_TYPE (YAML amqp.exchange_type)")
        .hasMessageContaining("AmqpConfig.exchangeType must be a type");
    loading(dir, "redis:\n  max_active: -1\n")
        .hasMessageContaining("redis.max_active")
        .hasMessageContaining("RedisConfig.maxActive must not be negative");
    loading(dir, "dynamodb:\n  task_states_table: \" \"\n")
        .hasMessageContaining("dynamodb.task_states_table")
        .hasMessageContaining("DynamoDbConfig.taskStatesTable must be a DynamoDB table name");
  }

  /**
   * What stays allowed: Go's meaning of zero pool sizes, an empty client or master name (none), any
   * binding key up to 255 bytes (empty too: fanout and headers exchanges ignore it), exchange types
   * of plug-ins, an empty delayed queue (Go's per-delay queues). A queue bound's name may be empty
   * (the default queue) or padded (as the default queue may be, the bound then matches it exactly).
   */
  @Test
  void whatGoMeansByZeroOrEmptyStaysAllowed() {
    RedisConfig redis =
        RedisConfig.builder()
            .maxIdle(0)
            .maxActive(0)
            .clientName("!worker~1")
            .masterName("")
            .build();
    assertThat(redis.maxIdle()).isZero();
    assertThat(redis.maxActive()).isZero();
    assertThat(RedisConfig.DEFAULT.withMasterName("my master").masterName()).isEqualTo("my master");
    AmqpConfig amqp =
        AmqpConfig.builder()
            .bindingKey("")
            .exchangeType("x-delayed-message")
            .delayedQueue("")
            .build();
    assertThat(amqp.bindingKey()).isEmpty();
    assertThat(AmqpConfig.builder().bindingKey(" ").build().bindingKey()).isEqualTo(" ");
    assertThat(AmqpConfig.builder().bindingKey("k".repeat(255)).build().bindingKey()).hasSize(255);
    assertThat(new DynamoDbConfig("abc", "a.b-c_" + "d".repeat(249)).groupMetasTable())
        .hasSize(255);
    assertThat(new QueueBoundSetting("", 1, Duration.ZERO).queue()).isEmpty();
    assertThat(new QueueBoundSetting(" tasks", 1, Duration.ZERO).queue()).isEqualTo(" tasks");
    assertThatThrownBy(() -> new QueueBoundSetting(" ", 1, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be empty (the default queue) or a name, not blank");
    Config fromEnv = Config.fromEnvironment(Map.of("REDIS_MAX_IDLE", "0", "REDIS_MAX_ACTIVE", "0"));
    assertThat(fromEnv.redis().maxIdle()).isZero();
  }

  /**
   * An empty exchange passed the builders and the YAML loader, and only the AMQP broker (and
   * backend) refused it when created. It means nothing to any of its users: both bind queues to it,
   * in Go as here, and RabbitMQ refuses a binding to the default exchange (Go takes the name and
   * fails at its first publish, consume or state write). Now refused by the builder, the record and
   * YAML alike, naming the setting; an empty variable means the default, as every empty variable
   * does.
   */
  @Test
  void anEmptyExchangeIsRefusedByBuilderRecordAndYamlAlike(@TempDir Path dir) throws IOException {
    String rule = "AmqpConfig.exchange must not be empty or blank";
    String why = "RabbitMQ refuses to bind a queue to the default exchange";
    assertThatThrownBy(() -> AmqpConfig.builder().exchange(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(rule)
        .hasMessageContaining(why);
    assertThatThrownBy(() -> AmqpConfig.DEFAULT.withExchange(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(rule);
    loading(dir, "amqp:\n  exchange: \"\"\n")
        .hasMessageStartingWith("YAML key for AMQP_EXCHANGE (YAML amqp.exchange)")
        .hasMessageContaining(rule);
    assertThat(Config.fromEnvironment(Map.of("AMQP_EXCHANGE", "")).amqp().exchange())
        .isEqualTo(AmqpConfig.DEFAULT_EXCHANGE);
  }

  /**
   * queue_bounds: the key itself is read without regard to case like every other key (it was
   * matched exactly, so {@code Queue_Bounds:} as a mapping failed with "takes a single value"); the
   * queue names under it keep their exact case, since queue names are case-sensitive in every
   * broker: {@code Emails} and {@code emails} are two queues with a bound each.
   */
  @Test
  void queueBoundsKeyIsReadInAnyCaseAndItsQueueNamesInTheirExactCase(@TempDir Path dir)
      throws IOException {
    Path file = dir.resolve("bounds.yml");
    Files.writeString(
        file,
        """
        Queue_Bounds:
          Emails: 2
          emails: "3:1s"
        """);
    assertThat(Config.fromYaml(file).queueBounds())
        .containsExactly(
            new QueueBoundSetting("Emails", 2, Duration.ZERO),
            new QueueBoundSetting("emails", 3, Duration.ofSeconds(1)));
    loading(
            dir,
            """
            queue_bounds:
              emails: 2
            QUEUE_BOUNDS: "imports:5"
            """)
        .hasMessageContaining("YAML key queue_bounds is given twice");
    assertThat(
            Config.fromEnvironment(Map.of("MACHINERY_QUEUE_BOUNDS", "Emails:2,emails:3"))
                .queueBounds())
        .extracting(QueueBoundSetting::queue)
        .containsExactly("Emails", "emails");
  }

  private static void assertSameRule(List<Rule> rules) {
    SoftAssertions softly = new SoftAssertions();
    for (Rule rule : rules) {
      String where = rule.variable() + "='" + rule.text() + "'";
      Throwable inCode = catchThrowable(rule.inCode());
      softly
          .assertThat(inCode)
          .as(where + " in code")
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(rule.setter())
          .hasMessageContaining(rule.words());
      softly
          .assertThatThrownBy(() -> Config.fromEnvironment(Map.of(rule.variable(), rule.text())))
          .as(where + " from the environment")
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("environment variable " + rule.variable())
          .hasMessageEndingWith(
              ": " + (inCode == null ? "(nothing thrown in code)" : inCode.getMessage()));
    }
    softly.assertAll();
  }

  /** The same rules from a YAML file, named by the YAML key. */
  @Test
  void aYamlValueOutOfRangeNamesItsKeyAndTheSettersRule(@TempDir Path dir) throws IOException {
    loading(dir, "sqs:\n  receive_wait_time_seconds: 25\n")
        .hasMessageStartingWith(
            "YAML key for SQS_WAIT_TIME_SECONDS (YAML sqs.receive_wait_time_seconds)")
        .hasMessageContaining("SqsConfig.waitTimeSeconds must be from 0 to 20");
    loading(dir, "redis:\n  connect_timeout: -3\n")
        .hasMessageContaining("redis.connect_timeout")
        .hasMessageContaining("RedisConfig.connectTimeout must not be negative, was -3s");
    loading(dir, "default_queue: \" \"\n")
        .hasMessageContaining("default_queue")
        .hasMessageContaining("Config.defaultQueue must not be empty or blank");
  }

  /** Each setting's canonical constructor holds the same rule as its builder. */
  @Test
  void theRecordsConstructorsHoldTheSameRules() {
    Duration negative = Duration.ofMillis(-1);
    RedisConfig d = RedisConfig.DEFAULT;
    assertThatThrownBy(
            () ->
                new RedisConfig(
                    d.maxIdle(),
                    d.maxActive(),
                    d.idleTimeout(),
                    d.waitForConnection(),
                    negative,
                    d.writeTimeout(),
                    d.connectTimeout(),
                    d.normalTasksPollPeriod(),
                    d.delayedTasksPollPeriod(),
                    d.delayedTasksKey(),
                    d.clientName(),
                    d.masterName(),
                    d.clusterEnabled(),
                    d.sentinelPassword()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("RedisConfig.readTimeout must not be negative, was -1ms");
    AmqpConfig a = AmqpConfig.DEFAULT;
    assertThatThrownBy(
            () ->
                new AmqpConfig(
                    a.exchange(),
                    a.exchangeType(),
                    a.queueDeclareArgs(),
                    a.queueBindingArgs(),
                    a.bindingKey(),
                    70_000,
                    a.autoDelete(),
                    a.delayedQueue()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("AmqpConfig.prefetchCount must be from 0 to 65535");
  }

  /** The limits themselves are allowed: the rules refuse only what lies beyond them. */
  @Test
  void theLimitsThemselvesAreAllowed() {
    assertThat(new SqsConfig(20, 43_200, true).waitTimeSeconds()).isEqualTo(20);
    assertThat(new SqsConfig(0, 0, false).visibilityTimeout()).isZero();
    assertThat(AmqpConfig.builder().prefetchCount(65_535).build().prefetchCount())
        .isEqualTo(65_535);
    assertThat(AmqpConfig.builder().prefetchCount(0).build().prefetchCount()).isZero();
    RedisConfig zero =
        RedisConfig.builder()
            .readTimeout(Duration.ZERO)
            .writeTimeout(Duration.ZERO)
            .connectTimeout(Duration.ZERO)
            .idleTimeout(Duration.ZERO)
            .build();
    assertThat(zero.readTimeout()).isZero();
    assertThat(Config.builder().defaultQueue(" tasks").build().defaultQueue()).isEqualTo(" tasks");
    Config fromEnv =
        Config.fromEnvironment(
            Map.of(
                "SQS_WAIT_TIME_SECONDS", "20",
                "SQS_VISIBILITY_TIMEOUT", "43200",
                "AMQP_PREFETCH_COUNT", "65535",
                "REDIS_READ_TIMEOUT", "0"));
    assertThat(fromEnv.sqs()).isEqualTo(new SqsConfig(20, 43_200, false));
    assertThat(fromEnv.amqp().prefetchCount()).isEqualTo(65_535);
    assertThat(fromEnv.redis().readTimeout()).isZero();
  }

  /**
   * Keys differing only in case collapsed into one setting, the last silently winning. Go's yaml.v2
   * matches keys exactly: it reads {@code broker} and ignores {@code Broker}. Here keys are read
   * without regard to case, so the two are one key given twice, and refused.
   */
  @Test
  void twoKeysThatDifferOnlyInCaseAreRefused(@TempDir Path dir) throws IOException {
    loading(
            dir,
            """
            Broker: redis://:S3cr3t@old:6379
            broker: redis://:S3cr3t@new:6379
            """)
        .hasMessageContaining("YAML key broker is given twice, as 'Broker' and as 'broker'")
        .hasMessageContaining("Go reads only the spelling 'broker'");
    loading(
            dir,
            """
            redis:
              read_timeout: 5
              Read_Timeout: 50
            """)
        .hasMessageContaining("YAML key redis.read_timeout is given twice");
    loading(
            dir,
            """
            redis:
              read_timeout: 5
            REDIS:
              connect_timeout: 5
            """)
        .hasMessageContaining("YAML key redis is given twice");
  }

  /**
   * A single key in another case still sets its setting; an unknown key is still only warned about,
   * in any case; AMQP argument names keep their case (they were lowered, so {@code X-Custom} and
   * {@code x-custom} collapsed), as Go keeps it.
   */
  @Test
  void caseOnlyMattersWhereItIsAmbiguousAndArgumentNamesKeepIt(@TempDir Path dir)
      throws IOException {
    Path file = dir.resolve("cases.yml");
    Files.writeString(
        file,
        """
        Broker: redis://127.0.0.1:6379
        my_app: 1
        My_App: 2
        amqp:
          queue_declare_args:
            x-max-priority: 10
            X-Custom: a
            x-custom: b
        """);
    Config config = Config.fromYaml(file);
    assertThat(config.broker()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(config.amqp().queueDeclareArgs())
        .containsOnly(
            Map.entry("x-max-priority", 10),
            Map.entry("X-Custom", "a"),
            Map.entry("x-custom", "b"));
  }
}
