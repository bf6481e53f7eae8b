package io.machinery.spring.boot;

import io.machinery.config.Config;
import java.util.Locale;
import java.util.Map;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.bind.BindResult;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Which technology a {@code machinery.broker}, {@code machinery.result_backend} or {@code machinery.lock} URL
 * names, by its scheme (Go's {@code NewServer} picks its broker the same way). The conditions below read the
 * raw property, with Go's default when it is unset, so they can run before the properties bean exists.
 */
final class UrlSchemes {
  static final String REDIS = "redis";
  static final String AMQP = "amqp";
  static final String MEMORY = "memory";

  private UrlSchemes() {}

  /** {@code redis}, {@code amqp}, {@code memory}, or the URL's own scheme (lower case) when it is another. */
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

  static String brokerUrl(Environment env) {
    return property(env, "machinery.broker").orElse(Config.DEFAULT_BROKER);
  }

  static String backendUrl(Environment env) {
    return property(env, "machinery.result-backend").orElse(Config.DEFAULT_RESULT_BACKEND);
  }

  /** Go's rule: the lock URL, or the broker's when no lock is configured. */
  static String lockUrl(Environment env) {
    return property(env, "machinery.lock").filter(url -> !url.isBlank()).orElseGet(() -> brokerUrl(env));
  }

  /** Through the Binder, so {@code result_backend}, {@code result-backend} and MACHINERY_RESULT_BACKEND all count. */
  private static java.util.Optional<String> property(Environment env, String name) {
    BindResult<String> result = Binder.get(env).bind(name, String.class);
    return result.isBound() ? java.util.Optional.of(result.get()) : java.util.Optional.empty();
  }

  abstract static class SchemeCondition extends SpringBootCondition {
    private final String what;
    private final String technology;

    SchemeCondition(String what, String technology) {
      this.what = what;
      this.technology = technology;
    }

    abstract String url(Environment env);

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
      String found = technology(url(context.getEnvironment()));
      String message = "machinery " + what + " URL scheme is " + (found.isEmpty() ? "(none)" : found);
      return found.equals(technology) ? ConditionOutcome.match(message) : ConditionOutcome.noMatch(message);
    }
  }

  static final class RedisBroker extends SchemeCondition {
    RedisBroker() { super("broker", REDIS); }
    @Override String url(Environment env) { return brokerUrl(env); }
  }

  static final class AmqpBroker extends SchemeCondition {
    AmqpBroker() { super("broker", AMQP); }
    @Override String url(Environment env) { return brokerUrl(env); }
  }

  static final class MemoryBroker extends SchemeCondition {
    MemoryBroker() { super("broker", MEMORY); }
    @Override String url(Environment env) { return brokerUrl(env); }
  }

  static final class RedisBackend extends SchemeCondition {
    RedisBackend() { super("result_backend", REDIS); }
    @Override String url(Environment env) { return backendUrl(env); }
  }

  static final class AmqpBackend extends SchemeCondition {
    AmqpBackend() { super("result_backend", AMQP); }
    @Override String url(Environment env) { return backendUrl(env); }
  }

  static final class MemoryBackend extends SchemeCondition {
    MemoryBackend() { super("result_backend", MEMORY); }
    @Override String url(Environment env) { return backendUrl(env); }
  }

  static final class RedisLock extends SchemeCondition {
    RedisLock() { super("lock", REDIS); }
    @Override String url(Environment env) { return lockUrl(env); }
  }

  /** The module that serves a technology, for error messages. */
  static final Map<String, String> MODULES = Map.of(
      REDIS, "io.machinery:machinery-%s-redis",
      AMQP, "io.machinery:machinery-%s-amqp");
}
