package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Delayed and retried tasks while worker processes are killed with SIGKILL every few seconds
 * ({@link KilledWorkers}): {@code -Dmachinery.kill.delayedTasks} tasks (default {@value
 * #DEFAULT_TASKS}, or the subclass's), sent in {@value #WAVES} waves {@value #WAVE_MILLIS} ms
 * apart, each wave a mix of five {@link Kind kinds}: plain, with an ETA 1 to 4 s ahead, failing
 * once, failing twice (retried after Go's Fibonacci back-off, 1 s then 2 s) and asking to run again
 * a second later ({@link io.machinery.RetryTaskLaterException}). The oldest process is killed once
 * it has run tasks for {@code -Dmachinery.kill.everyMillis} (default {@value
 * #DEFAULT_KILL_EVERY_MILLIS}), {@link #maxKills()} times at most. A killed process takes with it
 * what it held: tasks running, delayed tasks its pump held until due, and retries it was about to
 * publish; every task must still have its last attempt run at least once and end with a stored
 * SUCCESS state. Duplicates (runs of a last attempt beyond the first), failed attempts beyond the
 * planned ones and kills are printed; the lost tasks are named (UUID, name, kind, index) in the
 * failure.
 *
 * <p>Design notes. Whether an attempt fails is decided by {@link
 * io.machinery.TaskContext#attempt()}, which the message carries: a killed attempt redelivered
 * fails again, so each success of a failing task shows that its retries were published and survived
 * the kills (a claim file would let a redelivered first attempt succeed without any retry). Sending
 * takes about ten seconds (a fresh JVM on a loaded machine takes seconds to start: with six, a run
 * killed once), so the kills fall on every stage: tasks waiting for their ETA, retries waiting for
 * their back-off, tasks running. Once {@link #MEMBERS_DEADLINE} passed without every task run, the
 * kit stops killing and reports what is missing instead of waiting longer. Subclass it per broker
 * and backend with the {@link ChildWorkerDeployment} to run.
 */
public abstract class DelayedTaskKillKit {
  /** Tasks in {@code make test}: about 20 s on the Redis broker on two cores. */
  static final int DEFAULT_TASKS = 600;

  /**
   * Kill cadence unless {@code -Dmachinery.kill.everyMillis} says: at 2,000 a 10 s AMQP run killed
   * only twice, a fresh process taking a second or two to start.
   */
  static final long DEFAULT_KILL_EVERY_MILLIS = 1500;

  /**
   * Kills in a run by default. Unlimited, a loaded machine (four module builds at once) turned the
   * run into a relay of fresh JVMs each killed soon after its slow start: 13 kills and the 120 s
   * deadline instead of 4 kills in 18 s alone.
   */
  static final int DEFAULT_MAX_KILLS = 4;

  /** Waves of sends, {@value #WAVE_MILLIS} ms apart. */
  static final int WAVES = 20;

  static final long WAVE_MILLIS = 500;

  /**
   * How long every task may take to run before the kit stops killing and names what is missing
   * (after waiting for each state as long as {@link KilledWorkers#STORED_PATIENCE}), unless {@code
   * -Dmachinery.kill.deadlineSeconds} says.
   */
  static final Duration MEMBERS_DEADLINE = Duration.ofMinutes(2);

  /** The kinds of task sent, five in turn in each wave. */
  enum Kind {
    /** {@value WorkerProcesses#RECORD}, due at once. */
    PLAIN,
    /** {@value WorkerProcesses#RECORD} with an ETA 1 to 4 s after its send. */
    DELAYED,
    /** {@value WorkerProcesses#RECORD_AFTER_FAILURES}, one failure, one retry. */
    FAILS_ONCE,
    /** {@value WorkerProcesses#RECORD_AFTER_FAILURES}, two failures, two retries. */
    FAILS_TWICE,
    /** {@value WorkerProcesses#RECORD_AFTER_RETRY_LATER}, one second later. */
    RETRIES_LATER;

    /**
     * The kind of task {@code index}: wave {@code w} sends {@code w}, {@code w + WAVES}, ..., so
     * the kind turns with {@code index / WAVES} and every wave gets all five (by {@code index % 5}
     * a wave would get one kind only, {@value #WAVES} being a multiple of five).
     */
    static Kind of(long index) {
      return values()[(int) (index / WAVES % values().length)];
    }

    /** The attempts this kind fails or defers before its last. */
    int plannedFailures() {
      return switch (this) {
        case PLAIN, DELAYED -> 0;
        case FAILS_ONCE, RETRIES_LATER -> 1;
        case FAILS_TWICE -> 2;
      };
    }

    Signature signature(long index, Instant now) {
      return switch (this) {
        case PLAIN -> Signature.create(WorkerProcesses.RECORD, Arg.of(index));
        // 1 to 4 s ahead, spread over the range
        case DELAYED ->
            Signature.builder(WorkerProcesses.RECORD)
                .args(Arg.of(index))
                .eta(now.plusMillis(1000 + index * 617 % 3000))
                .build();
        case FAILS_ONCE, FAILS_TWICE ->
            Signature.builder(WorkerProcesses.RECORD_AFTER_FAILURES)
                .args(Arg.of(index), Arg.of((long) plannedFailures()))
                .retryCount(plannedFailures())
                .build();
        case RETRIES_LATER ->
            Signature.builder(WorkerProcesses.RECORD_AFTER_RETRY_LATER)
                .args(Arg.of(index), Arg.of(1000L))
                .build();
      };
    }
  }

  /** A task sent: its UUID, name, index and kind. */
  record Sent(String uuid, String name, long index, Kind kind) {
    @Override
    public String toString() {
      return uuid + " " + name + " (" + kind + ", index " + index + ")";
    }
  }

  private final ChildWorkerDeployment deployment;
  private final int defaultTasks;

  protected DelayedTaskKillKit(ChildWorkerDeployment deployment) {
    this(deployment, DEFAULT_TASKS);
  }

  /**
   * A kit that sends {@code defaultTasks} unless {@code -Dmachinery.kill.delayedTasks} says.
   *
   * @param deployment the worker processes to run
   * @param defaultTasks how many tasks to send by default
   */
  protected DelayedTaskKillKit(ChildWorkerDeployment deployment, int defaultTasks) {
    this.deployment = deployment;
    this.defaultTasks = defaultTasks;
  }

  /**
   * The most processes killed in a run unless {@code -Dmachinery.kill.maxKills} says (kills stop
   * earlier once every task ran): {@value #DEFAULT_MAX_KILLS} by default.
   */
  protected int maxKills() {
    return DEFAULT_MAX_KILLS;
  }

  @Test
  void killingWorkerProcessesLosesNoDelayedOrRetriedTask() throws Exception {
    int tasks = Integer.getInteger("machinery.kill.delayedTasks", defaultTasks);
    Duration killEvery =
        Duration.ofMillis(Long.getLong("machinery.kill.everyMillis", DEFAULT_KILL_EVERY_MILLIS));
    Duration membersDeadline =
        Duration.ofSeconds(
            Long.getLong("machinery.kill.deadlineSeconds", MEMBERS_DEADLINE.toSeconds()));
    Config config = deployment.uniqueConfig("eta_kill_");
    Path dir = Files.createDirectories(Path.of("target", "eta-kill", config.defaultQueue()));
    List<Sent> sent = new ArrayList<>();
    try (Broker broker = deployment.createBroker(config);
        Backend backend = deployment.createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      List<String> notStored = new ArrayList<>();
      KilledWorkers.Outcome<Sent> outcome =
          new KilledWorkers(deployment, config, dir)
              .runUntil(
                  () -> sendInWaves(server, tasks),
                  tasks,
                  0,
                  killEvery,
                  all -> {
                    notStored.addAll(notStoredSuccess(server, all));
                    return all.size() - notStored.size();
                  },
                  membersDeadline,
                  Integer.getInteger("machinery.kill.maxKills", maxKills()));
      sent.addAll(outcome.sent());
      Map<String, Integer> runs = outcome.runs().members();
      List<String> lost = new ArrayList<>();
      for (Sent task : sent) {
        if (!runs.containsKey(Long.toString(task.index()))) {
          lost.add(task + ": its last attempt never ran");
        }
      }
      lost.addAll(notStored);
      int failedAttempts = 0;
      for (Path log : outcome.logs()) {
        failedAttempts += WorkerProcesses.lines(WorkerProcesses.failedAttemptsLog(log)).size();
      }
      int plannedFailures = sent.stream().mapToInt(task -> task.kind().plannedFailures()).sum();
      System.out.printf(
          "[%s] %d delayed, retried and plain tasks in %d waves %d ms apart; %s; failed or"
              + " deferred attempts %d (planned %d, again after a kill %d); tasks with a stored"
              + " SUCCESS state %d; lost %d%s%n",
          getClass().getSimpleName(),
          tasks,
          WAVES,
          WAVE_MILLIS,
          outcome.figures(killEvery, "task", "callback", 0),
          failedAttempts,
          plannedFailures,
          failedAttempts - plannedFailures,
          outcome.stored(),
          lost.size(),
          outcome.membersSeconds() >= membersDeadline.toSeconds()
              ? " (not every task had run at the "
                  + membersDeadline.toSeconds()
                  + " s deadline: killing stopped there, and what ran later ran while the states"
                  + " were read)"
              : "");
      lost.forEach(line -> System.out.println("[" + getClass().getSimpleName() + "] lost " + line));
      assertThat(lost).as("tasks lost (never ran, or no stored SUCCESS)").isEmpty();
      assertThat(outcome.kills()).as("processes killed mid-run").isGreaterThanOrEqualTo(2);
      assertThat(failedAttempts)
          .as("failed or deferred attempts")
          .isGreaterThanOrEqualTo(plannedFailures);
    } finally {
      try (Backend backend = deployment.createBackend(config)) {
        WorkerProcesses.inParallel(sent.size(), i -> backend.purgeState(sent.get(i).uuid()));
      } finally {
        deployment.cleanUp(config);
      }
    }
  }

  /** Sends the tasks in {@value #WAVES} waves, {@value #WAVE_MILLIS} ms apart; returns them all. */
  private static List<Sent> sendInWaves(Server server, int tasks) {
    ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();
    // a thread per wave: a slow wave (Pub/Sub publishes each delayed task on its own) does not
    // hold back the next
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(WAVES);
    try {
      List<ScheduledFuture<?>> waves = new ArrayList<>();
      for (int w = 0; w < WAVES; w++) {
        int wave = w;
        waves.add(
            timer.schedule(
                () -> sendWave(server, tasks, wave, sent),
                wave * WAVE_MILLIS,
                TimeUnit.MILLISECONDS));
      }
      for (ScheduledFuture<?> wave : waves) {
        wave.get();
      }
      return List.copyOf(sent);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while sending", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("a wave could not be sent", e.getCause());
    } finally {
      timer.shutdownNow();
    }
  }

  /** Sends the indexes {@code wave}, {@code wave + WAVES}, ... in one call. */
  private static void sendWave(
      Server server, int tasks, int wave, ConcurrentLinkedQueue<Sent> sent) {
    Instant now = Instant.now();
    List<Long> indexes = new ArrayList<>();
    List<Signature> signatures = new ArrayList<>();
    for (long index = wave; index < tasks; index += WAVES) {
      indexes.add(index);
      signatures.add(Kind.of(index).signature(index, now));
    }
    List<AsyncResult> results = server.sendTasks(signatures);
    for (int i = 0; i < signatures.size(); i++) {
      long index = indexes.get(i);
      sent.add(
          new Sent(results.get(i).taskUuid(), signatures.get(i).name(), index, Kind.of(index)));
    }
  }

  /**
   * The tasks without a stored SUCCESS state, each waited for up to {@link
   * KilledWorkers#STORED_PATIENCE}, named with the state or error found.
   */
  private static List<String> notStoredSuccess(Server server, List<Sent> all)
      throws InterruptedException {
    ConcurrentLinkedQueue<String> missing = new ConcurrentLinkedQueue<>();
    WorkerProcesses.inParallel(
        all.size(),
        i -> {
          Sent task = all.get(i);
          try {
            server
                .asyncResult(task.uuid())
                .get(KilledWorkers.STORED_PATIENCE, Duration.ofMillis(20));
          } catch (RuntimeException e) {
            missing.add(task + ": no stored SUCCESS (" + e + ")");
          }
        });
    return List.copyOf(missing);
  }
}
