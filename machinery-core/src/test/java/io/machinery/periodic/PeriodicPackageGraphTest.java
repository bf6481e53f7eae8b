package io.machinery.periodic;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the core package graph free of the one class-level cycle it had: {@code Server} makes the
 * scheduler, so no class of this package may name {@code Server} in its byte code (Javadoc links do
 * not count; they are not compiled in).
 */
class PeriodicPackageGraphTest {

  @Test
  void noPeriodicClassReferencesServer() throws IOException, URISyntaxException {
    Path dir =
        Path.of(PeriodicScheduler.class.getResource("PeriodicScheduler.class").toURI()).getParent();
    List<Path> classes;
    try (Stream<Path> files = Files.list(dir)) {
      classes = files.filter(f -> f.toString().endsWith(".class")).toList();
    }
    assertThat(classes).as("compiled classes of io.machinery.periodic").hasSizeGreaterThan(5);
    for (Path file : classes) {
      // class names sit in the constant pool as modified UTF-8, readable as ISO-8859-1 for ASCII
      // names
      String pool = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
      assertThat(pool)
          .as(file.getFileName() + " must not depend on Server (take a PeriodicSender instead)")
          .doesNotContain(
              "io/machinery/Server;", "io/machinery/Server\u0001", "Lio/machinery/Server")
          .doesNotContainPattern("io/machinery/Server(?![A-Za-z0-9_])");
    }
  }
}
