package io.machinery.interop;

import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.machinery.testkit.TestEndpoints;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;

/**
 * The Go side of the interop tests: the {@code machinery-interop} program in {@code interop/go},
 * which uses the real Go Machinery v2 library.
 *
 * <p>Design notes. The Go toolchain is found on {@code PATH}, else at {@code /usr/local/go/bin/go};
 * without it the tests are skipped, or fail when {@link TestEndpoints#servicesRequired()} (CI). The
 * binary is built once per JVM ({@code go build -o bin/machinery-interop .}, {@code
 * GOFLAGS=-mod=mod}), after waiting for a build {@code make test} started in the background. Every
 * child process has a bounded lifetime: one-shot commands are killed when their timeout passes, and
 * a {@link GoWorker} is stopped (SIGTERM, then SIGKILL) by whoever started it. Each process's
 * stderr (Machinery's log) goes to a file under {@code target/interop-logs}, named in every failure
 * message.
 */
final class GoHarness {
  static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(5);
  private static final AtomicInteger SEQUENCE = new AtomicInteger();
  private static @Nullable Path binary;

  private GoHarness() {}

  /** The built harness binary, building it on first use. */
  static synchronized Path binary() {
    if (binary == null) {
      binary = build();
    }
    return binary;
  }

  static Path goDir() {
    return Path.of(System.getProperty("interop.go.dir", "../go")).toAbsolutePath().normalize();
  }

