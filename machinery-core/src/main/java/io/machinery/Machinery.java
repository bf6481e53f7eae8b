package io.machinery;

import io.machinery.config.Config;
import io.machinery.config.Redaction;
import io.machinery.embedded.EagerBackend;
import io.machinery.embedded.EagerBroker;
import io.machinery.embedded.EagerLock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.embedded.NullBackend;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import io.machinery.spi.ComponentProvider.Kind;
import io.machinery.spi.Lock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Builds a {@link Server} from a {@link Config}'s URLs: Go's {@code NewServer(cnf)} of v1, where
 * the broker, result backend and lock URLs' schemes pick the implementations.
 *
 * <pre>{@code
 * Config config = Config.builder().broker("redis://localhost:6379").resultBackend("redis://localhost:6379").build();
 * try (Server server = Machinery.connect(config, RedisBroker.provider(), RedisBackend.provider())) {
 *   server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)));
 * }
 * }</pre>
 *
 * <p>Design notes: the implementations come from {@link ComponentProvider}s, one per module, passed
 * in explicitly (as Jdbi's plug-ins: nothing is discovered on the class path, so what a server can
 * build is visible at the call site); the choice is by URL scheme only, never by a class name read
 * from a config or a message. Core serves {@code memory://} (the in-JVM pair), Go's {@code eager}
 * and the {@code null} backend itself. A scheme no provider serves fails with the Maven module and
 * the provider to pass (this class knows which module serves which scheme, whether or not it is
 * present). The lock follows Go: {@link Config#lock()}, or the broker's URL when it is empty; when
 * nothing serves that broker URL as a lock, an in-process {@link EagerLock} (enough for one
 * scheduler). With {@link Config#migrateFromBroker()} set, the broker is a {@link MigratingBroker}
 * from that URL's broker to {@link Config#broker()}'s (both made from the same config), and an
 * implicit lock follows the old broker's URL. The server owns what this class made: {@link
 * Server#close()} closes it; components already set on the builder stay the caller's.
 */
public final class Machinery {
  private static final String GROUP = "io.machinery:";

  /** Which module serves which scheme, for the message when that module is missing. */
  private static final Map<Kind, Map<String, String>> MODULES =
      Map.of(
          Kind.BROKER,
              Map.of(
                  "redis",
                  "machinery-broker-redis",
                  "rediss",
                  "machinery-broker-redis",
                  "redis+socket",
                  "machinery-broker-redis",
                  "amqp",
                  "machinery-broker-amqp",
                  "amqps",
                  "machinery-broker-amqp",
                  "https",
                  "machinery-broker-sqs",
                  "http",
                  "machinery-broker-sqs",
                  "gcppubsub",
                  "machinery-broker-gcppubsub"),
          Kind.BACKEND,
              Map.of(
                  "redis",
                  "machinery-backend-redis",
                  "rediss",
                  "machinery-backend-redis",
                  "redis+socket",
                  "machinery-backend-redis",
                  "amqp",
                  "machinery-backend-amqp",
                  "amqps",
                  "machinery-backend-amqp",
                  "mongodb",
                  "machinery-backend-mongodb",
                  "mongodb+srv",
                  "machinery-backend-mongodb",
                  "memcache",
                  "machinery-backend-memcache",
                  "https",
                  "machinery-backend-dynamodb",
                  "http",
                  "machinery-backend-dynamodb"),
          Kind.LOCK,
              Map.of(
                  "redis",
                  "machinery-lock-redis",
                  "rediss",
                  "machinery-lock-redis",
                  "redis+socket",
                  "machinery-lock-redis",
                  "amqp",
                  "machinery-lock-amqp",
                  "amqps",
                  "machinery-lock-amqp"));

  /** The provider each module offers, for the message when it was not passed. */
  private static final Map<String, String> PROVIDERS =
      Map.ofEntries(
          Map.entry("machinery-broker-redis", "RedisBroker.provider()"),
          Map.entry("machinery-broker-amqp", "AmqpBroker.provider()"),
          Map.entry("machinery-broker-sqs", "SqsBroker.provider()"),
          Map.entry("machinery-broker-gcppubsub", "GcpPubSubBroker.provider()"),
          Map.entry("machinery-backend-redis", "RedisBackend.provider()"),
          Map.entry("machinery-backend-amqp", "AmqpBackend.provider()"),
          Map.entry("machinery-backend-mongodb", "MongoDbBackend.provider()"),
          Map.entry("machinery-backend-memcache", "MemcacheBackend.provider()"),
          Map.entry("machinery-backend-dynamodb", "DynamoDbBackend.provider()"),
          Map.entry("machinery-lock-redis", "RedisLock.provider()"),
          Map.entry("machinery-lock-amqp", "AmqpLock.provider()"));

  private static final Map<Kind, String> FORMS =
      Map.of(
          Kind.BROKER,
              "redis://, rediss://, redis+socket://, amqp://, amqps://, https:// (SQS), gcppubsub://PROJECT/SUBSCRIPTION,"
                  + " memory:// or eager",
          Kind.BACKEND,
              "redis://, rediss://, redis+socket://, amqp://, amqps://, mongodb://, mongodb+srv://, memcache://,"
                  + " https:// (DynamoDB), memory://, eager or null",
          Kind.LOCK,
              "redis://, rediss://, redis+socket://, amqp://, amqps://, eager or empty (the broker's"
                  + " URL)");

  private Machinery() {}

  /**
   * Builds a server on the broker, result backend and lock that {@code config}'s URLs name, made by
   * the given providers (and core's own {@code memory://}, {@code eager} and {@code null}).
   *
   * <pre>{@code
   * Server server = Machinery.connect(config, RedisBroker.provider(), RedisBackend.provider());
   * }</pre>
   *
   * @param config the configuration with the URLs
   * @param providers the modules' providers, e.g. {@code RedisBroker.provider()}; the first that
   *     serves a URL wins
   * @return a server that closes the components it was built on
   * @throws IllegalArgumentException when a URL is malformed or no given provider serves its scheme
   *     (the message names the module and the provider to pass; it never shows a password)
   */
  public static Server connect(Config config, ComponentProvider... providers) {
    return connect(Server.builder().config(config), List.of(providers));
  }

  /**
   * Completes a server builder with what its config's URLs name, from the given providers only (the
   * first that serves a URL wins); a broker, backend or lock already set on the builder is kept
   * (and stays the caller's to close).
   *
   * @param builder a builder with the config (and any listeners, clock, control plane) set
   * @param providers the providers to choose from
   * @return the built server; it closes the components made here
   * @throws IllegalArgumentException when a URL is malformed or no provider serves its scheme
   */
  public static Server connect(Server.Builder builder, List<ComponentProvider> providers) {
    Objects.requireNonNull(builder, "builder");
    List<ComponentProvider> candidates = List.copyOf(providers);
    Config config = builder.configValue();
    List<AutoCloseable> made = new ArrayList<>();
    try {
      if (!builder.hasBroker()) {
        Broker broker = broker(config, builder, candidates);
        made.add(broker);
        builder.broker(broker);
      }
      if (!builder.hasBackend()) {
        Backend backend = backend(config, builder, candidates);
        made.add(backend);
        builder.backend(backend);
      }
      if (!builder.hasLock()) {
        Lock lock = lock(config, builder, candidates);
        made.add(lock);
        builder.lock(lock);
      }
      made.forEach(builder::own);
      return builder.build();
    } catch (RuntimeException e) {
      for (AutoCloseable component : made.reversed()) {
        try {
          component.close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  private static Broker broker(
      Config config, Server.Builder builder, List<ComponentProvider> providers) {
    return MigratingBroker.fromConfig(
        config,
        MigratingBroker.Settings.ENVIRONMENT,
        (one, variable) -> broker(one, variable, builder, providers));
  }

  private static Broker broker(
      Config config, String variable, Server.Builder builder, List<ComponentProvider> providers) {
    String url = config.broker();
    return switch (ComponentProvider.scheme(url)) {
      case "memory" -> MemoryBroker.create(config, builder.clockValue());
      case "eager" -> EagerBroker.create(config);
      default -> make(Kind.BROKER, url, variable, providers, p -> p.broker(config));
    };
  }

  private static Backend backend(
      Config config, Server.Builder builder, List<ComponentProvider> providers) {
    return MigratingBackend.fromConfig(
        config,
        MigratingBackend.Settings.ENVIRONMENT,
        (one, variable) -> backend(one, variable, builder, providers));
  }

  private static Backend backend(
      Config config, String variable, Server.Builder builder, List<ComponentProvider> providers) {
    String url = config.resultBackend();
    return switch (ComponentProvider.scheme(url)) {
      case "memory" -> MemoryBackend.create(config, builder.clockValue());
      case "eager" -> EagerBackend.create();
      case "null" -> NullBackend.create();
      default -> make(Kind.BACKEND, url, variable, providers, p -> p.backend(config));
    };
  }

  private static Lock lock(
      Config config, Server.Builder builder, List<ComponentProvider> providers) {
    String url = config.lock();
    String scheme = ComponentProvider.scheme(url);
    if (url.isBlank()) {
      String brokerUrl = config.lockUrl(); // the broker's (the old one's during a migration)
      ComponentProvider sameAsBroker = find(Kind.LOCK, brokerUrl, providers);
      return sameAsBroker == null
          ? EagerLock.create(builder.clockValue())
          : sameAsBroker.lock(config.toBuilder().lock(brokerUrl).build());
    }
    if (scheme.equals("eager") || scheme.equals("memory")) {
      return EagerLock.create(builder.clockValue());
    }
    return make(Kind.LOCK, url, "LOCK", providers, p -> p.lock(config));
  }

  private static <T> T make(
      Kind kind,
      String url,
      String variable,
      List<ComponentProvider> providers,
      Function<ComponentProvider, T> factory) {
    ComponentProvider provider = find(kind, url, providers);
    if (provider == null) {
      throw unserved(kind, url, variable);
    }
    return factory.apply(provider);
  }

  private static @Nullable ComponentProvider find(
      Kind kind, String url, List<ComponentProvider> providers) {
    for (ComponentProvider provider : providers) {
      if (provider.kind() == kind && provider.serves(url)) {
        return provider;
      }
    }
    return null;
  }

  private static IllegalArgumentException unserved(Kind kind, String url, String variable) {
    String what =
        switch (kind) {
          case BROKER -> "broker";
          case BACKEND -> "result backend";
          case LOCK -> "lock";
        };
    String scheme = ComponentProvider.scheme(url);
    String shown = url.isBlank() ? "empty" : Redaction.redactUrl(url);
    String module = MODULES.getOrDefault(kind, Map.of()).get(scheme);
    if (module != null) {
      return new IllegalArgumentException(
          "the "
              + what
              + " URL ("
              + variable
              + ") is "
              + shown
              + " and no provider given to Machinery.connect serves '"
              + scheme
              + "': add "
              + GROUP
              + module
              + " to the dependencies and pass "
              + PROVIDERS.getOrDefault(module, "its provider")
              + " to Machinery.connect");
    }
    return new IllegalArgumentException(
        "the "
            + what
            + " URL ("
            + variable
            + ") is "
            + shown
            + ": no Machinery"
            + " module serves "
            + (url.contains("://") ? "the scheme '" + scheme + "'" : "a URL without a scheme")
            + "; use "
            + FORMS.getOrDefault(kind, "a URL of a Machinery module"));
  }
}
