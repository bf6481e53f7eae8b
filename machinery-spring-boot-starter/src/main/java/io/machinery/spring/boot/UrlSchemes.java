package io.machinery.spring.boot;

import io.machinery.MigratingBackend;
import io.machinery.MigratingBroker;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.config.Redaction;
import io.machinery.embedded.EagerLock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.lock.amqp.AmqpLock;
import io.machinery.lock.redis.RedisLock;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.Lock;
import java.time.Clock;
import java.util.Locale;
import org.springframework.util.ClassUtils;

/**
 * Makes the broker, backend and lock that a {@link Config}'s URLs name, by scheme, from the modules
 * on the classpath (Go's {@code NewServer} picks its broker the same way).
 *
 * <p>Design notes: the choice reads the {@link Config} bean, not the raw properties, so an
 * application's own Config bean decides too. A module's classes are touched only inside its holder
 * class ({@code Redis}, {@code Amqp}), which the JVM loads only when that module was found on the
 * class loader: without the module nothing here fails to link. A scheme no module serves fails with
 * the module to add.
 */
final class UrlSchemes {
  static final String REDIS = "redis";
  static final String AMQP = "amqp";
  static final String MEMORY = "memory";

  /** What a Spring Boot application calls the two broker URLs, for errors. */
  private static final MigratingBroker.Settings SETTINGS =
      new MigratingBroker.Settings("machinery.broker", "machinery.migrate-from-broker");

  /** What a Spring Boot application calls the two result backend URLs, for errors. */
  private static final MigratingBackend.Settings BACKEND_SETTINGS =
      new MigratingBackend.Settings(
          "machinery.result_backend", "machinery.migrate-from-result-backend");

  private final ClassLoader classLoader;

  UrlSchemes(ClassLoader classLoader) {
    this.classLoader = classLoader;
  }

  /**
   * {@code redis}, {@code amqp}, {@code memory}, or the URL's own scheme (lower case) when it is
   * another.
   */
  static String technology(String url) {
    String trimmed = url.trim().toLowerCase(Locale.ROOT);
    int colon = trimmed.indexOf("://");
    String scheme = colon < 0 ? "" : trimmed.substring(0, colon);
    return switch (scheme) {
      case "redis", "rediss", "redis+socket" -> REDIS;
      case "amqp", "amqps" -> AMQP;
      case "memory" -> MEMORY;
      default -> scheme;
    };
  }

  Broker broker(Config config, Clock clock) {
    return broker(config, clock, false, false);
  }

  /**
   * The broker of {@code config}'s URL; on Redis with {@code priorities} and {@code fairness} set
   * on its builder. With {@link Config#migrateFromBroker()} set, a {@link MigratingBroker} from
   * that URL's broker to this one (both made the same way).
   */
  Broker broker(Config config, Clock clock, boolean priorities, boolean fairness) {
    return MigratingBroker.fromConfig(
        config, SETTINGS, (one, setting) -> single(one, setting, clock, priorities, fairness));
  }

  private Broker single(
      Config config, String setting, Clock clock, boolean priorities, boolean fairness) {
    String key = setting.substring("machinery.".length()); // broker, or migrate-from-broker
    String technology = technology(config.broker());
    return switch (technology) {
      case REDIS -> {
        require(
            "io.machinery.broker.redis.RedisBroker",
            key,
            config.broker(),
            "machinery-broker-redis");
        yield Redis.broker(config, priorities, fairness);
      }
      case AMQP -> {
        require(
            "io.machinery.broker.amqp.AmqpBroker", key, config.broker(), "machinery-broker-amqp");
        yield Amqp.broker(config);
      }
      case MEMORY -> MemoryBroker.create(config, clock);
      default -> throw unserved(key, config.broker(), technology, "Broker");
    };
  }

  /**
   * The result backend of {@code config}'s URL. With {@link Config#migrateFromResultBackend()} set,
   * a {@link MigratingBackend} from that URL's backend to this one (both made the same way).
   */
  Backend backend(Config config, Clock clock) {
    return MigratingBackend.fromConfig(
        config, BACKEND_SETTINGS, (one, setting) -> singleBackend(one, setting, clock));
  }