  static Path logDir() {
    Path dir =
        Path.of(System.getProperty("interop.log.dir", "target/interop-logs")).toAbsolutePath();
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new IllegalStateException("cannot create " + dir, e);
    }
    return dir;
  }

  private static @Nullable Path findGo() {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(java.io.File.pathSeparator)) {
        if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "go"))) {
          return Path.of(dir, "go");
        }
      }
    }
    Path fallback = Path.of("/usr/local/go/bin/go");
    return Files.isExecutable(fallback) ? fallback : null;
  }

  private static Path build() {
    Path go = findGo();
    if (go == null) {
      String message =
          "no Go toolchain: `go` is not on PATH and /usr/local/go/bin/go does not exist; the interop"
              + " tests need Go >= 1.22 to build interop/go";
      if (TestEndpoints.servicesRequired()) {
        fail(message);
      }
      Assumptions.abort(message);
    }
    Path dir = goDir();
    if (!Files.isRegularFile(dir.resolve("go.mod"))) {
      fail("the Go harness is not at " + dir + " (set -Dinterop.go.dir)");
    }
    Path out = dir.resolve("bin/machinery-interop");
    awaitBackgroundBuild(dir);
    Path log = logDir().resolve("go-build.log");
    ProcessBuilder pb =
        new ProcessBuilder(go.toString(), "build", "-o", "bin/machinery-interop", ".")
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().put("GOFLAGS", "-mod=mod");
    Process p = start(pb);
    try {
      if (!p.waitFor(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        kill(p);
        fail("go build did not finish within " + BUILD_TIMEOUT + "; see " + log);
      }
      if (p.exitValue() != 0) {
        fail("go build failed (exit " + p.exitValue() + "):\n" + read(log));
      }
    } catch (InterruptedException e) {
      kill(p);
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while building the Go harness", e);
    }
    return out;
  }

  /**
   * Waits for the build {@code scripts/build-go-harness.sh --background} started ({@code make test}
   * starts one before the Java build), so two builds never write the binary at once; the build that
   * follows then finds it up to date. Its PID file names a {@code go} process, or none that still
   * runs.
   */
  private static void awaitBackgroundBuild(Path dir) {
    Path pidFile = dir.resolve("bin/build.pid");
    long pid;
    try {
      pid = Long.parseLong(Files.readString(pidFile).trim());
    } catch (IOException | NumberFormatException e) {
      return; // none started, or unreadable: our own build below is enough
    }
    Optional<ProcessHandle> running =
        ProcessHandle.of(pid)
            .filter(ProcessHandle::isAlive)
            .filter(h -> h.info().command().map(c -> c.endsWith("/go")).orElse(false));
    if (running.isEmpty()) {
      return;
    }
    try {
      running.get().onExit().get(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the Go harness build", e);
    } catch (ExecutionException | TimeoutException e) {
      fail(
          "the background Go build (PID "
              + pid
              + ", see "
              + dir.resolve("bin/build.log")
              + ") did not finish within "
              + BUILD_TIMEOUT);
    }
  }

  /** Parses each non-blank line as one JSON value; {@code log} is the process's stderr. */
  static List<JsonNode> parseLines(List<String> lines, Path log) {
    List<JsonNode> nodes = new ArrayList<>();
    for (String line : lines) {
      if (line.isBlank()) {
        continue;
      }
      try {
        nodes.add(JSON.readTree(line));
      } catch (IOException e) {
        throw new AssertionError("not JSON: " + line + " (stderr: " + log + ")", e);
      }
    }
    return nodes;
  }

  /**
   * The outcome of one finished command: its exit code, its stdout lines, and where its stderr
   * went.
   */
  record Run(int exitCode, List<String> lines, Path log) {
    /** The stdout lines parsed as JSON (one value per line). */
    List<JsonNode> json() {
      return parseLines(lines, log);
    }

    /** The only JSON line. */
    JsonNode single() {
      List<JsonNode> nodes = json();
      if (nodes.size() != 1) {
        throw new AssertionError(
            "expected one JSON line, got " + lines + "; stderr:\n" + read(log));
      }
      return nodes.get(0);
    }

    String describe() {
      return "exit " + exitCode + ", stdout " + lines + ", stderr (" + log + "):\n" + read(log);
    }
  }

  /**
   * Runs {@code machinery-interop <command> <args...>} to the end; kills it when {@code timeout}
   * passes.
   *
   * @throws AssertionError when it did not finish in time
   */
  static Run run(Duration timeout, String command, List<String> args) {
    Path log = logFile(command);
    List<String> cmd = new ArrayList<>();
    cmd.add(binary().toString());
    cmd.add(command);
    cmd.addAll(args);
    Process p = start(new ProcessBuilder(cmd).redirectError(log.toFile()));
    List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread reader = Thread.ofVirtual().start(() -> readLines(p, lines::add));
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        kill(p);
        reader.join(Duration.ofSeconds(5));
        throw new AssertionError(
            "machinery-interop "
                + command
                + " did not finish within "
                + timeout
                + "; stdout so far "
                + lines
                + "; stderr:\n"
                + read(log));
      }
      reader.join(Duration.ofSeconds(10));
    } catch (InterruptedException e) {
      kill(p);
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    synchronized (lines) {
      return new Run(p.exitValue(), List.copyOf(lines), log);
    }
  }

  /**
   * Go's read of a task someone else sent ({@code machinery-interop result}): its JSON line, once
   * the task is SUCCESS or FAILURE (at most 30 s).
   *
   * @param goArgs the harness flags of the broker and backend to read ({@link
   *     InteropQueue#goArgs()})
   * @throws AssertionError when the command failed or timed out
   */
  static JsonNode result(List<String> goArgs, String uuid) {
    List<String> args = new ArrayList<>(goArgs);
    args.addAll(List.of("-uuid", uuid, "-timeout", "30s"));
    Run run = run(Duration.ofSeconds(60), "result", args);
    if (run.exitCode() != 0) {
      throw new AssertionError("machinery-interop result failed: " + run.describe());
    }
    return run.single();
  }

  /** Starts a Go worker and waits (at most 30 s) until it prints READY. */
  static GoWorker startWorker(List<String> args) {
    return startWorker(args, java.util.Map.of());
  }

  /**
   * {@link #startWorker(List)} with extra environment variables (e.g. Go's {@code
   * SQS_WAIT_TIME_SECONDS}).
   */
  static GoWorker startWorker(List<String> args, java.util.Map<String, String> env) {
    Path log = logFile("worker");
    List<String> cmd = new ArrayList<>();
    cmd.add(binary().toString());
    cmd.add("worker");
    cmd.add(
        "-stop-on-stdin-eof"); // the worker stops by itself if this JVM dies without stopping it
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
    pb.environment().putAll(env);
    Process p = start(pb);
    GoWorker worker = new GoWorker(p, log);
    try {
      worker.awaitReady(Duration.ofSeconds(30));
    } catch (RuntimeException | Error e) {
      worker.close();
      throw e;
    }
    return worker;
  }

  /**
   * A running Go worker process; {@link #close()} stops it (SIGTERM, then SIGKILL after 15 s). Its
   * stdin is a pipe from this JVM, kept open: should the JVM die first, the worker sees EOF and
   * stops too.
   */
  static final class GoWorker implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final BlockingQueue<String> stdout = new LinkedBlockingQueue<>();
    private final List<JsonNode> printed = new ArrayList<>();

    private GoWorker(Process process, Path log) {
      this.process = process;
      this.log = log;
      Thread.ofVirtual().start(() -> readLines(process, stdout::add));
    }

    private void awaitReady(Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      try {
        while (true) {
          long left = deadline - System.nanoTime();
          String line = left > 0 ? stdout.poll(left, TimeUnit.NANOSECONDS) : null;
          if (line == null) {
            throw new AssertionError(
                "the Go worker did not print READY within "
                    + timeout
                    + (process.isAlive() ? "" : " (it exited with " + process.exitValue() + ")")
                    + "; stderr:\n"
                    + read(log));
          }
          if (line.trim().equals("READY")) {
            return;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }

    Path log() {
      return log;
    }

    /**
     * What the worker printed on stdout after READY, parsed as JSON, oldest first (with {@code
     * -print-starts}: one {@code {"started":uuid,"name":…,"headers":{…}}} per task it started).
     */
    synchronized List<JsonNode> output() {
      List<String> fresh = new ArrayList<>();
      stdout.drainTo(fresh);
      printed.addAll(parseLines(fresh, log));
      return List.copyOf(printed);
    }

    boolean isAlive() {
      return process.isAlive();
    }

    @Override
    public void close() {
      if (!process.isAlive()) {
        return;
      }
      process.destroy(); // SIGTERM: Machinery's own handler stops consuming and waits for running
      // tasks
      try {
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
          kill(process);
        }
      } catch (InterruptedException e) {
        kill(process);
        Thread.currentThread().interrupt();
      }
    }
  }

  private static Process start(ProcessBuilder pb) {
    try {
      return pb.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + pb.command(), e);
    }
  }

  private static void kill(Process p) {
    p.destroyForcibly();
    try {
      p.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void readLines(Process p, java.util.function.Consumer<String> sink) {
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        sink.accept(line);
      }
    } catch (IOException e) {
      // the process was killed; what was read is what there is
    }
  }

  private static Path logFile(String command) {
    String time = LocalTime.now().format(DateTimeFormatter.ofPattern("HHmmss"));
    return logDir()
        .resolve(String.format("%s-%03d-%s.log", time, SEQUENCE.incrementAndGet(), command));
  }

  static String read(Path file) {
    try {
      String text = Files.readString(file);
      return text.length() > 20_000 ? "…" + text.substring(text.length() - 20_000) : text;
    } catch (IOException e) {
      return "(cannot read " + file + ": " + e + ")";
    }
  }
}
