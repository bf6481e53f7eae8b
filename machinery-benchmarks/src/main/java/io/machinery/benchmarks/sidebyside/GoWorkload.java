package io.machinery.benchmarks.sidebyside;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The side-by-side workload for Go Machinery v2: the {@code bench} subcommand of the {@code
 * interop/go} harness (the real {@code github.com/RichardKnop/machinery/v2}), which does the same
 * steps as {@link JavaWorkload} and prints one JSON line.
 */
final class GoWorkload {
  private static final ObjectMapper JSON = new ObjectMapper();

  private GoWorkload() {}

  /** The harness binary, built with {@code go build} in {@code goDir} when it is not there yet. */
  static Path binary(Path goDir, Path binary) throws Exception {
    if (Files.isExecutable(binary)) {
      return binary;
    }
    Path go = findGo();
    if (go == null || !Files.isRegularFile(goDir.resolve("go.mod"))) {
      throw new IllegalStateException(
          "no Go harness binary at "
              + binary
              + ", and cannot build it (Go toolchain: "
              + go
              + ", harness: "
              + goDir
              + "). Build it: cd interop/go && go build -o bin/machinery-interop .");
    }
    ProcessBuilder pb =
        new ProcessBuilder(
                go.toString(),
                "build",
                "-o",
                goDir.relativize(binary.toAbsolutePath()).toString(),
                ".")
            .directory(goDir.toFile())
            .inheritIO();
    pb.environment().put("GOFLAGS", "-mod=mod");
    Process p = pb.start();
    if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException("go build failed in " + goDir);
    }
    return binary;
  }

  private static Path findGo() {
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

  /**
   * The Go version the harness was built with ({@code go version <binary>}), or "go (unknown
   * version)".
   */
  static String version(Path binary) {
    Path go = findGo();
    if (go == null) {
      return "go (unknown version)";
    }
    try {
      Process p =
          new ProcessBuilder(go.toString(), "version", binary.toString())
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor(30, TimeUnit.SECONDS);
      int colon = out.indexOf(": ");
      return colon >= 0 ? out.substring(colon + 2) : out;
    } catch (IOException e) {
      return "go (unknown version)";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "go (unknown version)";
    }
  }

  static Measurement run(
      Path binary, Target target, int tasks, int concurrency, int latencySamples, Duration maxTime)
      throws Exception {
    target.purge(); // Go's bench purges Redis and AMQP itself; a Pub/Sub subscription must exist
    // before Go starts
    List<String> cmd =
        new ArrayList<>(
            List.of(
                binary.toString(),
                "bench",
                "-broker",
                target.brokerUrl(),
                "-backend",
                target.backendUrl(),
                "-queue",
                target.queue(),
                "-binding-key",
                target.queue(),
                "-n",
                Integer.toString(tasks),
                "-concurrency",
                Integer.toString(concurrency),
                "-prefetch",
                Integer.toString(Math.max(1, concurrency)),
                "-results-expire-in",
                Integer.toString(target.resultsExpireIn()),
                "-latency",
                Integer.toString(latencySamples),
                "-max-seconds",
                Long.toString(Math.max(1, maxTime.toSeconds()))));
    Path stderr = Files.createTempFile("sidebyside-go-", ".log");
    Process p = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
    byte[] out;
    try {
      out = p.getInputStream().readAllBytes();
      if (!p.waitFor(maxTime.toSeconds() + 60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("the Go bench did not exit; its log: " + stderr);
      }
    } finally {
      target.purge();
    }
    String line = new String(out, StandardCharsets.UTF_8).trim();
    if (line.isEmpty()) {
      throw new IllegalStateException(
          "the Go bench printed nothing (exit "
              + p.exitValue()
              + "); its log:\n"
              + Files.readString(stderr));
    }
    Files.deleteIfExists(stderr);
    JsonNode json = JSON.readTree(line.lines().reduce((a, b) -> b).orElseThrow());
    String note = "";
    if (json.path("timed_out").asBoolean()) {
      note = "ran out of time after " + json.path("drained").asLong() + " tasks";
    }
    if (json.path("enqueue_errors").asLong() > 0) {
      note =
          (note.isEmpty() ? "" : note + "; ")
              + json.path("enqueue_errors").asLong()
              + " enqueue errors: "
              + json.path("first_error").asText();
    }
    Double p50 = json.has("latency_p50_ms") ? json.get("latency_p50_ms").asDouble() : null;
    Double p99 = json.has("latency_p99_ms") ? json.get("latency_p99_ms").asDouble() : null;
    return new Measurement(
        "go",
        tasks,
        concurrency,
        json.path("enqueue_per_s").asDouble(),
        json.path("drain_per_s").asDouble(),
        p50,
        p99,
        note);
  }
}