  private Backend singleBackend(Config config, String setting, Clock clock) {
    String key = setting.substring("machinery.".length()); // result_backend, or migrate-from-...
    String technology = technology(config.resultBackend());
    return switch (technology) {
      case REDIS -> {
        require(
            "io.machinery.backend.redis.RedisBackend",
            key,
            config.resultBackend(),
            "machinery-backend-redis");
        yield Redis.backend(config);
      }
      case AMQP -> {
        require(
            "io.machinery.backend.amqp.AmqpBackend",
            key,
            config.resultBackend(),
            "machinery-backend-amqp");
        yield Amqp.backend(config);
      }
      case MEMORY -> MemoryBackend.create(config, clock);
      default -> throw unserved(key, config.resultBackend(), technology, "Backend");
    };
  }

  /**
   * Go's rule: the lock URL, or the broker's when no lock is set (the old broker's during a
   * migration). A Redis URL gets the Redis lock when its module is present; a lock URL set
   * explicitly that nothing serves fails; otherwise the in-process {@link EagerLock} (enough for
   * one scheduler; periodic tasks across servers need a shared lock).
   */
  Lock lock(Config config) {
    boolean explicit = !config.lock().isBlank();
    String url = config.lockUrl(); // the broker's when none is set (the old one's in a migration)
    if (technology(url).equals(REDIS) && present("io.machinery.lock.redis.RedisLock")) {
      return Redis.lock(config.toBuilder().lock(url).build());
    }
    if (technology(url).equals(AMQP) && present("io.machinery.lock.amqp.AmqpLock")) {
      return Amqp.lock(config.toBuilder().lock(url).build());
    }
    if (explicit) {
      throw new IllegalStateException(
          "machinery.lock is "
              + Redaction.redactUrl(url)
              + " and no lock serves it: "
              + switch (technology(url)) {
                case REDIS ->
                    "add io.machinery:machinery-lock-redis to the application's dependencies";
                case AMQP ->
                    "add io.machinery:machinery-lock-amqp to the application's dependencies";
                default -> "only Redis and AMQP locks are supported";
              }
              + ", leave machinery.lock empty for an in-process lock, or define a Lock bean");
    }
    return EagerLock.create();
  }

  private boolean present(String className) {
    return ClassUtils.isPresent(className, classLoader);
  }

  private void require(String className, String key, String url, String module) {
    if (!present(className)) {
      throw new IllegalStateException(
          "machinery."
              + key
              + " is "
              + Redaction.redactUrl(url)
              + " and no "
              + (key.contains("broker") ? "broker" : "backend")
              + " serves it: add io.machinery:"
              + module
              + " to the application's dependencies, set machinery."
              + key
              + " to a URL of a module you have, or"
              + " define a "
              + (key.contains("broker") ? "Broker" : "Backend")
              + " bean");
    }
  }

  private static IllegalStateException unserved(
      String key, String url, String technology, String type) {
    return new IllegalStateException(
        "machinery."
            + key
            + " is "
            + Redaction.redactUrl(url)
            + " and no module of"
            + " this starter serves the scheme '"
            + technology
            + "': use redis://, rediss://, redis+socket://, amqp://,"
            + " amqps:// or memory://, or define a "
            + type
            + " bean");
  }

  /** Loaded only when the Redis modules were found. */
  private static final class Redis {
    static Broker broker(Config config, boolean priorities, boolean fairness) {
      return RedisBroker.builder(config).priorities(priorities).fairness(fairness).build();
    }

    static Backend backend(Config config) {
      return RedisBackend.create(config);
    }

    static Lock lock(Config config) {
      return RedisLock.create(config);
    }
  }

  /** Loaded only when the AMQP modules were found. */
  private static final class Amqp {
    static Broker broker(Config config) {
      return AmqpBroker.create(config);
    }

    static Backend backend(Config config) {
      return AmqpBackend.create(config);
    }

    static Lock lock(Config config) {
      return AmqpLock.create(config);
    }
  }
}
