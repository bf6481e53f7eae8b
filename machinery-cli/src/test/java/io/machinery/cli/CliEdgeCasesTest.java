package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Edge cases an operator hits: text from messages that would drive the terminal, usage errors that
 * must not act or must not look like an unreachable broker, help that must exit 0. On the in-JVM
 * memory broker and backend, shared by every run of a test.
 */
class CliEdgeCasesTest {
  private static final String ESC = "\u001b";

  private final String queue = "edge_" + java.util.UUID.randomUUID().toString().substring(0, 8);
  private final Config config = Config.builder().defaultQueue(queue).build();
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());

  @AfterEach
  void close() {
    backend.close();
    broker.close();
  }

  private Server server(Config c) {
    return Server.builder().config(c).broker(broker).backend(backend).build();
  }

  private CliRunner cli() {
    return new CliRunner(Map.of("DEFAULT_QUEUE", queue), this::server, false);
  }

  private long pending() {
    return cli().ok("queues", "--queue", queue, "--json").json().get(0).path("pending").asLong();
  }

  /**
   * A task's arguments, its error and a dead letter's reason come from whoever sent or ran it:
   * printed raw, an ANSI sequence would clear the screen or forge a line. Tables, messages and
   * errors show control characters escaped.
   */
  @Test
  void controlCharactersFromTasksAreShownEscapedNotObeyed() {
    try (Server sender = server(config)) {
      sender.sendTask(
          Signature.builder("evil")
              .args(List.of(Arg.of("string", "a\rforged" + ESC + "]0;title\u0007")))
              .build());
    }
    CliRunner.Result list = cli().ok("tasks", "list");
    assertThat(list.out()).doesNotContain(ESC).doesNotContain("\r").doesNotContain("\u0007");
    assertThat(list.out()).contains("a\\rforged\\u001b]0;title\\u0007");
    assertThat(list.out().lines()).hasSize(2);

    CliRunner.Result sent = cli().ok("send", "name" + ESC + "[31m");
    assertThat(sent.out()).doesNotContain(ESC).contains("name\\u001b[31m");

    CliRunner.Result refused = cli().run("tasks", "show", "task_" + ESC + "[2J");
    assertThat(refused.code()).isEqualTo(MachineryCli.EXIT_USAGE); // no task id
    assertThat(refused.err()).doesNotContain(ESC).contains("task_\\u001b[2J");

    ByteArrayOutputStream table = new ByteArrayOutputStream();
    Render.table(
        new PrintStream(table, true, StandardCharsets.UTF_8),
        List.of("ID", "REASON"),
        List.of(Render.row("1", "line one\nline two\u009b")));
    assertThat(table.toString(StandardCharsets.UTF_8).lines())
        .containsExactly("ID  REASON", "1   line one\\nline two\\u009b");
  }

  /** {@code machinery tasks --help} is help, as for every other command: exit 0, on stdout. */
  @Test
  void theTasksGroupPrintsItsHelpAndExitsZero() {
    CliRunner.Result help = cli().run("tasks", "--help");
    assertThat(help.code()).isEqualTo(MachineryCli.EXIT_OK);
    assertThat(help.out()).contains("list").contains("show");
  }

  /** A rate without a period is a usage error (exit 1), not a broker failure (exit 3). */
  @Test
  void aRateWithoutAPeriodIsAUsageError() {
    CliRunner.Result result = cli().run("limit", "charge", "--rate", "10/ ");
    assertThat(result.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(result.err()).contains("N/PERIOD");
  }

  /**
   * {@code --timeout -1s} cannot wait: a usage error before anything is sent, not "the task gave no
   * result" (exit 5) for a task just sent.
   */
  @Test
  void aTimeoutThatIsNotPositiveIsAUsageErrorAndSendsNothing() {
    for (String timeout : List.of("-1s", "0s")) {
      CliRunner.Result result = cli().run("send", "add", "int64:1", "--wait", "--timeout", timeout);
      assertThat(result.code()).as(timeout).isEqualTo(MachineryCli.EXIT_USAGE);
      assertThat(result.err()).contains("--timeout");
    }
    assertThat(pending()).isZero();
  }

  /**
   * {@code machinery purge "$QUEUE"} with QUEUE unset must not empty the default queue, which the
   * operator did not name; nor pause or resume it.
   */
  /**
   * {@code dashboard --read-timeout} and {@code --max-concurrent-reads} set the dashboard's read
   * bounds (DashboardCliIT shows them at work); a value that is no Go duration, zero, negative or
   * out of range is a usage error naming the option, and no dashboard is started.
   */
  @Test
  void aReadBoundOutOfRangeIsAUsageErrorNamingTheOption() {
    Map<String[], String> says =
        Map.of(
            new String[] {"--read-timeout", "0s"},
            "--read-timeout 0s: readTimeout must be from 1ms to 1h",
            new String[] {"--read-timeout", "-5s"},
            "--read-timeout -5s: readTimeout must be from 1ms to 1h",
            new String[] {"--read-timeout", "soon"},
            "--read-timeout soon: not a Go duration such as 30s or 2m",
            new String[] {"--max-concurrent-reads", "0"},
            "--max-concurrent-reads 0: maxConcurrentReads must be 1..10000",
            new String[] {"--max-concurrent-reads", "-3"},
            "--max-concurrent-reads -3: maxConcurrentReads must be 1..10000");
    says.forEach(
        (option, message) -> {
          CliRunner.Result refused = cli().run("dashboard", "--port", "0", option[0], option[1]);
          assertThat(refused.code()).as(message).isEqualTo(MachineryCli.EXIT_USAGE);
          assertThat(refused.err()).as(message).contains(message).doesNotContain("dashboard on");
          assertThat(refused.out()).as(message).doesNotContain("dashboard on");
        });
  }

  @Test
  void aBlankQueueNameIsRefusedNotTakenAsTheDefaultQueue() {
    cli().ok("send", "add", "int64:1", "int64:2");
    for (String command : List.of("purge", "pause", "resume")) {
      for (String blank : List.of("", " ")) {
        CliRunner.Result result = cli().run(command, blank);
        assertThat(result.code()).as(command).isEqualTo(MachineryCli.EXIT_USAGE);
        assertThat(result.err()).contains("QUEUE");
      }
    }
    assertThat(pending()).isEqualTo(1);
    assertThat(
            cli().ok("queues", "--queue", queue, "--json").json().get(0).path("paused").asBoolean())
        .isFalse();
    assertThat(cli().ok("purge", queue).out()).contains("removed 1 waiting tasks from " + queue);
  }

  /**
   * A name that is no queue (Go's chord mutex, the delayed-task key, a task id, this library's
   * {@code {queue}:} keys) is a usage error for every command that takes a queue, found before
   * connecting: on Redis a queue is a raw key (see {@link RedisCliIT}: a worker's processing list).
   */
  @Test
  void aNameThatIsNoQueueIsRefusedBeforeConnecting() {
    AtomicInteger connects = new AtomicInteger();
    CliRunner counting =
        new CliRunner(
            Map.of("DEFAULT_QUEUE", queue, "REDIS_DELAYED_TASKS_KEY", "edge_delayed"),
            c -> {
              connects.incrementAndGet();
              return server(c);
            },
            false);
    String uuid = "task_" + java.util.UUID.randomUUID();
    for (String name :
        List.of("TriggerChordMutex", "edge_delayed", uuid, "{" + queue + "}:processing:w1")) {
      for (List<String> line :
          List.of(
              List.of("purge", name),
              List.of("pause", name),
              List.of("resume", name),
              List.of("lanes", name),
              List.of("weight", name),
              List.of("weight", name, "tenant", "2"),
              List.of("queues", "--queue", name),
              List.of("workers", "--queue", name),
              List.of("tasks", "list", "--queue", name),
              List.of("tasks", "list", "--state", "dead", "--queue", name),
              List.of("tasks", "show", uuid, "--queue", name),
              List.of("send", "add", "int64:1", "--queue", name),
              List.of("requeue", "--all", "--queue", name),
              List.of("delete", "--task", "add", "--queue", name))) {
        CliRunner.Result refused = counting.run(line.toArray(String[]::new));
        assertThat(refused.code()).as(String.join(" ", line)).isEqualTo(MachineryCli.EXIT_USAGE);
        assertThat(refused.err())
            .as(String.join(" ", line))
            .isEqualTo("machinery: queue '" + name + "' names a reserved key, not a queue\n");
      }
    }
    assertThat(connects).as("connections made").hasValue(0);
    CliRunner.Result tooLong = counting.run("purge", "q".repeat(256));
    assertThat(tooLong.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(tooLong.err()).contains("longer than 255");
    assertThat(connects).hasValue(0);
    assertThat(counting.ok("purge", queue).out()).contains("removed 0 waiting tasks from " + queue);
  }

  /**
   * A UUID that cannot be a task's is refused before connecting: on Redis a task's UUID is the raw
   * key of its state, so {@code tasks show} read, and {@code cancel} wrote FAILURE into, Go's chord
   * mutex, the delayed-task key or a queue.
   */
  @Test
  void aUuidThatIsNoTaskIdIsRefusedBeforeConnecting() {
    AtomicInteger connects = new AtomicInteger();
    CliRunner counting =
        new CliRunner(
            Map.of("DEFAULT_QUEUE", queue, "REDIS_DELAYED_TASKS_KEY", "edge_delayed"),
            c -> {
              connects.incrementAndGet();
              return server(c);
            },
            false);
    for (String id :
        List.of("TriggerChordMutex", "edge_delayed", queue, "{" + queue + "}:processing:w1")) {
      for (List<String> line :
          List.of(
              List.of("tasks", "show", id),
              List.of("cancel", id),
              List.of("cancel", "task_" + java.util.UUID.randomUUID(), id))) {
        CliRunner.Result refused = counting.run(line.toArray(String[]::new));
        assertThat(refused.code()).as(String.join(" ", line)).isEqualTo(MachineryCli.EXIT_USAGE);
        assertThat(refused.err())
            .as(String.join(" ", line))
            .isEqualTo("machinery: UUID '" + id + "' names a reserved key\n");
      }
    }
    CliRunner.Result group = counting.run("cancel", "group_" + java.util.UUID.randomUUID());
    assertThat(group.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(group.err()).contains("names a group, not a task");
    assertThat(connects).as("connections made").hasValue(0);
  }

  /**
   * Floats a Go worker cannot decode (over float32's range, overflowing float64, NaN or hex) are
   * refused with Go's words before sending; plain decimals still pass.
   */
  @Test
  void floatsAGoWorkerCannotDecodeAreRefused() {
    CliRunner.Result big = cli().run("send", "add", "float32:1e39");
    assertThat(big.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(big.err())
        .contains("json: cannot unmarshal number 1e39 into Go value of type float32");
    CliRunner.Result overflow = cli().run("send", "add", "float64:1e400");
    assertThat(overflow.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(overflow.err()).contains("into Go value of type float64");
    for (String bad : List.of("float64:Infinity", "float64:0x1p3", "float64:1.5d", "float32:NaN")) {
      CliRunner.Result result = cli().run("send", "add", bad);
      assertThat(result.code()).as(bad).isEqualTo(MachineryCli.EXIT_USAGE);
      assertThat(result.err()).as(bad).contains("is not a float");
    }
    assertThat(pending()).isZero();
    cli().ok("send", "add", "float32:3.4e38", "float64:-.5", "float64:2", "float64:1E3");
    assertThat(pending()).isEqualTo(1);
  }
}
