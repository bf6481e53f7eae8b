package io.machinery.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The README's Spring Boot section quotes this example verbatim (up to indentation), so what it
 * shows is what {@link SpringBootServiceIT} compiles and runs.
 */
class ReadmeSpringSectionTest {

  @ParameterizedTest
  @CsvSource({
    "src/main/resources/application.yml, # README:spring-yaml",
    "src/main/java/io/machinery/examples/spring/ArithmeticTasks.java, // README:spring-tasks",
    "src/main/java/io/machinery/examples/spring/ChordController.java, // README:spring-send"
  })
  void theReadmeQuotesTheExample(String file, String marker) throws IOException {
    String source = Files.readString(Path.of(file));
    String begin = marker + ":begin\n";
    int from = source.indexOf(begin);
    assertThat(from).as("%s has %s", file, begin.strip()).isNotNegative();
    int to = source.indexOf(marker + ":end", from);
    String snippet = source.substring(from + begin.length(), to).stripIndent();
    assertThat(snippet).isNotBlank();
    String readme = Files.readString(Path.of("../../README.md"));
    assertThat(readme).as("README.md quotes %s verbatim", file).contains(snippet);
  }
}
