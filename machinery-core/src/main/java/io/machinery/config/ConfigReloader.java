package io.machinery.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-reads a YAML config file periodically (Go's {@code NewFromYaml(path, keepReloading=true)},
 * every 10 s there). Holds the latest applied config; a file that fails to load is logged and the
 * previous config kept.
 *
 * <p>A loaded config is applied when it differs from the applied one in any setting ({@link
 * Config#equals}); it counts as applied only once {@code onChange} returns. When {@code onChange}
 * throws, the previous config stays current and the same change is offered again at the next
 * reload, until it succeeds.
 *
 * <p>The file is read whole at each reload, by its path, so an editor that saves by writing a new
 * file and renaming it over the old one, or a file deleted and created again, is picked up like an
 * edit in place. A file that is missing, empty (as during a save that truncates first) or invalid
 * is logged at each reload and the last good config kept. A save caught half-written may still be
 * read as a valid but shorter file; save with a rename to rule that out.
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
        Thread.ofPlatform()
            .daemon()
            .name("machinery-config-reloader")
            .unstarted(() -> loop(interval, onChange));
    thread.start();
  }

  /**
   * Loads {@code file} now (failing if it is invalid) and then every {@code interval}, calling
   * {@code onChange} with each new config that differs from the last one.
   */
  public static ConfigReloader watch(Path file, Duration interval, Consumer<Config> onChange) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(onChange, "onChange");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive, was " + interval);
    }
    return new ConfigReloader(file, interval, onChange);
  }

  /** The latest config that loaded and was applied ({@code onChange} returned normally). */
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
      reloadOnce(onChange);
    }
  }

  /**
   * One reload: load, compare with the applied config, apply. Only the reloader thread calls it.
   */
  private void reloadOnce(Consumer<Config> onChange) {
    Config next;
    try {
      next = Config.fromYaml(file);
    } catch (RuntimeException e) {
      log.warn("Keeping the previous config: reloading {} failed: {}", file, e.getMessage());
      return;
    }
    if (next.equals(current.get())) {
      return;
    }
    try {
      onChange.accept(next);
    } catch (RuntimeException | LinkageError | AssertionError e) {
      // Errors too: one escaping would end this thread and, unseen, every later reload
      // (a class missing on the new config's code path is a LinkageError). A VirtualMachineError
      // is left to end it: nothing can be relied on after one.
      log.warn(
          "Keeping the previous config: applying the new config from {} failed ({}); retrying at the next reload",
          file,
          e.toString());
      return;
    }
    current.set(next);
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
