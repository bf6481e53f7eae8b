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
    try (ConfigReloader reloader = ConfigReloader.watch(file, Duration.ofMillis(50), changes::add)) {
      assertThat(reloader.current().defaultQueue()).isEqualTo("first");
      Files.writeString(file, "default_queue: second\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> reloader.current().defaultQueue().equals("second"));
      assertThat(changes).extracting(Config::defaultQueue).containsExactly("second");
      Files.writeString(file, "default_queue: [broken\n");
      await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5))
          .until(() -> reloader.current().defaultQueue().equals("second"));
    }
  }
}
