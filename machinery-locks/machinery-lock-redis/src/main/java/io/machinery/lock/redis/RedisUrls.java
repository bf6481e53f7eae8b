package io.machinery.lock.redis;

import io.machinery.client.redis.RedisAddress;
import io.machinery.config.Config;
import io.machinery.config.Redaction;
import org.jspecify.annotations.Nullable;

/** Which Redis the lock and the task limiter use, when their builders were given no URL. */
final class RedisUrls {
  private RedisUrls() {}

  /**
   * {@code url} if given; else {@link Config#lock()}; else the result backend's or the broker's URL
   * if it is a Redis one.
   *
   * @throws IllegalArgumentException when there is none, or the lock URL is not a Redis URL
   */
  static String resolve(Config config, @Nullable String url) {
    if (url != null) {
      return url;
    }
    if (!config.lock().isEmpty()) {
      if (!RedisAddress.isRedisUrl(config.lock())) {
        throw new IllegalArgumentException(
            "the lock URL is not a Redis URL: " + Redaction.redactUrl(config.lock()));
      }
      return config.lock();
    }
    for (String candidate : new String[] {config.resultBackend(), config.broker()}) {
      if (RedisAddress.isRedisUrl(candidate)) {
        return candidate;
      }
    }
    throw new IllegalArgumentException(
        "no Redis URL for the lock or task limiter: set Config.lock (LOCK=redis://host:6379) or"
            + " the builder's url");
  }
}
