package io.machinery.benchmarks.outside;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * How much of a recorded process's life went to the JIT compilers, and on whose code: for each
 * {@code .jfr} file of {@code scripts/bench/outside.sh --jfr DIR}, the compile time before and
 * during the busy phase, and during it by package (the compiled method's package, cut to its first
 * three segments: {@code io.machinery} is core, {@code io.machinery.broker} every broker).
 *
 * <p>The busy phase runs from the first to the last execution sample of a thread doing the phase's
 * work: a {@code machinery-delivery} thread (a Java worker's drain) or, in a process that has none,
 * the {@code main} thread (a producer's sends; in the bare Lettuce worker, whose loops run on
 * Lettuce's threads, that span is not its drain). The recordings need every compilation, not only
 * the long ones ({@code --jfr-settings "profile,jdk.Compilation#threshold=0ms"}, which {@code
 * scripts/bench/jfr-summary.sh} suggests); a compilation's duration is its compiler thread's wall
 * time, which overstates the CPU it took when that thread waited for a core (the outside
 * benchmark's JIT column reads the compiler threads' CPU itself).
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.outside.JitSummary DIR [ROWS]
 * </pre>
 */
public final class JitSummary {
  private JitSummary() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: JitSummary DIR|FILE.jfr [ROWS]");
      System.exit(2);
    }
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 12;
    Path where = Path.of(args[0]);
    List<Path> files = new ArrayList<>();
    if (Files.isDirectory(where)) {
      try (Stream<Path> list = Files.list(where)) {
        list.filter(p -> p.toString().endsWith(".jfr")).sorted().forEach(files::add);
      }
    } else {
      files.add(where);
    }
    for (Path file : files) {
      summarize(file, rows);
    }
  }

  private record Compilation(Instant start, Duration duration, int level, String className) {}

  private static void summarize(Path file, int rows) throws IOException {
    List<Compilation> compilations = new ArrayList<>();
    Instant[] delivery = {null, null};
    Instant[] main = {null, null};
    for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
      switch (e.getEventType().getName()) {
        case "jdk.Compilation" -> {
          RecordedMethod m = e.getValue("method");
          compilations.add(
              new Compilation(
                  e.getStartTime(),
                  e.getDuration(),
                  e.getInt("compileLevel"),
                  m == null ? "?" : m.getType().getName()));
        }
        case "jdk.ExecutionSample" -> {
          RecordedThread t = e.getThread("sampledThread");
          String name = t == null ? null : t.getJavaName();
          if (name != null && name.startsWith("machinery-delivery")) {
            widen(delivery, e.getStartTime());
          } else if ("main".equals(name)) {
            widen(main, e.getStartTime());
          }
        }
        default -> {}
      }
    }
    Instant[] busy = delivery[0] != null ? delivery : main;
    String phase = delivery[0] != null ? "drain" : "main thread";
    System.out.println("=== " + file.getFileName());
    if (busy[0] == null) {
      System.out.println("no execution samples of a delivery or main thread");
      return;
    }
    Duration window = Duration.between(busy[0], busy[1]);
    double before = 0;
    double during = 0;
    double c2During = 0;
    Map<String, Double> byPackage = new HashMap<>();
    for (Compilation c : compilations) {
      double seconds = c.duration().toNanos() / 1e9;
      if (c.start().isBefore(busy[0])) {
        before += seconds;
      } else if (!c.start().isAfter(busy[1])) {
        during += seconds;
        if (c.level() == 4) {
          c2During += seconds;
        }
        byPackage.merge(packageOf(c.className()), seconds, Double::sum);
      }
    }
    System.out.printf(
        "%s phase %.2f s; JIT compiling %.2f s before it, %.2f s during it (C2 %.2f s), %d"
            + " compilations in all%n",
        phase, window.toNanos() / 1e9, before, during, c2During, compilations.size());
    byPackage.entrySet().stream()
        .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
        .limit(rows)
        .forEach(p -> System.out.printf("  %6.3f s  %s%n", p.getValue(), p.getKey()));
  }

  private static void widen(Instant[] range, Instant at) {
    if (range[0] == null || at.isBefore(range[0])) {
      range[0] = at;
    }
    if (range[1] == null || at.isAfter(range[1])) {
      range[1] = at;
    }
  }

  private static String packageOf(String className) {
    int hidden = className.indexOf("$$"); // a lambda's or a string concatenation's hidden class
    String[] parts = (hidden < 0 ? className : className.substring(0, hidden)).split("\\.");
    int n = Math.min(3, parts.length - 1);
    return n <= 0 ? className : String.join(".", java.util.Arrays.copyOf(parts, n));
  }
}
