package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The runnable jar ({@code target/machinery-cli.jar}, built in {@code package}) as a user runs it:
 * a child JVM with Go's environment variables, its real exit code, standard output and standard
 * error. It proves the jar carries every module's provider (merged service files) and its quiet
 * logging.
 */
class CliJarIT {
  private static final Path JAR = Path.of("target", "machinery-cli.jar");

  private final String redis = TestEndpoints.redisUrl();
  private final String queue = "cli_jar_" + UUID.randomUUID().toString().substring(0, 8);

  record Run(int code, String out, String err) {
    JsonNode json() throws IOException {
      return Render.JSON.readTree(out);
    }
  }

  private Run machinery(String... args) throws Exception {
    assertThat(JAR).as("the shaded jar from `package`").exists();
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                JAR.toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().put("BROKER", redis);
    builder.environment().put("RESULT_BACKEND", redis);
    builder.environment().put("DEFAULT_QUEUE", queue);
    Path out = Files.createTempFile("cli-out", ".txt");
    Path err = Files.createTempFile("cli-err", ".txt");
    Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("machinery exits").isTrue();
    Run run =
        new Run(
            process.exitValue(),
            Files.readString(out, StandardCharsets.UTF_8),
            Files.readString(err, StandardCharsets.UTF_8));
    Files.delete(out);
    Files.delete(err);
    return run;
  }

  @Test
  void theJarSendsListsAndPurgesOnRedisAndFailsCleanly() throws Exception {
    Run sent = machinery("send", "add", "int64:1", "int64:2", "--json");
    assertThat(sent.code()).as(sent.err()).isZero();
    String uuid = sent.json().path("uuid").asText();
    assertThat(uuid).startsWith("task_");

    Run listed = machinery("tasks", "list", "--json");
    assertThat(listed.code()).as(listed.err()).isZero();
    assertThat(listed.json().get(0).path("uuid").asText()).isEqualTo(uuid);
    assertThat(machinery("queues", "--queue", queue).out())
        .containsPattern(queue + "\\s+1\\s+0\\s+0");

    Run purged = machinery("purge", queue);
    assertThat(purged.out()).contains("removed 1 waiting tasks from " + queue);
    assertThat(purged.err()).isEmpty(); // no library logging, no progress bar off a terminal

    Run refused = machinery("queues", "--broker", "redis://:hunter2@127.0.0.1:1/0");
    assertThat(refused.code()).isEqualTo(MachineryCli.EXIT_UNREACHABLE);
    assertThat(refused.err())
        .contains("cannot connect")
        .doesNotContain("hunter2")
        .doesNotContain("\tat ");
    assertThat(refused.out()).isEmpty();

    Run usage = machinery("frobnicate");
    assertThat(usage.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(usage.err()).contains("frobnicate");
  }
}
