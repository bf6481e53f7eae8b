package io.machinery.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.testkit.TestEndpoints;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Go Machinery's two-program setup for real: {@code Example worker} and {@code Example send} as two
 * JVMs started from this module's built classpath, sharing only a real broker and backend (Redis,
 * then RabbitMQ for both). The sender must print the four results Go's example prints, computed by
 * the other process.
 *
 * <p>Design notes: each run gets its own queue (and on AMQP its own exchange and binding key), so
 * parallel runs on the shared servers never take each other's tasks. The children's output goes to
 * files (a full pipe would block them) and is quoted on failure. Every started process is destroyed
 * after each test, forcibly if it does not stop, so a failing assertion leaves no JVM behind. The
 * worker is stopped with SIGTERM, which it handles as Go's does: a graceful quit.
 */
class ExampleProcessesIT {
  private static final long SEND_TIMEOUT_SECONDS = 120;
  private static final long STOP_TIMEOUT_SECONDS = 30;

  @TempDir Path logs;
  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void killAll() throws InterruptedException {
    for (Process process : started) {
      if (process.isAlive()) {
        process.destroyForcibly();
        process.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void workerAndSenderInTwoJvmsOnRedis() throws Exception {
    String redis = TestEndpoints.redisUrl();
    String queue = "examples_it_" + UUID.randomUUID().toString().substring(0, 8);
    run(
        Map.of(
            "BROKER",
            redis,
            "RESULT_BACKEND",
            redis,
            "DEFAULT_QUEUE",
            queue,
            "REDIS_DELAYED_TASKS_KEY",
            queue + "_delayed"));
  }

  @Test
  void workerAndSenderInTwoJvmsOnRabbitMq() throws Exception {
    String amqp = TestEndpoints.amqpUrl();
    String queue = "examples_it_" + UUID.randomUUID().toString().substring(0, 8);
    run(
        Map.of(
            "BROKER",
            amqp,
            "RESULT_BACKEND",
            amqp,
            "DEFAULT_QUEUE",
            queue,
            "AMQP_EXCHANGE",
            queue + "_exchange",
            "AMQP_BINDING_KEY",
            queue));
  }

  private void run(Map<String, String> environment) throws Exception {
    Process worker = start("worker", environment);
    Process sender = start("send", environment);

    boolean sent = sender.waitFor(SEND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    assertThat(sent).as("send finished within %d s%n%s", SEND_TIMEOUT_SECONDS, outputs()).isTrue();
    assertThat(sender.exitValue()).as("send's exit code%n%s", outputs()).isZero();
    List<String> lines =
        Files.readAllLines(log("send"), StandardCharsets.UTF_8).stream()
            .filter(
                line ->
                    line.startsWith("task ")
                        || line.startsWith("group ")
                        || line.startsWith("chord ")
                        || line.startsWith("chain "))
            .toList();
    assertThat(lines).as("send's results%n%s", outputs()).hasSize(4);
    assertThat(lines.get(0)).endsWith("= 2");
    assertThat(lines.get(1)).endsWith("= [2 4 11]");
    assertThat(lines.get(2)).endsWith("= 88");
    assertThat(lines.get(3)).endsWith("= 60");
    assertThat(worker.isAlive())
        .as("the worker still consumes after serving the sender%n%s", outputs())
        .isTrue();

    worker.destroy(); // SIGTERM: the worker's signal handler quits gracefully
    assertThat(worker.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS))
        .as("worker stopped on SIGTERM within %d s%n%s", STOP_TIMEOUT_SECONDS, outputs())
        .isTrue();
  }

  /** {@code java -cp <this module's test classpath> io.machinery.examples.Example <command>}. */
  private Process start(String command, Map<String, String> environment) throws IOException {
    // Surefire and Failsafe set java.class.path to the real test classpath (target/classes and
    // every dependency)
    // even when they boot the test JVM from a manifest-only jar.
    String classpath = System.getProperty("java.class.path");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder builder =
        new ProcessBuilder(
            java,
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            classpath,
            Example.class.getName(),
            command);
    Map<String, String> env = builder.environment();
    env.keySet()
        .removeIf(
            key ->
                key.startsWith("AMQP_")
                    || key.startsWith("REDIS_")
                    || key.equals("BROKER")
                    || key.equals("RESULT_BACKEND")
                    || key.equals("DEFAULT_QUEUE")
                    || key.equals("LOCK"));
    env.putAll(new HashMap<>(environment));
    builder.redirectErrorStream(true).redirectOutput(log(command).toFile());
    Process process = builder.start();
    started.add(process);
    return process;
  }

  private Path log(String command) {
    return logs.resolve(command + ".log");
  }

  private String outputs() {
    StringBuilder text = new StringBuilder();
    for (String command : List.of("worker", "send")) {
      File file = log(command).toFile();
      text.append("--- ").append(command).append(" output ---\n");
      try {
        text.append(
            file.exists() ? Files.readString(file.toPath(), StandardCharsets.UTF_8) : "(none)\n");
      } catch (IOException e) {
        text.append("(unreadable: ").append(e).append(")\n");
      }
    }
    return text.toString();
  }
}
