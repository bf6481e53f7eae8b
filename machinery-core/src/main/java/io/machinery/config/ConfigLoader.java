package io.machinery.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import io.machinery.internal.GoDurations;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads {@link Config} from environment variables and YAML with Go's names (spec §6).
 *
 * <p>YAML support is optional: {@code jackson-dataformat-yaml} is an optional dependency, loaded
 * only when a YAML file is read ({@link Yaml}), so a user who never reads YAML does not need it. A
 * config file holds passwords, so a YAML error says where (line and column) but never quotes the
 * file: neither the text of Jackson's or SnakeYAML's message (which show the offending line) nor
 * the exception is passed on.
 *
 * <p>No rule about a value is written here: the loader only turns a variable's text into the type
 * of the builder setter that holds the setting (a whole number, true or false, seconds) and hands
 * it over ({@link Reading}); when the setter refuses it, the refusal is passed on with the
 * variable's and YAML key's names in front. So code, environment and YAML are held to one rule.
 */
final class ConfigLoader {
  private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);

  private ConfigLoader() {}

  /**
   * Loaded on first use, so that a missing YAML module fails only {@code fromYaml}; every reference
   * to a YAML class stays in here for the same reason.
   *
   * <p>Jackson reads a YAML alias ({@code *name}) as the text {@code name}, not as the anchored
   * value, so {@code result_backend: *redis} would silently become the URL {@code redis}: aliases
   * are refused (which also rules out alias bombs). A key given twice is refused rather than the
   * last one silently winning (Go's {@code yaml.Unmarshal} lets the last win; only its {@code
   * UnmarshalStrict} refuses).
   */
  private static final class Yaml {
    static final ObjectMapper MAPPER =
        new ObjectMapper(
            YAMLFactory.builder()
                .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build());

    /**
     * The document as maps, lists and scalars; null when it holds nothing.
     *
     * @throws AliasFound at the first alias
     */
    static @Nullable Object read(byte[] content) throws IOException {
      boolean empty = true;
      try (JsonParser parser = MAPPER.createParser(content)) {
        while (parser.nextToken() != null) {
          empty = false;
          if (parser instanceof YAMLParser yamlParser && yamlParser.isCurrentAlias()) {
            throw new AliasFound(parser.currentTokenLocation());
          }
        }
      }
      return empty ? null : MAPPER.readValue(content, Object.class);
    }
  }

  /** Where a YAML alias was found (see {@link Yaml}). */
  private static final class AliasFound extends IOException {
    private static final long serialVersionUID = 1L;
    final transient JsonLocation location;

    AliasFound(JsonLocation location) {
      super("YAML alias");
      this.location = location;
    }
  }

  private static @Nullable Object readYaml(byte[] content) throws IOException {
    try {
      return Yaml.read(content);
    } catch (NoClassDefFoundError e) {
      throw new IllegalStateException(
          "Reading a YAML config needs com.fasterxml.jackson.dataformat:"
              + "jackson-dataformat-yaml on the class path (an optional dependency of machinery-core); add it, or "
              + "configure with Config.builder() or Config.fromEnvironment()",
          e);
    }
  }

  static Config fromEnvironment(Map<String, String> env) {
    Source source =
        key -> {
          String value = env.get(key);
          return value == null || value.isEmpty() ? null : value;
        };
    return read(source, "environment variable ");
  }

  static Config fromYaml(Path file) {
    byte[] content;
    try {
      content = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read YAML config " + file + ": " + e, e);
    }
    Object tree;
    try {
      tree = readYaml(content);
    } catch (AliasFound e) {
      throw new IllegalArgumentException(
          "YAML config "
              + file
              + " uses an alias (*name) "
              + where(e.location)
              + ": aliases are not supported, write the value out in full");
    } catch (JsonProcessingException e) {
      String original = String.valueOf(e.getOriginalMessage());
      if (original.startsWith("Duplicate field '")) {
        // Only the key's name is quoted, never a value.
        throw new IllegalArgumentException(
            "YAML config "
                + file
                + " gives the key '"
                + original.substring("Duplicate field '".length(), original.lastIndexOf('\''))
                + "' twice "
                + where(e.getLocation())
                + ": give each key once");
      }
      if (original.contains("CharConversionException")) {
        throw new IllegalArgumentException(
            "YAML config "
                + file
                + " is not valid UTF-8 "
                + where(e.getLocation())
                + ": save it as UTF-8");
      }
      // No cause: its message quotes the offending line, which may hold a password.
      throw new IllegalArgumentException(
          "invalid YAML in config "
              + file
              + " "
              + where(e.getLocation())
              + " (the parser's message is not shown because it quotes the file, which may hold passwords)");
    } catch (IOException | RuntimeException e) {
      if (e instanceof IllegalStateException missingModule
          && missingModule.getCause() instanceof NoClassDefFoundError) {
        throw missingModule;
      }
      throw new IllegalArgumentException(
          "cannot read YAML config "
              + file
              + ": "
              + e.getClass().getSimpleName()
              + " (the parser's message is not shown because it may quote the file)");
    }
    if (tree == null) {
      // Go reads an empty file as its defaults; here it is more likely the wrong file, or one an
      // editor is still writing (ConfigReloader then keeps the last good config).
      throw new IllegalArgumentException(
          "YAML config "
              + file
              + " is empty (or only comments): give at least one setting, e.g. 'broker: redis://...'");
    }
    Map<String, Object> flat = new LinkedHashMap<>();
    List<QueueBoundSetting> boundsMapping = null;
    if (tree instanceof Map<?, ?> map) {
      Object boundsKey = queueBoundsKey(map);
      if (boundsKey != null && map.get(boundsKey) instanceof Map<?, ?> bounds) {
        // queue names keep their case and dots: not flattened with the rest
        boundsMapping = boundsFromYaml(bounds);
        Map<Object, Object> rest = new LinkedHashMap<>(map);
        rest.remove(boundsKey);
        map = rest;
      }
      flatten("", map, flat);
    } else {
      throw new IllegalArgumentException(
          "YAML config " + file + " must be a mapping of keys, e.g. 'broker: redis://...'");
    }
    for (String key : flat.keySet()) {
      if (!YAML_KEYS.contains(key)
          && !key.startsWith("amqp.queue_declare_args.")
          && !key.startsWith("amqp.queue_binding_args.")) {
        log.warn("Ignoring unknown key '{}' in config {}", key, file);
      }
    }
    Source source =
        key -> {
          String yamlKey = ENV_TO_YAML.get(key);
          Object value = yamlKey == null ? null : flat.get(yamlKey);
          return value == null ? null : String.valueOf(value);
        };
    Config config = read(source, "YAML key for ");
    Map<String, Object> declareArgs = prefixed(flat, "amqp.queue_declare_args.");
    Map<String, Object> bindingArgs = prefixed(flat, "amqp.queue_binding_args.");
    if (!declareArgs.isEmpty() || !bindingArgs.isEmpty()) {
      AmqpConfig amqp = config.amqp();
      if (!declareArgs.isEmpty()) amqp = amqp.withQueueDeclareArgs(declareArgs);
      if (!bindingArgs.isEmpty()) amqp = amqp.withQueueBindingArgs(bindingArgs);
      config = config.toBuilder().amqp(amqp).build();
    }
    if (boundsMapping != null) {
      config = config.toBuilder().queueBounds(boundsMapping).build();
    }
    return config;
  }

  private static final String QUEUE_BOUNDS_ENV = "MACHINERY_QUEUE_BOUNDS";
  private static final String QUEUE_BOUNDS_YAML = "queue_bounds";

  /**
   * The top-level key that spells {@code queue_bounds}, in any case as every key is read (see
   * {@link #flatten}); null without one. The queue names under it keep their exact case: queue
   * names are case-sensitive in every broker, so {@code Emails} and {@code emails} are two queues.
   *
   * @throws IllegalArgumentException when two keys spell it
   */
  private static @Nullable Object queueBoundsKey(Map<?, ?> map) {
    @Nullable Object found = null;
    for (Object key : map.keySet()) {
      if (String.valueOf(key).equalsIgnoreCase(QUEUE_BOUNDS_YAML)) {
        if (found != null) {
          throw new IllegalArgumentException(
              "YAML key "
                  + QUEUE_BOUNDS_YAML
                  + " is given twice, as '"
                  + found
                  + "' and as '"
                  + key
                  + "': keys are read without regard to case; give it once");
        }
        found = key;
      }
    }
    return found;
  }

  /**
   * The mapping form of {@code queue_bounds}: each queue's most waiting tasks, optionally followed
   * by {@code :} and the longest wait for room ({@code emails: 2}, {@code imports: "10000:1m"}).
   */
  private static List<QueueBoundSetting> boundsFromYaml(Map<?, ?> mapping) {
    List<QueueBoundSetting> out = new ArrayList<>();
    for (Map.Entry<?, ?> e : mapping.entrySet()) {
      String queue = e.getKey() == null ? "" : String.valueOf(e.getKey());
      String entry = queue + ":" + e.getValue();
      out.add(bound("YAML key for ", entry));
    }
    return out;
  }

  /**
   * {@code MACHINERY_QUEUE_BOUNDS}: {@code queue:maxPending[:maxWait]} entries separated by commas,
   * e.g. {@code emails:2,imports:10000:1m} (the wait in Go's duration form; none refuses at once).
   */
  private static List<QueueBoundSetting> bounds(String what, String value) {
    List<QueueBoundSetting> out = new ArrayList<>();
    for (String entry : value.split(",")) {
      if (!entry.isBlank()) {
        out.add(bound(what, entry.trim()));
      }
    }
    return out;
  }

  /** One {@code queue:maxPending[:maxWait]} entry, read from its right (a queue may hold ':'). */
  private static QueueBoundSetting bound(String what, String entry) {
    String problem =
        what
            + describe(QUEUE_BOUNDS_ENV)
            + " takes queue:maxPending or queue:maxPending:maxWait entries separated by commas"
            + " (e.g. emails:2,imports:10000:1m), got '"
            + entry
            + "'";
    int colon = entry.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException(problem);
    }
    String head = entry.substring(0, colon);
    String last = entry.substring(colon + 1).trim();
    Duration maxWait = Duration.ZERO;
    if (!last.chars().allMatch(Character::isDigit) || last.isEmpty()) {
      try {
        maxWait = GoDurations.parse(last);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(problem + ": " + e.getMessage(), e);
      }
      colon = head.lastIndexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException(problem);
      }
      last = head.substring(colon + 1).trim();
      head = head.substring(0, colon);
    }
    long maxPending;
    try {
      maxPending = Long.parseLong(last);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(problem + ": the most waiting tasks must be a number");
    }
    try {
      return new QueueBoundSetting(head.trim(), maxPending, maxWait);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(problem + ": " + e.getMessage(), e);
    }
  }

  private static String where(@Nullable JsonLocation location) {
    if (location == null || location.getLineNr() < 0) {
      return "at an unknown position";
    }
    return "at line " + location.getLineNr() + ", column " + location.getColumnNr();
  }

  private interface Source {
    @Nullable String get(String envName);
  }

  /** Turns a variable's text into its setter's type; refuses with the rule, not the name. */
  private interface Parser<T> {
    T parse(String text);
  }

  /**
   * Hands each variable that is set, parsed, to the builder setter that holds the setting's rule; a
   * refusal (the parser's or the setter's) is given the variable's and YAML key's names.
   */
  private record Reading(Source source, String what) {
    <T> void set(String key, Parser<T> parser, Consumer<T> setter) {
      String text = source.get(key);
      if (text == null) {
        return;
      }
      try {
        setter.accept(parser.parse(text));
      } catch (IllegalArgumentException e) {
        String reason = String.valueOf(e.getMessage());
        throw new IllegalArgumentException(
            reason.startsWith(what) ? reason : what + describe(key) + ": " + reason, e);
      }
    }

    void text(String key, Consumer<String> setter) {
      set(key, text -> text, setter);
    }

    void number(String key, IntConsumer setter) {
      set(key, ConfigLoader::parseInt, setter::accept);
    }

    void flag(String key, Consumer<Boolean> setter) {
      set(key, ConfigLoader::parseBool, setter);
    }

    /** Go's whole seconds. */
    void seconds(String key, Consumer<Duration> setter) {
      set(key, text -> Duration.ofSeconds(parseInt(text)), setter);
    }

    /** Go's whole milliseconds. */
    void millis(String key, Consumer<Duration> setter) {
      set(key, text -> Duration.ofMillis(parseInt(text)), setter);
    }
  }

  private static Config read(Source s, String what) {
    Reading r = new Reading(s, what);
    Config.Builder b = Config.DEFAULT.toBuilder();
    r.text("BROKER", b::broker);
    r.text("LOCK", b::lock);
    r.text("MACHINERY_MIGRATE_FROM_BROKER", b::migrateFromBroker);
    r.text("MACHINERY_MIGRATE_FROM_RESULT_BACKEND", b::migrateFromResultBackend);
    r.text("MULTIPLE_BROKEN_SEPARATOR", b::multipleBrokerSeparator);
    r.text("DEFAULT_QUEUE", b::defaultQueue);
    r.text("RESULT_BACKEND", b::resultBackend);
    r.number("RESULTS_EXPIRE_IN", b::resultsExpireIn);
    r.flag("NO_UNIX_SIGNALS", b::noUnixSignals);
    r.flag("MACHINERY_TLS", b::tls);
    r.number("MACHINERY_MAX_MESSAGE_BYTES", b::maxMessageBytes);
    r.flag("MACHINERY_STRICT_UUIDS", b::strictUuids);
    r.set(QUEUE_BOUNDS_ENV, text -> bounds(what, text), b::queueBounds);

    AmqpConfig.Builder amqp = AmqpConfig.builder();
    r.text("AMQP_EXCHANGE", amqp::exchange);
    r.text("AMQP_EXCHANGE_TYPE", amqp::exchangeType);
    r.text("AMQP_BINDING_KEY", amqp::bindingKey);
    r.number("AMQP_PREFETCH_COUNT", amqp::prefetchCount);
    r.flag("AMQP_AUTO_DELETE", amqp::autoDelete);
    r.text("AMQP_DELAYED_QUEUE", amqp::delayedQueue);
    r.set("AMQP_QUEUE_BINDING_ARGS", ConfigLoader::parsePairs, amqp::queueBindingArgs);
    r.set("AMQP_QUEUE_DECLARE_ARGS", ConfigLoader::parsePairs, amqp::queueDeclareArgs);
    b.amqp(amqp.build());

    RedisConfig.Builder redis = RedisConfig.builder();
    r.number("REDIS_MAX_IDLE", redis::maxIdle);
    r.number("REDIS_MAX_ACTIVE", redis::maxActive);
    r.seconds("REDIS_IDLE_TIMEOUT", redis::idleTimeout);
    r.flag("REDIS_WAIT", redis::waitForConnection);
    r.seconds("REDIS_READ_TIMEOUT", redis::readTimeout);
    r.seconds("REDIS_WRITE_TIMEOUT", redis::writeTimeout);
    r.seconds("REDIS_CONNECT_TIMEOUT", redis::connectTimeout);
    r.millis("REDIS_NORMAL_TASKS_POLL_PERIOD", redis::normalTasksPollPeriod);
    r.millis("REDIS_DELAYED_TASKS_POLL_PERIOD", redis::delayedTasksPollPeriod);
    r.text("REDIS_DELAYED_TASKS_KEY", redis::delayedTasksKey);
    r.text("REDIS_CLIENT_NAME", redis::clientName);
    r.text("REDIS_MASTER_NAME", redis::masterName);
    r.flag("REDIS_CLUSTER_ENABLED", redis::clusterEnabled);
    r.text("REDIS_SENTINEL_PASSWORD", redis::sentinelPassword);
    r.number("REDIS_REPLICA_ACKS", redis::replicaAcks);
    r.millis("REDIS_REPLICA_ACK_TIMEOUT", redis::replicaAckTimeout);
    b.redis(redis.build());

    SqsConfig.Builder sqs = SqsConfig.builder();
    r.number("SQS_WAIT_TIME_SECONDS", sqs::waitTimeSeconds);
    r.number("SQS_VISIBILITY_TIMEOUT", sqs::visibilityTimeout);
    r.flag("SQS_VISIBILITY_HEARTBEAT", sqs::visibilityHeartBeat);
    b.sqs(sqs.build());

    String[] tables = {
      DynamoDbConfig.DEFAULT_TASK_STATES_TABLE, DynamoDbConfig.DEFAULT_GROUP_METAS_TABLE
    };
    r.text(
        "TASK_STATES_TABLE",
        v -> tables[0] = DynamoDbConfig.checkTable("DynamoDbConfig.taskStatesTable", v));
    r.text(
        "GROUP_METAS_TABLE",
        v -> tables[1] = DynamoDbConfig.checkTable("DynamoDbConfig.groupMetasTable", v));
    b.dynamoDb(new DynamoDbConfig(tables[0], tables[1]));
    return b.build();
  }

  private static int parseInt(String text) {
    long parsed;
    try {
      parsed = Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("must be a whole number, was '" + text + "'");
    }
    if (parsed < Integer.MIN_VALUE || parsed > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "must be a whole number from "
              + Integer.MIN_VALUE
              + " to "
              + Integer.MAX_VALUE
              + ", was '"
              + text
              + "'");
    }
    return (int) parsed;
  }

  private static boolean parseBool(String text) {
    // envconfig uses strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.
    return switch (text.trim()) {
      case "1", "t", "T", "TRUE", "true", "True" -> true;
      case "0", "f", "F", "FALSE", "false", "False" -> false;
      default -> throw new IllegalArgumentException("must be true or false, was '" + text + "'");
    };
  }

  private static String describe(String envKey) {
    String yaml = ENV_TO_YAML.get(envKey);
    return yaml == null ? envKey : envKey + " (YAML " + yaml + ")";
  }

  /** Go's envconfig map form {@code k:v,k2:v2}. */
  private static Map<String, Object> parsePairs(String value) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (String pair : value.split(",")) {
      if (pair.isBlank()) continue;
      int colon = pair.indexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException(
            "expected key:value pairs separated by commas, got '" + value + "'");
      }
      out.put(pair.substring(0, colon).trim(), pair.substring(colon + 1).trim());
    }
    return out;
  }

  /**
   * The settings by their dotted, lower-case keys ({@code redis.read_timeout}). Keys are read
   * without regard to case, so {@code Broker} sets the broker; Go's yaml.v2 matches them exactly
   * and ignores {@code Broker}. Two keys of one mapping that differ only in case would collapse
   * into one setting, the last silently winning: that is refused, for keys this reader knows (an
   * unknown key is only warned about). The keys of the AMQP argument mappings are argument names
   * and keep their case, as in Go.
   */
  private static void flatten(String prefix, Map<?, ?> map, Map<String, Object> out) {
    Map<String, String> spellings = new java.util.HashMap<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      String spelling = String.valueOf(e.getKey());
      String key = prefix + spelling.toLowerCase(Locale.ROOT);
      String earlier = spellings.putIfAbsent(key, spelling);
      if (earlier != null && isKnown(key)) {
        throw new IllegalArgumentException(
            "YAML key "
                + key
                + " is given twice, as '"
                + earlier
                + "' and as '"
                + spelling
                + "': keys are read without regard to case (Go reads only the spelling '"
                + key.substring(prefix.length())
                + "'); give it once");
      }
      Object value = e.getValue();
      if (ENV_TO_YAML_MAPPINGS.containsValue(key) && value instanceof Map<?, ?> arguments) {
        arguments.forEach(
            (name, argument) -> {
              if (argument != null) {
                out.put(key + "." + name, argument);
              }
            });
        continue;
      }
      if (YAML_KEYS.contains(key) && (value instanceof Map<?, ?> || value instanceof List<?>)) {
        // String.valueOf of a list would otherwise become the setting: broker "[redis://a, ...]"
        throw new IllegalArgumentException(
            "YAML key "
                + key
                + " takes a single value, not a "
                + (value instanceof Map<?, ?> ? "mapping" : "list"));
      }
      if (value instanceof Map<?, ?> nested) {
        flatten(key + ".", nested, out);
      } else if (value != null) {
        out.put(key, value);
      }
    }
  }

  /** A key this reader takes, or a section holding such keys ({@code redis}). */
  private static boolean isKnown(String key) {
    return YAML_KEYS.contains(key)
        || ENV_TO_YAML_MAPPINGS.containsValue(key)
        || YAML_KEYS.stream().anyMatch(known -> known.startsWith(key + "."));
  }

  private static Map<String, Object> prefixed(Map<String, Object> flat, String prefix) {
    Map<String, Object> out = new LinkedHashMap<>();
    flat.forEach(
        (k, v) -> {
          if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v);
        });
    return out;
  }

  /**
   * Every setting of {@code c} by its environment variable, in the text that variable takes, in the
   * README's order: {@code fromEnvironment} of these values gives {@code c} back (but for
   * credentials, which are masked, and durations finer than the variable's unit).
   */
  static List<Config.Setting> settings(Config c) {
    List<Config.Setting> out = new ArrayList<>();
    java.util.function.BiConsumer<String, Object> add =
        (env, value) -> out.add(new Config.Setting(env, yamlKeyOf(env), String.valueOf(value)));
    add.accept("BROKER", shown(c.broker()));
    add.accept("RESULT_BACKEND", shown(c.resultBackend()));
    add.accept("LOCK", shown(c.lock()));
    add.accept("DEFAULT_QUEUE", c.defaultQueue());
    add.accept("RESULTS_EXPIRE_IN", c.resultsExpireIn());
    add.accept("MULTIPLE_BROKEN_SEPARATOR", c.multipleBrokerSeparator());
    add.accept("NO_UNIX_SIGNALS", c.noUnixSignals());
    AmqpConfig amqp = c.amqp();
    add.accept("AMQP_EXCHANGE", amqp.exchange());
    add.accept("AMQP_EXCHANGE_TYPE", amqp.exchangeType());
    add.accept("AMQP_BINDING_KEY", amqp.bindingKey());
    add.accept("AMQP_PREFETCH_COUNT", amqp.prefetchCount());
    add.accept("AMQP_AUTO_DELETE", amqp.autoDelete());
    add.accept("AMQP_DELAYED_QUEUE", amqp.delayedQueue());
    add.accept("AMQP_QUEUE_DECLARE_ARGS", pairs(amqp.queueDeclareArgs()));
    add.accept("AMQP_QUEUE_BINDING_ARGS", pairs(amqp.queueBindingArgs()));
    RedisConfig r = c.redis();
    add.accept("REDIS_READ_TIMEOUT", r.readTimeout().toSeconds());
    add.accept("REDIS_CONNECT_TIMEOUT", r.connectTimeout().toSeconds());
    add.accept("REDIS_NORMAL_TASKS_POLL_PERIOD", r.normalTasksPollPeriod().toMillis());
    add.accept("REDIS_DELAYED_TASKS_POLL_PERIOD", r.delayedTasksPollPeriod().toMillis());
    add.accept("REDIS_DELAYED_TASKS_KEY", r.delayedTasksKey());
    add.accept("REDIS_CLIENT_NAME", r.clientName());
    add.accept("REDIS_MASTER_NAME", r.masterName());
    add.accept("REDIS_SENTINEL_PASSWORD", r.sentinelPassword().isEmpty() ? "" : "***");
    add.accept("REDIS_CLUSTER_ENABLED", r.clusterEnabled());
    add.accept("REDIS_REPLICA_ACKS", r.replicaAcks());
    add.accept("REDIS_REPLICA_ACK_TIMEOUT", r.replicaAckTimeout().toMillis());
    add.accept("REDIS_MAX_IDLE", r.maxIdle());
    add.accept("REDIS_MAX_ACTIVE", r.maxActive());
    add.accept("REDIS_IDLE_TIMEOUT", r.idleTimeout().toSeconds());
    add.accept("REDIS_WAIT", r.waitForConnection());
    add.accept("REDIS_WRITE_TIMEOUT", r.writeTimeout().toSeconds());
    SqsConfig sqs = c.sqs();
    add.accept("SQS_WAIT_TIME_SECONDS", sqs.waitTimeSeconds());
    Integer visibility = sqs.visibilityTimeout();
    add.accept("SQS_VISIBILITY_TIMEOUT", visibility == null ? "" : visibility);
    add.accept("SQS_VISIBILITY_HEARTBEAT", sqs.visibilityHeartBeat());
    add.accept("TASK_STATES_TABLE", c.dynamoDb().taskStatesTable());
    add.accept("GROUP_METAS_TABLE", c.dynamoDb().groupMetasTable());
    add.accept("MACHINERY_MIGRATE_FROM_BROKER", shown(c.migrateFromBroker()));
    add.accept("MACHINERY_MIGRATE_FROM_RESULT_BACKEND", shown(c.migrateFromResultBackend()));
    StringBuilder bounds = new StringBuilder();
    for (QueueBoundSetting bound : c.queueBounds()) {
      bounds.append(bounds.isEmpty() ? "" : ",").append(bound.queue()).append(':');
      bounds.append(bound.maxPending());
      if (!bound.maxWait().isZero()) {
        bounds.append(':').append(GoDurations.format(bound.maxWait()));
      }
    }
    add.accept("MACHINERY_QUEUE_BOUNDS", bounds);
    add.accept("MACHINERY_TLS", c.tls());
    add.accept("MACHINERY_MAX_MESSAGE_BYTES", c.maxMessageBytes());
    add.accept("MACHINERY_STRICT_UUIDS", c.strictUuids());
    return List.copyOf(out);
  }

  private static String yamlKeyOf(String env) {
    String key = ENV_TO_YAML.get(env);
    if (key == null) {
      key = ENV_TO_YAML_MAPPINGS.get(env);
    }
    if (key == null) {
      throw new IllegalStateException("no YAML key for " + env);
    }
    return key;
  }

  /** A URL as it may be shown: as given without credentials, else redacted (scheme://host). */
  private static String shown(String url) {
    return url.indexOf('@') < 0 ? url : Redaction.redactUrl(url);
  }

  /** Go's envconfig map form {@code k:v,k2:v2}. */
  private static String pairs(Map<String, Object> map) {
    StringBuilder out = new StringBuilder();
    map.forEach((k, v) -> out.append(out.isEmpty() ? "" : ",").append(k).append(':').append(v));
    return out.toString();
  }

  /** The YAML forms of the two map settings: a mapping under this key. */
  private static final Map<String, String> ENV_TO_YAML_MAPPINGS =
      Map.of(
          "AMQP_QUEUE_DECLARE_ARGS", "amqp.queue_declare_args",
          "AMQP_QUEUE_BINDING_ARGS", "amqp.queue_binding_args");

  /** Every environment variable read, with its YAML key (the README's table names them all). */
  static final Map<String, String> ENV_TO_YAML =
      Map.ofEntries(
          Map.entry("BROKER", "broker"),
          Map.entry("LOCK", "lock"),
          Map.entry("MACHINERY_MIGRATE_FROM_BROKER", "migrate_from_broker"),
          Map.entry("MACHINERY_MIGRATE_FROM_RESULT_BACKEND", "migrate_from_result_backend"),
          Map.entry("MULTIPLE_BROKEN_SEPARATOR", "multiple_broker_separator"),
          Map.entry("DEFAULT_QUEUE", "default_queue"),
          Map.entry("RESULT_BACKEND", "result_backend"),
          Map.entry("RESULTS_EXPIRE_IN", "results_expire_in"),
          Map.entry("NO_UNIX_SIGNALS", "no_unix_signals"),
          Map.entry("MACHINERY_TLS", "tls"),
          Map.entry("MACHINERY_MAX_MESSAGE_BYTES", "max_message_bytes"),
          Map.entry("MACHINERY_STRICT_UUIDS", "strict_uuids"),
          Map.entry("MACHINERY_QUEUE_BOUNDS", "queue_bounds"),
          Map.entry("AMQP_EXCHANGE", "amqp.exchange"),
          Map.entry("AMQP_EXCHANGE_TYPE", "amqp.exchange_type"),
          Map.entry("AMQP_BINDING_KEY", "amqp.binding_key"),
          Map.entry("AMQP_PREFETCH_COUNT", "amqp.prefetch_count"),
          Map.entry("AMQP_AUTO_DELETE", "amqp.auto_delete"),
          Map.entry("AMQP_DELAYED_QUEUE", "amqp.delayed_queue"),
          Map.entry("REDIS_MAX_IDLE", "redis.max_idle"),
          Map.entry("REDIS_MAX_ACTIVE", "redis.max_active"),
          Map.entry("REDIS_IDLE_TIMEOUT", "redis.max_idle_timeout"),
          Map.entry("REDIS_WAIT", "redis.wait"),
          Map.entry("REDIS_READ_TIMEOUT", "redis.read_timeout"),
          Map.entry("REDIS_WRITE_TIMEOUT", "redis.write_timeout"),
          Map.entry("REDIS_CONNECT_TIMEOUT", "redis.connect_timeout"),
          Map.entry("REDIS_NORMAL_TASKS_POLL_PERIOD", "redis.normal_tasks_poll_period"),
          Map.entry("REDIS_DELAYED_TASKS_POLL_PERIOD", "redis.delayed_tasks_poll_period"),
          Map.entry("REDIS_DELAYED_TASKS_KEY", "redis.delayed_tasks_key"),
          Map.entry("REDIS_CLIENT_NAME", "redis.client_name"),
          Map.entry("REDIS_MASTER_NAME", "redis.master_name"),
          Map.entry("REDIS_CLUSTER_ENABLED", "redis.cluster_enabled"),
          Map.entry("REDIS_SENTINEL_PASSWORD", "redis.sentinel_password"),
          Map.entry("REDIS_REPLICA_ACKS", "redis.replica_acks"),
          Map.entry("REDIS_REPLICA_ACK_TIMEOUT", "redis.replica_ack_timeout"),
          Map.entry("SQS_WAIT_TIME_SECONDS", "sqs.receive_wait_time_seconds"),
          Map.entry("SQS_VISIBILITY_TIMEOUT", "sqs.receive_visibility_timeout"),
          Map.entry("SQS_VISIBILITY_HEARTBEAT", "sqs.visibility_hearth_beat"),
          Map.entry("TASK_STATES_TABLE", "dynamodb.task_states_table"),
          Map.entry("GROUP_METAS_TABLE", "dynamodb.group_metas_table"));

  private static final Set<String> YAML_KEYS = Set.copyOf(ENV_TO_YAML.values());
}
