package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * The kill loop the workflow kits share ({@link ChordKillKit}, {@link DagKillKit}): three worker
 * processes run {@link WorkerProcesses#RECORD} members and {@link WorkerProcesses#COLLECT}
 * callbacks while workflows are sent; once the oldest living process has run tasks for {@code
 * killEvery} it is killed with SIGKILL and a fresh one started, until every member ran. The first
 * kill comes sooner if a fifth of the members ran before it: a fast run (Pub/Sub's 2,000 members
 * once ran in under 3 s) must still lose a process mid-run. Then it waits for the callbacks, until
 * nothing moved for 60 s (a lost callback never comes), and counts the stored states while the last
 * processes still run (a task killed before its state write stores it when it comes back).
 */
final class KilledWorkers {
  static final int PROCESSES = 3;

  /**
   * What a run did.
   *
   * @param sent what {@code send} returned
   * @param kills processes killed
   * @param logs the execution logs of every process, in start order
   */
  /** Counts the stored SUCCESS states of what was sent, while the worker processes still run. */
  interface StoredCount<T> {
    int count(List<T> sent) throws Exception;
  }

  /** How long a kit waits for each state to be stored, once every callback ran. */
  static final Duration STORED_PATIENCE = Duration.ofSeconds(90);

  record Outcome<T>(
      List<T> sent,
      int kills,
      List<Path> logs,
      double sendSeconds,
      double membersSeconds,
      double seconds,
      WorkerProcesses.Runs runs,
      int stored) {
    /**
     * The run's figures for the kit's printed line: kills, times, runs and duplicates of members
     * and callbacks, and the callbacks lost of {@code callbacks} expected.
     *
     * @param member what a kit calls a member ("member", "root")
     * @param callback what it calls a callback ("callback", "join")
     */
    String figures(Duration killEvery, String member, String callback, int callbacks) {
      return String.format(
          "the oldest of %d worker processes killed with SIGKILL once it had run tasks for %d ms"
              + " (the first sooner if a fifth of the %ss ran) (%d kills, %d processes in all); sent in %.1f s, every %s ran after %.1f s, done in"
              + " %.1f s; %s runs %d (distinct %d, duplicates %d); %s runs %d (distinct %d,"
              + " duplicates %d, lost %d)",
          PROCESSES,
          killEvery.toMillis(),
          member,
          kills,
          logs.size(),
          sendSeconds,
          member,
          membersSeconds,
          seconds,
          member,
          runs.memberRuns(),
          runs.members().size(),
          runs.memberRuns() - runs.members().size(),
          callback,
          runs.callbackRuns(),
          runs.callbacks().size(),
          runs.callbackRuns() - runs.callbacks().size(),
          callbacks - runs.callbacks().size());
    }
  }

  private final ChildWorkerDeployment deployment;
  private final Config config;
  private final Path dir;
  private final List<Path> logs = new ArrayList<>();

  KilledWorkers(ChildWorkerDeployment deployment, Config config, Path dir) {
    this.deployment = deployment;
    this.config = config;
    this.dir = dir;
  }

  /**
   * Sends with {@code send} on a thread of its own while processes are killed, until {@code
   * members} distinct members ran and then {@code callbacks} distinct callbacks (or none moved for
   * 60 s); then counts the stored states with {@code storedWhileAlive} before the processes stop.
   */
  <T> Outcome<T> run(
      Supplier<List<T>> send,
      int members,
      int callbacks,
      Duration killEvery,
      StoredCount<T> storedWhileAlive)
      throws Exception {
    return run(
        send,
        members,
        callbacks,
        killEvery,
        storedWhileAlive,
        Duration.ofMinutes(20),
        true,
        Integer.MAX_VALUE);
  }

  /**
   * As {@link #run(Supplier, int, int, Duration, StoredCount)}, but once {@code membersDeadline}
   * passed before every member ran, it stops killing and goes on (waits for the callbacks, counts
   * the stored states) instead of failing: the caller names what was lost. It kills {@code
   * maxKills} processes at most (a broker whose dead worker's messages come back only after a lease
   * of ten seconds would otherwise push the end back with every kill).
   */
  <T> Outcome<T> runUntil(
      Supplier<List<T>> send,
      int members,
      int callbacks,
      Duration killEvery,
      StoredCount<T> storedWhileAlive,
      Duration membersDeadline,
      int maxKills)
      throws Exception {
    return run(
        send, members, callbacks, killEvery, storedWhileAlive, membersDeadline, false, maxKills);
  }

  private <T> Outcome<T> run(
      Supplier<List<T>> send,
      int members,
      int callbacks,
      Duration killEvery,
      StoredCount<T> storedWhileAlive,
      Duration membersDeadline,
      boolean failAtDeadline,
      int maxKills)
      throws Exception {
    try (WorkerProcesses processes = WorkerProcesses.create();
        ExecutorService sender = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Process> living = new ArrayList<>();
      for (int i = 0; i < PROCESSES; i++) {
        living.add(startChild(processes));
      }
      long started = System.nanoTime();
      double[] sendSeconds = {0};
      CompletableFuture<List<T>> sending =
          CompletableFuture.supplyAsync(
              () -> {
                List<T> sent = send.get();
                sendSeconds[0] = (System.nanoTime() - started) / 1e9;
                return sent;
              },
              sender);

      // kill the oldest process once it has run tasks for a few seconds (a JVM takes seconds to
      // start on a busy machine: killing it before it consumes would test nothing) and start a
      // fresh one, until every member ran
      int kills = 0;
      Map<Path, Long> firstRunSeen = new HashMap<>();
      while (!allMembersRan(members) && kills < maxKills) {
        if (sending.isCompletedExceptionally()) {
          sending.join(); // throws why
        }
        boolean pastDeadline = System.nanoTime() - started >= membersDeadline.toNanos();
        if (pastDeadline && !failAtDeadline) {
          break;
        }
        assertThat(pastDeadline).as("every member ran within %s", membersDeadline).isFalse();
        Path victimLog = logs.get(logs.size() - PROCESSES);
        boolean firstKill = kills == 0;
        await()
            .atMost(membersDeadline)
            .pollInterval(Duration.ofMillis(250))
            .until(
                () -> {
                  if (!firstRunSeen.containsKey(victimLog)
                      && WorkerProcesses.runs(victimLog).total() > 0) {
                    firstRunSeen.put(victimLog, System.nanoTime());
                  }
                  Long since = firstRunSeen.get(victimLog);
                  return (since != null && System.nanoTime() - since >= killEvery.toNanos())
                      || (firstKill && since != null && membersRan() >= members / 5)
                      || allMembersRan(members)
                      || (!failAtDeadline
                          && System.nanoTime() - started >= membersDeadline.toNanos());
                });
        if (!allMembersRan(members)
            && (failAtDeadline || System.nanoTime() - started < membersDeadline.toNanos())) {
          processes.kill(living.remove(0));
          kills++;
          living.add(startChild(processes));
        }
      }
      // after the last kill (maxKills), the living processes finish
      Duration untilDeadline = membersDeadline.minusNanos(System.nanoTime() - started);
      if (!allMembersRan(members) && untilDeadline.isPositive()) {
        try {
          await()
              .atMost(untilDeadline)
              .pollInterval(Duration.ofMillis(250))
              .until(() -> allMembersRan(members));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
          if (failAtDeadline) {
            throw e;
          }
        }
      }
      double membersSeconds = (System.nanoTime() - started) / 1e9;
      List<T> sent = sending.get();

      int[] seen = {-1};
      long[] since = {System.nanoTime()};
      await()
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofMillis(250))
          .until(
              () -> {
                int now = runs().callbacks().size();
                if (now != seen[0]) {
                  seen[0] = now;
                  since[0] = System.nanoTime();
                }
                return now == callbacks
                    || System.nanoTime() - since[0] > Duration.ofSeconds(60).toNanos();
              });
      double seconds = (System.nanoTime() - started) / 1e9;
      // with the last processes still running: a task whose body ran in a killed process before
      // its state was stored comes back to them once the broker's hold on it lapses (Pub/Sub: the
      // ack deadline), and only then stores its state
      int stored = storedWhileAlive.count(sent);
      return new Outcome<>(
          sent, kills, List.copyOf(logs), sendSeconds[0], membersSeconds, seconds, runs(), stored);
    }
  }

  private WorkerProcesses.Runs runs() {
    return WorkerProcesses.runs(logs.toArray(Path[]::new));
  }

  private boolean allMembersRan(int members) {
    return membersRan() == members;
  }

  private int membersRan() {
    return runs().members().size();
  }

  private Process startChild(WorkerProcesses processes) {
    int n = logs.size() + 1;
    Path executions = dir.resolve("w" + n + ".executions");
    logs.add(executions);
    return processes.start(
        deployment.childMain(),
        dir.resolve("w" + n + ".out"),
        deployment.childArgs(config, executions));
  }

  /**
   * Sends {@code count} workflows from four threads while the workers run: {@code sendOne} sends
   * the workflow of an index and returns it. Returns them in index order.
   */
  static <T> List<T> sendFromFourThreads(int count, IntFunction<T> sendOne) {
    ExecutorService sending = Executors.newFixedThreadPool(4);
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        int index = i;
        futures.add(sending.submit(() -> sendOne.apply(index)));
      }
      List<T> sent = new ArrayList<>();
      for (Future<T> f : futures) {
        sent.add(f.get());
      }
      return sent;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while sending", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("a workflow could not be sent", e.getCause());
    } finally {
      sending.shutdown();
    }
  }
}
