package io.machinery.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Server;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExampleTest {
  @Test
  void theDemoPrintsTheResultsGoMachinerysExamplePrints() {
    try (Server server = Server.builder().build()) {
      ExampleTasks.registerAll(server);
      server.newWorker("test", 10).launchAsync();
      List<String> lines =
          Example.send(
              server, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
      assertThat(lines).hasSize(4);
      assertThat(lines.get(0)).endsWith("= 2");
      assertThat(lines.get(1)).endsWith("= [2 4 11]");
      assertThat(lines.get(2)).endsWith("= 88");
      assertThat(lines.get(3)).endsWith("= 60");
    }
  }

  @Test
  void theReadmeQuickStartIsThisFileAndItRuns() throws IOException {
    String source =
        Files.readString(Path.of("src/main/java/io/machinery/examples/QuickStart.java"));
    String snippet = between(source, "// README:quickstart:begin\n", "// README:quickstart:end");
    String readme = Files.readString(Path.of("../README.md"));
    assertThat(readme).as("README.md quotes QuickStart.java verbatim").contains(snippet);

    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      QuickStart.main(new String[0]);
    } finally {
      System.setOut(original);
    }
    assertThat(captured.toString(StandardCharsets.UTF_8)).contains("1 + 2 = 3");
  }

  private static String between(String text, String begin, String end) {
    int from = text.indexOf(begin) + begin.length();
    return text.substring(from, text.indexOf(end, from));
  }
}
