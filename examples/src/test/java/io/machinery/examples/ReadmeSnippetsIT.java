package io.machinery.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Runs the README's Redis blocks ({@code ReadmeSnippets}) on the Redis server of {@code REDIS_URL}.
 */
@Isolated // captures System.out
class ReadmeSnippetsIT {

  @Test
  void theBrokersBlockSendsATaskThroughRedisAndPrintsItsResult() {
    String queue = "readme_snippets_" + UUID.randomUUID();
    String out = capture(() -> ReadmeSnippets.brokersAndBackends(TestEndpoints.redisUrl(), queue));
    assertThat(out).contains("40 + 2 = 42");
  }

  @Test
  void thePeriodicBlockRegistersEntriesWithARedisLockAndPrintsTheirNextTimes() {
    Config config = Config.builder().lock(TestEndpoints.redisUrl()).build();
    String out = capture(() -> ReadmeSnippets.periodicTasks(config));
    assertThat(out).contains("weekday-report next at ", "health-checks next at ");
  }

  @Test
  void theControlBlockSendsUniquelyCancelsAndReadsProgressOnRedis() {
    Config config = redis("readme_control_");
    String image = "image-" + UUID.randomUUID() + ".png";
    String out = capture(() -> ReadmeSnippets.controllingWhatRuns(config, image));
    assertThat(out.lines().toList()) // in order, among any log lines
        .containsSubsequence("true", "cancelled", "[resized " + image + "]", "pass 3 of 3");
  }

  @Test
  void theDagBlockRunsAJoinOfTwoTasksThatShareADependencyOnRedis() {
    Config config = redis("readme_dag_");
    String out = capture(() -> ReadmeSnippets.dag(config));
    assertThat(out).contains("example.com: 3 words, 0 links");
  }

  @Test
  void theSagaBlockUndoesTheReservationsLatestFirstWhenTheChargeFailsOnRedis() {
    Config config = redis("readme_saga_");
    String out = capture(() -> ReadmeSnippets.saga(config));
    assertThat(out.lines().toList()) // in order, among any log lines
        .containsSubsequence(
            "cancelled hotel in NYC",
            "cancelled flight LHR-JFK",
            "saga step 2 (charge) failed: card declined; the steps before it were undone (2"
                + " compensations ran)");
  }

  /** Broker and backend on the Redis of {@code REDIS_URL}, a default queue of its own. */
  private static Config redis(String queuePrefix) {
    return Config.builder()
        .broker(TestEndpoints.redisUrl())
        .resultBackend(TestEndpoints.redisUrl())
        .defaultQueue(queuePrefix + UUID.randomUUID())
        .build();
  }

  private static String capture(Runnable block) {
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      block.run();
    } finally {
      System.setOut(original);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }
}
