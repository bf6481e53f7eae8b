package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The Redis twin of the AMQP broker module's {@code AmqpChordKillIT}: {@value #CHORDS} chords of {@value
 * #MEMBERS} members on three worker processes ({@link KillableWorkerMain}, Redis broker and backend), one killed
 * with SIGKILL once 30% of the members ran. The dead worker's messages come back after its lease; a re-run
 * member whose chord was triggered but whose callback has no state sends it (F4). Every member and every
 * callback must end SUCCESS; runs of a task beyond its first are counted as duplicates and printed.
 */
class RedisChordKillIT {
  private static final int CHORDS = 100;
  private static final int MEMBERS = 10;
  private static final int KILL_AFTER = CHORDS * MEMBERS * 3 / 10;

  @Test
  void killingOneOfThreeWorkerProcessesDuringChordsLosesNoCallback() throws Exception {
    String url = TestEndpoints.redisUrl();
    String queue = "chord_kill_it_" + UUID.randomUUID().toString().substring(0, 8);
    String runsKey = queue + "_runs";
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(queue).build();
    List<Process> workers = new ArrayList<>();
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      FaultWork.register(server, redis, runsKey);
      List<String> members = java.util.Collections.synchronizedList(new ArrayList<>());
      List<String> callbacks = java.util.Collections.synchronizedList(new ArrayList<>());
      try {
        for (int w = 0; w < 3; w++) {
          workers.add(WorkerKilledIT.startWorkerProcess(url, queue, runsKey));
        }
        // sent while the workers run (they are faster than the sender), so the kill lands mid-run
        long started = System.nanoTime();
        Thread sender = Thread.ofVirtual().start(() -> {
          for (int c = 0; c < CHORDS; c++) {
            List<Signature> group = new ArrayList<>();
            for (int m = 0; m < MEMBERS; m++) {
              group.add(Signature.create(FaultWork.TASK));
            }
            // members return nothing, so the callback "work" gets no arguments appended
            Chord chord = Chord.of(Group.of(group), Signature.create(FaultWork.TASK));
            server.sendChord(chord, 0).groupResults().forEach(r -> members.add(r.signature().uuid()));
            callbacks.add(chord.callback().uuid());
          }
        });
        Process victim = workers.get(0);
        await().atMost(Duration.ofMinutes(2)).until(() -> redis.await(redis.commands().hlen(runsKey)) >= KILL_AFTER);
        long runsAtKill = redis.await(redis.commands().hlen(runsKey));
        victim.destroyForcibly(); // SIGKILL
        victim.waitFor();
        long killedAt = System.nanoTime();
        sender.join();
        double sendSeconds = (System.nanoTime() - started) / 1e9;

        // wait for every callback; a lost one never comes, so stop once nothing moved for 30 s (then fail)
        int[] last = {-1};
        long[] since = {System.nanoTime()};
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250)).until(() -> {
          int done = FaultWork.states(redis, callbacks).getOrDefault(State.SUCCESS, 0)
              + FaultWork.states(redis, members).getOrDefault(State.SUCCESS, 0);
          if (done != last[0]) {
            last[0] = done;
            since[0] = System.nanoTime();
          }
          return done == CHORDS + CHORDS * MEMBERS || System.nanoTime() - since[0] > Duration.ofSeconds(30).toNanos();
        });
        double recovery = (System.nanoTime() - killedAt) / 1e9;
        int membersDone = FaultWork.states(redis, members).getOrDefault(State.SUCCESS, 0);
        int callbacksDone = FaultWork.states(redis, callbacks).getOrDefault(State.SUCCESS, 0);
        long[] memberRuns = runs(redis, runsKey, members);
        long[] callbackRuns = runs(redis, runsKey, callbacks);
        System.out.printf("[RedisChordKillIT] %d chords x %d members sent in %.1f s; one of 3 worker processes (pid %d)"
                + " killed with SIGKILL after %d tasks had run (while sending); %.1f s later: members SUCCESS %d (runs %d, duplicates"
                + " %d, never run %d), callbacks SUCCESS %d (runs %d, duplicates %d, lost %d)%n",
            CHORDS, MEMBERS, sendSeconds, victim.pid(), runsAtKill, recovery, membersDone, memberRuns[0],
            memberRuns[1], memberRuns[2], callbacksDone, callbackRuns[0], callbackRuns[1], CHORDS - callbacksDone);
        assertThat(runsAtKill).as("the kill landed mid-run").isLessThan(CHORDS * (MEMBERS + 1));
        assertThat(membersDone).as("members SUCCESS").isEqualTo(CHORDS * MEMBERS);
        assertThat(memberRuns[2]).as("members never run").isZero();
        assertThat(CHORDS - callbacksDone).as("chord callbacks lost with the killed worker (F4)").isZero();
        assertThat(callbackRuns[2]).as("callbacks never run").isZero();
      } finally {
        workers.forEach(Process::destroyForcibly);
        List<String> keys = new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
        keys.add(runsKey);
        keys.add(queue);
        redis.await(redis.commands().del(keys.toArray(new String[0])));
      }
    }
  }

  /** Over {@code uuids}: total runs, runs beyond each task's first (duplicates), tasks that never ran. */
  private static long[] runs(RedisSession redis, String runsKey, List<String> uuids) {
    long total = 0;
    long duplicates = 0;
    long never = 0;
    for (var kv : redis.await(redis.commands().hmget(runsKey, uuids.toArray(new String[0])))) {
      long n = kv.hasValue() ? Long.parseLong(new String(kv.getValue(), StandardCharsets.UTF_8)) : 0;
      total += n;
      duplicates += Math.max(0, n - 1);
      never += n == 0 ? 1 : 0;
    }
    return new long[] {total, duplicates, never};
  }
}
