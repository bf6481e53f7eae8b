package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Chords on the AMQP broker and backend while one of three worker processes is killed with SIGKILL: a scaled-down
 * "1,000 chords x 20 members on 3 worker processes" (here {@value #CHORDS} x {@value #MEMBERS}). Every member must
 * run; every chord must fire its callback at least once (F4: the winner keeps the group's states in the chord's
 * marker until the callback is sent, and the re-run of its member recovers them); duplicates are counted and
 * printed (a callback the victim was running runs again; a recovery beside a living winner sends it twice).
 */
class AmqpChordKillIT {
  private static final int CHORDS = 100;
  private static final int MEMBERS = 10;
  private static final int KILL_AFTER = CHORDS * MEMBERS * 3 / 10;

  private final List<Process> children = new ArrayList<>();

  @AfterEach
  void killChildren() {
    children.forEach(Process::destroyForcibly);
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  @Test
  void killingOneOfThreeWorkerProcessesDuringChordsLosesNoMember() throws Exception {
    String url = TestEndpoints.amqpUrl();
    Config config = BrokerContract.uniqueQueue(Config.builder().broker(url).resultBackend(url).build(), "chord_kill_");
    RabbitAdmin.track(config.defaultQueue());
    Path dir = Files.createDirectories(Path.of("target", "chord-kill-it", config.defaultQueue()));
    Path[] logs = {dir.resolve("victim.executions"), dir.resolve("w2.executions"), dir.resolve("w3.executions")};
    try (AmqpBroker broker = AmqpBroker.create(config); AmqpBackend backend = AmqpBackend.create(config);
         Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      long started = System.nanoTime();
      for (int c = 0; c < CHORDS; c++) {
        List<Signature> members = new ArrayList<>();
        for (int m = 0; m < MEMBERS; m++) {
          members.add(Signature.create("record", Arg.of((long) c * MEMBERS + m)));
        }
        server.sendChord(Chord.of(Group.of(members), Signature.create("collect", Arg.of((long) c))), 0);
      }
      double sendSeconds = (System.nanoTime() - started) / 1e9;
      Process victim = startWorker(config, logs[0], dir.resolve("victim.out"));
      Process w2 = startWorker(config, logs[1], dir.resolve("w2.out"));
      Process w3 = startWorker(config, logs[2], dir.resolve("w3.out"));

      await().atMost(Duration.ofMinutes(2)).until(() -> memberRuns(logs) >= KILL_AFTER);
      assertThat(victim.isAlive()).as("the victim worker is running").isTrue();
      int victimMembersAtKill = count(logs[0], false);
      victim.destroyForcibly(); // SIGKILL
      victim.waitFor();

      await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
          .until(() -> distinct(false, logs) == CHORDS * MEMBERS && w2.isAlive() && w3.isAlive());
      // callbacks: wait for all, but a lost chord never comes; stop once nothing moved for 30 s (then fail)
      int[] last = {-1};
      long[] since = {System.nanoTime()};
      await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).until(() -> {
        int now = distinct(true, logs);
        if (now != last[0]) {
          last[0] = now;
          since[0] = System.nanoTime();
        }
        return now == CHORDS || System.nanoTime() - since[0] > Duration.ofSeconds(30).toNanos();
      });
      double seconds = (System.nanoTime() - started) / 1e9;
      int memberRuns = memberRuns(logs);
      int callbacks = 0;
      for (Path log : logs) {
        callbacks += count(log, true);
      }
      int distinctCallbacks = distinct(true, logs);
      System.out.printf("[AmqpChordKillIT] %d chords x %d members sent in %.1f s; victim (pid %d) killed with SIGKILL"
              + " after %d member runs of its own (%d in all); done in %.1f s: member runs %d (distinct %d, duplicates"
              + " %d), callbacks %d (distinct %d, duplicates %d, lost %d)%n",
          CHORDS, MEMBERS, sendSeconds, victim.pid(), victimMembersAtKill, KILL_AFTER, seconds, memberRuns,
          distinct(false, logs), memberRuns - CHORDS * MEMBERS, callbacks, distinctCallbacks,
          callbacks - distinctCallbacks, CHORDS - distinctCallbacks);
      assertThat(distinct(false, logs)).as("members run at least once").isEqualTo(CHORDS * MEMBERS);
      assertThat(CHORDS - distinctCallbacks).as("chords lost with the killed worker (F4)").isZero();
      for (Path log : logs) {
        for (String line : Files.readAllLines(log)) {
          if (line.startsWith("cb:")) {
            assertThat(line).as("every callback got all member results").endsWith(":" + MEMBERS);
          }
        }
      }
    }
  }

  private Process startWorker(Config config, Path executions, Path output) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", classpath,
        ChildWorkerMain.class.getName(), config.broker(), config.defaultQueue(), "10", executions.toString())
        .redirectErrorStream(true).redirectOutput(output.toFile()).start();
    children.add(process);
    return process;
  }

  private static int memberRuns(Path... files) throws IOException {
    int runs = 0;
    for (Path file : files) {
      runs += count(file, false);
    }
    return runs;
  }

  private static int count(Path file, boolean callbacks) throws IOException {
    if (!Files.exists(file)) {
      return 0;
    }
    return (int) Files.readAllLines(file).stream()
        .filter(l -> !l.isBlank() && l.startsWith("cb:") == callbacks).count();
  }

  /** Distinct members (by index) or callbacks (by chord number) over every worker's file. */
  private static int distinct(boolean callbacks, Path... files) throws IOException {
    Map<String, Integer> seen = new HashMap<>();
    for (Path file : files) {
      if (Files.exists(file)) {
        for (String line : Files.readAllLines(file)) {
          if (!line.isBlank() && line.startsWith("cb:") == callbacks) {
            String key = callbacks ? line.split(":")[1] : line.trim();
            seen.merge(key, 1, Integer::sum);
          }
        }
      }
    }
    return seen.size();
  }
}
