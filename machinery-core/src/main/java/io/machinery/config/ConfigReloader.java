package io.machinery.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-reads a YAML config file periodically (Go's {@code NewFromYaml(path, keepReloading=true)}, every 10 s
 * there). Holds the latest good config; a file that fails to load is logged and the previous config kept.
 *
 * <p>Thread-safe. Owns one daemon thread that ends with {@link #close()}.
 */
public final class ConfigReloader implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ConfigReloader.class);
  /** Go's {@code reloadDelay}. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);

  private final Path file;
  private final AtomicReference<Config> current;
  private final Thread thread;
  private volatile boolean closed;

  private ConfigReloader(Path file, Duration interval, Consumer<Config> onChange) {
    this.file = file;
    this.current = new AtomicReference<>(Config.fromYaml(file));
    this.thread =
        Thread.ofPlatform().daemon().name("machinery-config-reloader").unstarted(() -> loop(interval, onChange));
    thread.start();
  }

  /**
   * Loads {@code file} now (failing if it is invalid) and then every {@code interval}, calling {@code onChange}
   * with each new config that differs from the last one.
   */
  public static ConfigReloader watch(Path file, Duration interval, Consumer<Config> onChange) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(onChange, "onChange");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive, was " + interval);
    }
    return new ConfigReloader(file, interval, onChange);
  }

  /** The latest config that loaded. */
  public Config current() {
    return current.get();
  }

  private void loop(Duration interval, Consumer<Config> onChange) {
    while (!closed) {
      try {
        Thread.sleep(interval);
      } catch (InterruptedException e) {
        return;
      }
      try {
        Config next = Config.fromYaml(file);
        Config previous = current.getAndSet(next);
        if (!sameContent(previous, next)) {
          onChange.accept(next);
        }
      } catch (RuntimeException e) {
        log.warn("Keeping the previous config: reloading {} failed: {}", file, e.getMessage());
      }
    }
  }

  private static boolean sameContent(Config a, Config b) {
    return a.broker().equals(b.broker()) && a.resultBackend().equals(b.resultBackend())
        && a.defaultQueue().equals(b.defaultQueue()) && a.resultsExpireIn() == b.resultsExpireIn()
        && a.amqp().equals(b.amqp()) && a.redis().equals(b.redis()) && a.sqs().equals(b.sqs())
        && a.dynamoDb().equals(b.dynamoDb()) && a.lock().equals(b.lock())
        && a.noUnixSignals() == b.noUnixSignals() && a.maxMessageBytes() == b.maxMessageBytes();
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
