package io.machinery.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The README's Java blocks outside the quick start are regions of {@code ReadmeSnippets}, quoted
 * verbatim.
 */
class ReadmeSnippetsTest {

  @ParameterizedTest
  @ValueSource(strings = {"brokers", "periodic", "control"})
  void theReadmeQuotesTheRegionVerbatim(String region) throws IOException {
    String snippet = region(region);
    assertThat(snippet).as("region " + region).contains("try (");
    String readme = Files.readString(Path.of("../README.md"));
    assertThat(readme)
        .as("README.md quotes region %s of ReadmeSnippets.java, less its indentation", region)
        .contains("```java\n" + snippet + "```\n");
  }

  /** The lines between the region's markers, less their common indentation. */
  static String region(String name) throws IOException {
    String source =
        Files.readString(Path.of("src/main/java/io/machinery/examples/ReadmeSnippets.java"));
    String begin = "// README:" + name + ":begin\n";
    int from = source.indexOf(begin);
    assertThat(from).as("marker " + begin.strip()).isNotNegative();
    from += begin.length();
    int to = source.lastIndexOf('\n', source.indexOf("// README:" + name + ":end", from)) + 1;
    String body = source.substring(from, to);
    int indent =
        body.lines()
            .filter(l -> !l.isBlank())
            .mapToInt(l -> l.length() - l.stripLeading().length())
            .min()
            .orElse(0);
    StringBuilder out = new StringBuilder();
    body.lines().forEach(l -> out.append(l.isBlank() ? "" : l.substring(indent)).append('\n'));
    return out.toString();
  }
}
