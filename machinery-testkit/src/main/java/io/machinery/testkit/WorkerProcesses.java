package io.machinery.testkit;

import static org.awaitility.Awaitility.await;

import io.machinery.BatchPolicy;
import io.machinery.RetryTaskLaterException;
import io.machinery.Server;
import io.machinery.TaskFunction;
import io.machinery.TaskListener;
import io.machinery.TaskOutcome;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Worker processes for the kill tests: child JVMs on the test's class path that a test kills with
 * SIGKILL, and the execution logs through which they report every task run.
 *
 * <p>Design notes. A child appends one line per task run to its own execution log ({@link
 * #registerRecordingTasks}); the file is opened with {@code O_APPEND} and each line is one {@code
 * write}, so the lines a process wrote before it was killed are kept by the OS and the parent
 * counts runs, duplicates and callbacks from the files alone, whatever broker and backend the child
 * uses. Whoever creates a {@code WorkerProcesses} closes it; closing kills every child still alive.
 * Not thread-safe: one test drives it.
 */
public final class WorkerProcesses implements AutoCloseable {
  /**
   * The member task of the recording tasks: {@code record(index)} logs {@code <index>} and returns
   * it.
   */
  public static final String RECORD = "record";

  /**
   * The chord callback of the recording tasks: {@code collect(chord, results...)} logs {@code
   * cb:<chord>:<n>}.
   */
  public static final String COLLECT = "collect";

  /**
   * The batched member task of the recording tasks: {@code record_batched(index)} logs {@code
   * <index>} and returns it, run in batches of {@link #RECORD_BATCH}.
   */
  public static final String RECORD_BATCHED = "record_batched";

  /**
   * The task of {@link PausedWorkerKit}: {@code stall(index)}. Its first run anywhere claims the
   * index, logs {@code start:<index>}, waits until the test creates the release file ({@link
   * #releaseFile}), logs {@code end:<index>} and fails; a later run logs {@code rerun:<index>} and
   * returns the index. The lines go to the executions file's {@link #pausedLog}, beside what {@link
   * #outcomeLog} writes there.
   */
  public static final String STALL = "stall";

  /**
   * The failing member task of the recording tasks: {@code record_after_failures(index, failures)}
   * fails its first {@code failures} attempts ({@link io.machinery.TaskContext#attempt()}, counted
   * in the message, so a redelivered attempt fails again and only a published retry moves on), each
   * logging {@code fail:<index>:<attempt>} to {@link #failedAttemptsLog}; a later attempt logs
   * {@code <index>} and returns it. Send it with a {@code retryCount} of {@code failures} at least.
   */
  public static final String RECORD_AFTER_FAILURES = "record_after_failures";

  /**
   * The deferring member task of the recording tasks: {@code record_after_retry_later(index,
   * millis)} asks on its first attempt to run again {@code millis} later ({@link
   * io.machinery.RetryTaskLaterException}), logging {@code later:<index>} to {@link
   * #failedAttemptsLog}; a later attempt logs {@code <index>} and returns it.
   */
  public static final String RECORD_AFTER_RETRY_LATER = "record_after_retry_later";

  /** When {@value #RECORD_BATCHED} runs a batch: ten tasks, or 100 ms after the first. */
  public static final BatchPolicy RECORD_BATCH = BatchPolicy.of(10, Duration.ofMillis(100));

  private static final String CALLBACK_PREFIX = "cb:";

  /** The line {@value #RECORD_BATCHED} writes before its batch's indexes: {@code batch:<size>}. */
  static final String BATCH_PREFIX = "batch:";

  /** How many reads, sends or purges the kits keep in flight at once. */
  private static final int PARALLEL = 32;

  private final List<Process> children = new ArrayList<>();

  private WorkerProcesses() {}

  /** An empty set of child processes. */
  public static WorkerProcesses create() {
    return new WorkerProcesses();
  }

  /**
   * Starts {@code main} in a child JVM on this JVM's test class path, its output (stdout and
   * stderr) to {@code output}. Returns at once; a child that must consume before the test goes on
   * says so in its output (see {@link #awaitLine}).
   *
   * <p>The child compiles with C1 only and collects with the serial collector: on two cores shared
   * by the test and three children, the default tiered JIT kept each fresh child compiling for its
   * first seconds, so the kill tests' cadence ("kill once it has run tasks for 3 s") killed workers
   * that had barely started (RedisChordKillIT: 43 kills in 181 s for 1,000 chords, 98 in 473 s in a
   * full test run; C1 only: 12 kills in 53 s, as on faster machines before). What the tests check
   * does not depend on the JIT.
   */
  public Process start(Class<?> main, Path output, String... args) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String classpath =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> command =
        new ArrayList<>(
            List.of(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-cp",
                classpath,
                main.getName()));
    command.addAll(List.of(args));
    try {
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(output.toFile())
              .start();
      children.add(process);
      return process;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start a worker process " + main.getName(), e);
    }
  }

  /**
   * Waits until {@code output} has a line equal to {@code line} (a child's "I consume now"), or
   * fails.
   */
  public static void awaitLine(Path output, String line, Duration timeout) {
    await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> Files.exists(output) && Files.readAllLines(output).contains(line));
  }

  /**
   * Kills {@code process} with SIGKILL (no shutdown hook, no ack, no goodbye) and waits until it is
   * gone.
   */
  public void kill(Process process) {
    process.destroyForcibly();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while killing a worker process", e);
    }
  }

  /**
   * Stops {@code process} with SIGSTOP: it keeps its connections and runs nothing until resumed.
   */
  public void pause(Process process) {
    signal(process, "-STOP");
  }

  /** Lets a process stopped by {@link #pause} run again (SIGCONT). */
  public void resume(Process process) {
    signal(process, "-CONT");
  }

  private static void signal(Process process, String signal) {
    try {
      int exit = new ProcessBuilder("kill", signal, Long.toString(process.pid())).start().waitFor();
      if (exit != 0) {
        throw new IllegalStateException("kill " + signal + " " + process.pid() + " exited " + exit);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while signalling a worker process", e);
    }
  }

  /** Kills every child still alive. */
  @Override
  public void close() {
    children.forEach(Process::destroyForcibly);
  }

  // ------------------------------------------------------------------------------------------ the
  // child side

  /**
   * A child's server on {@code broker} and {@code backend} that logs to {@code executions}: the
   * recording tasks ({@link #registerRecordingTasks}) and the {@link #outcomeLog}.
   */
  public static Server recordingServer(
      Config config, Broker broker, Backend backend, Path executions) throws IOException {
    Server server =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .listener(outcomeLog(executions))
            .build();
    registerRecordingTasks(server, executions);
    return server;
  }

  /**
   * Registers {@value #RECORD}, {@value #RECORD_BATCHED}, {@value #STALL}, {@value
   * #RECORD_AFTER_FAILURES}, {@value #RECORD_AFTER_RETRY_LATER} and {@value #COLLECT} with {@code
   * server}: each run appends a line to {@code executions} (created if missing). For child mains;
   * the file stays open until the process ends.
   */
  public static void registerRecordingTasks(Server server, Path executions) throws IOException {
    FileChannel log =
        FileChannel.open(
            executions,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.APPEND);
    server.registerTask(
        RECORD,
        TaskFunction.of(
            Long.class,
            index -> {
              append(log, index + "\n");
              return index;
            }));
    server.registerTask(
        RECORD_BATCHED,
        TaskFunction.batched(
            Long.class,
            RECORD_BATCH,
            indexes -> {
              StringBuilder lines = new StringBuilder(BATCH_PREFIX + indexes.size() + "\n");
              indexes.forEach(index -> lines.append(index).append('\n'));
              append(log, lines.toString());
              return indexes;
            }));
    server.registerTask(STALL, TaskFunction.of(Long.class, index -> stall(executions, index)));
    Path failedAttempts = failedAttemptsLog(executions);
    server.registerTask(
        RECORD_AFTER_FAILURES,
        TaskFunction.withContext(
            List.of(Long.class, Long.class),
            false,
            (context, args) -> {
              long index = (Long) java.util.Objects.requireNonNull(args[0]);
              long failures = (Long) java.util.Objects.requireNonNull(args[1]);
              if (context.attempt() <= failures) {
                appendLine(failedAttempts, "fail:" + index + ":" + context.attempt());
                throw new IllegalStateException(
                    "attempt " + context.attempt() + " of " + index + " fails on purpose");
              }
              append(log, index + "\n");
              return index;
            }));
    server.registerTask(
        RECORD_AFTER_RETRY_LATER,
        TaskFunction.withContext(
            List.of(Long.class, Long.class),
            false,
            (context, args) -> {
              long index = (Long) java.util.Objects.requireNonNull(args[0]);
              long millis = (Long) java.util.Objects.requireNonNull(args[1]);
              if (context.attempt() == 1) {
                appendLine(failedAttempts, "later:" + index);
                throw new RetryTaskLaterException(
                    "record " + index + " later", Duration.ofMillis(millis));
              }
              append(log, index + "\n");
              return index;
            }));
    // a chord callback: its first argument is the chord's number, then the members' results
    server.registerTask(
        COLLECT,
        TaskFunction.varargs(
            long[].class,
            values -> {
              append(log, CALLBACK_PREFIX + values[0] + ":" + (values.length - 1) + "\n");
              return values[0];
            }));
  }

  /**
   * Where {@value #STALL} and {@link #outcomeLog} write for the worker logging to {@code
   * executions}.
   */
  public static Path pausedLog(Path executions) {
    return executions.resolveSibling(executions.getFileName() + ".paused");
  }

  /**
   * Where {@value #RECORD_AFTER_FAILURES} and {@value #RECORD_AFTER_RETRY_LATER} log the attempts
   * they fail or defer, for the worker logging to {@code executions}: one line each, apart from the
   * runs {@link #runs} counts.
   */
  public static Path failedAttemptsLog(Path executions) {
    return executions.resolveSibling(executions.getFileName() + ".failed");
  }

  /**
   * The file whose creation lets the first run of {@code stall(index)} end (in the logs' folder).
   */
  public static Path releaseFile(Path executions, long index) {
    return executions.resolveSibling("stall-" + index + ".release");
  }

  /**
   * A listener for a child's server that logs the outcome of each {@value #STALL} run, {@code
   * outcome:<state>:<recorded>}, to {@link #pausedLog}: the parent learns when a run's bookkeeping
   * is over and whether it recorded anything.
   */
  public static TaskListener outcomeLog(Path executions) {
    Path log = pausedLog(executions);
    return new TaskListener() {
      @Override
      public void finished(TaskOutcome outcome) {
        if (STALL.equals(outcome.signature().name())) {
          appendLine(log, "outcome:" + outcome.state() + ":" + outcome.recorded());
        }
      }
    };
  }

  private static Long stall(Path executions, long index) throws Exception {
    Path log = pausedLog(executions);
    try {
      Files.createFile(executions.resolveSibling("stall-" + index + ".claim"));
    } catch (FileAlreadyExistsException e) {
      appendLine(log, "rerun:" + index);
      return index;
    }
    appendLine(log, "start:" + index);
    Path release = releaseFile(executions, index);
    Path folder = java.util.Objects.requireNonNull(release.toAbsolutePath().getParent());
    try (WatchService watch = folder.getFileSystem().newWatchService()) {
      folder.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
      while (!Files.exists(release)) {
        WatchKey key = watch.poll(1, TimeUnit.SECONDS); // the test's release, not a timed outcome
        if (key != null) {
          key.pollEvents();
          key.reset();
        }
      }
    }
    appendLine(log, "end:" + index);
    throw new IllegalStateException("the first run of stall " + index + " fails once released");
  }

  private static void appendLine(Path file, String line) {
    try (FileChannel channel =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      append(channel, line + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The lines of {@code file}; none when it does not exist yet. */
  public static List<String> lines(Path file) {
    if (!Files.exists(file)) {
      return List.of();
    }
    try {
      return Files.readAllLines(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void append(FileChannel log, String line) {
    try {
      synchronized (log) {
        log.write(
            ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII))); // O_APPEND: one whole line
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // reading the results

  /**
   * How many of the tasks {@code uuids} have a stored SUCCESS state, read through {@code server},
   * 32 at a time, each waited for up to {@code timeout}; the others are printed.
   */
  public static int storedSuccesses(Server server, List<String> uuids, Duration timeout)
      throws InterruptedException {
    AtomicInteger successes = new AtomicInteger();
    inParallel(
        uuids.size(),
        i -> {
          String uuid = uuids.get(i);
          try {
            server.asyncResult(uuid).get(timeout, Duration.ofMillis(20));
            successes.incrementAndGet();
          } catch (RuntimeException e) {
            System.out.println(
                "[WorkerProcesses] task " + uuid + " has no stored SUCCESS state: " + e);
          }
        });
    return successes.get();
  }

  /**
   * Runs {@code work} for 0 to {@code count - 1}, each on a virtual thread of its own, {@value
   * #PARALLEL} at a time; returns once all ended.
   */
  static void inParallel(int count, IntConsumer work) throws InterruptedException {
    Semaphore parallel = new Semaphore(PARALLEL);
    List<Thread> threads = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int index = i;
      parallel.acquire();
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      work.accept(index);
                    } finally {
                      parallel.release();
                    }
                  }));
    }
    for (Thread thread : threads) {
      thread.join();
    }
  }

  /** What the execution logs say: runs per member index and per chord callback. */
  public record Runs(
      Map<String, Integer> members, Map<String, Integer> callbacks, List<String> callbackLines) {
    /** Member runs in all. */
    public int memberRuns() {
      return members.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** Runs of members and callbacks in all. */
    public int total() {
      return memberRuns() + callbackRuns();
    }

    /** Callback runs in all. */
    public int callbackRuns() {
      return callbacks.values().stream().mapToInt(Integer::intValue).sum();
    }
  }

  /** The sizes of the batches {@value #RECORD_BATCHED} ran, from the execution logs. */
  static List<Integer> batchSizes(List<Path> logs) {
    List<Integer> sizes = new ArrayList<>();
    for (Path log : logs) {
      if (!Files.exists(log)) {
        continue;
      }
      try {
        for (String line : Files.readAllLines(log, StandardCharsets.US_ASCII)) {
          if (line.startsWith(BATCH_PREFIX)) {
            sizes.add(Integer.parseInt(line.substring(BATCH_PREFIX.length()).trim()));
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return sizes;
  }

  /** Reads the execution logs (missing files count as empty). */
  public static Runs runs(Path... logs) {
    Map<String, Integer> members = new HashMap<>();
    Map<String, Integer> callbacks = new HashMap<>();
    List<String> callbackLines = new ArrayList<>();
    for (Path log : logs) {
      if (!Files.exists(log)) {
        continue;
      }
      List<String> lines;
      try {
        lines = Files.readAllLines(log, StandardCharsets.US_ASCII);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      for (String line : lines) {
        if (line.isBlank()) {
          continue;
        }
        if (line.startsWith(BATCH_PREFIX)) {
          continue; // see batchSizes
        }
        if (line.startsWith(CALLBACK_PREFIX)) {
          callbacks.merge(line.split(":")[1], 1, Integer::sum);
          callbackLines.add(line);
        } else {
          members.merge(line.trim(), 1, Integer::sum);
        }
      }
    }
    return new Runs(members, callbacks, callbackLines);
  }
}
