package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigReloaderTest {
  @Test
  void aChangedFileIsPickedUpAndABrokenOneIsIgnored(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("config.yml");
    Files.writeString(file, "default_queue: first\n");
    List<Config> changes = new CopyOnWriteArrayList<>();
    try (ConfigReloader reloader =
        ConfigReloader.watch(file, Duration.ofMillis(50), changes::add)) {
      assertThat(reloader.current().defaultQueue()).isEqualTo("first");
      Files.writeString(file, "default_queue: second\n");
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("second"));
      assertThat(changes).extracting(Config::defaultQueue).containsExactly("second");
      Files.writeString(file, "default_queue: [broken\n");
      await()
          .during(Duration.ofMillis(300))
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("second"));
    }
  }

  /**
   * Reliability review F18: settings the old hand-written comparison left out (tls) reach onChange
   * too.
   */
  @Test
  void everySettingCountsAsAChange(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("config.yml");
    Files.writeString(file, "tls: false\nmultiple_broker_separator: ','\n");
    List<Config> changes = new CopyOnWriteArrayList<>();
    try (ConfigReloader reloader =
        ConfigReloader.watch(file, Duration.ofMillis(20), changes::add)) {
      Files.writeString(file, "tls: true\nmultiple_broker_separator: ','\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> reloader.current().tls());
      Files.writeString(file, "tls: true\nmultiple_broker_separator: ';'\n");
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().multipleBrokerSeparator().equals(";"));
      assertThat(changes)
          .extracting(Config::tls, Config::multipleBrokerSeparator)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple(true, ","),
              org.assertj.core.groups.Tuple.tuple(true, ";"));
    }
  }

  /** Reliability review F18: a change whose onChange threw is not applied, and is offered again. */
  @Test
  void aChangeWhoseApplyFailedIsRetried(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("config.yml");
    Files.writeString(file, "default_queue: first\n");
    java.util.concurrent.atomic.AtomicInteger attempts =
        new java.util.concurrent.atomic.AtomicInteger();
    List<String> applied = new CopyOnWriteArrayList<>();
    try (ConfigReloader reloader =
        ConfigReloader.watch(
            file,
            Duration.ofMillis(20),
            config -> {
              if (attempts.incrementAndGet() == 1) {
                throw new IllegalStateException("the broker could not be reconnected");
              }
              applied.add(config.defaultQueue());
            })) {
      Files.writeString(file, "default_queue: second\n");
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("second"));
      assertThat(attempts.get()).isEqualTo(2);
      assertThat(applied).containsExactly("second");
    }
  }

  /**
   * Configuration audit (s54): an Error from onChange (say a class missing on the new config's
   * path) ended the reloader thread, and with it every later reload, without a word.
   */
  @Test
  void anErrorFromApplyingLeavesTheWatcherRunning(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("config.yml");
    Files.writeString(file, "default_queue: first\n");
    java.util.concurrent.atomic.AtomicInteger attempts =
        new java.util.concurrent.atomic.AtomicInteger();
    try (ConfigReloader reloader =
        ConfigReloader.watch(
            file,
            Duration.ofMillis(20),
            config -> {
              if (attempts.incrementAndGet() == 1) {
                throw new NoClassDefFoundError("io/example/NewBrokerClient");
              }
            })) {
      Files.writeString(file, "default_queue: second\n");
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("second"));
      assertThat(attempts.get()).isEqualTo(2);
    }
  }

  /**
   * Configuration audit (s54): what editors and deployment tools do to a file: replace it by a
   * rename, delete it and create it again, truncate it before writing, write several times in a
   * row. The last good config stays until a valid file is there, and the last write wins.
   */
  @Test
  void aFileReplacedDeletedTruncatedOrRewrittenInABurstEndsAtItsLastValidContent(@TempDir Path dir)
      throws IOException {
    Path file = dir.resolve("config.yml");
    Files.writeString(file, "default_queue: first\n");
    List<Config> changes = new CopyOnWriteArrayList<>();
    try (ConfigReloader reloader =
        ConfigReloader.watch(file, Duration.ofMillis(20), changes::add)) {
      Path saved = dir.resolve("config.yml.tmp");
      Files.writeString(saved, "default_queue: renamed\n");
      Files.move(
          saved,
          file,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("renamed"));

      Files.delete(file);
      await()
          .during(Duration.ofMillis(200))
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("renamed"));
      Files.writeString(file, "");
      await()
          .during(Duration.ofMillis(200))
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("renamed"));

      for (int i = 0; i < 50; i++) {
        Files.writeString(file, "default_queue: burst" + i + "\n");
      }
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("burst49"));
      assertThat(changes)
          .extracting(Config::defaultQueue)
          .startsWith("renamed")
          .doesNotContain(Config.DEFAULT_QUEUE)
          .endsWith("burst49");
    }
  }
}
