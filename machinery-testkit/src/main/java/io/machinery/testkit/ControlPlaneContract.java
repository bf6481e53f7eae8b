package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link ControlPlane} passes. Subclass it with a factory; the control plane
 * given must be empty of the ids and queue names the tests use (they are random), so a shared
 * server is fine:
 *
 * <pre>{@code
 * class MemoryControlPlaneTest extends ControlPlaneContract {
 *   protected ControlPlane createControlPlane() { return MemoryControlPlane.create(Clock.systemUTC()); }
 * }
 * }</pre>
 *
 * <p>Listings may hold other tests' workers (a shared server): assertions look at this test's ids
 * only.
 */
public abstract class ControlPlaneContract {
  protected static final Duration PATIENCE = Duration.ofSeconds(20);

  protected ControlPlane plane;
  private final String prefix = "cp-" + UUID.randomUUID().toString().substring(0, 8) + "-";

  /** Builds the control plane under test. */
  protected abstract ControlPlane createControlPlane();

  /** Closes what {@link #createControlPlane()} built; override when it built something. */
  protected void closeControlPlane() {}

  @BeforeEach
  void createControlPlaneUnderTest() {
    plane = createControlPlane();
  }

  @AfterEach
  void closeControlPlaneUnderTest() {
    closeControlPlane();
  }

  private WorkerStatus status(String name, int busy) {
    Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
    return new WorkerStatus(
        prefix + name,
        "host-a",
        42,
        name,
        prefix + "queue",
        8,
        busy,
        false,
        now,
        now,
        List.of(new WorkerStatus.RunningTask("task_" + UUID.randomUUID(), "add", now)),
        List.of(
            new WorkerStatus.ScheduledEntry("nightly", "0 3 * * *", now.plusSeconds(3600), null)));
  }

  private List<WorkerStatus> mine() {
    return plane.workers().stream().filter(w -> w.id().startsWith(prefix)).toList();
  }

  @Test
  void announcedWorkersAreListedByIdWithTheirLastStatus() {
    WorkerStatus b = status("b", 1);
    WorkerStatus a = status("a", 0);
    plane.announce(b, Duration.ofMinutes(1));
    plane.announce(a, Duration.ofMinutes(1));
    WorkerStatus busier = status("a", 5);
    plane.announce(busier, Duration.ofMinutes(1));

    assertThat(mine()).containsExactly(busier, b);
  }

  @Test
  void aWithdrawnWorkerIsGoneAtOnce() {
    plane.announce(status("gone", 0), Duration.ofMinutes(1));
    plane.announce(status("stays", 0), Duration.ofMinutes(1));

    plane.withdraw(prefix + "gone");
    plane.withdraw(prefix + "never-there");

    assertThat(mine()).extracting(WorkerStatus::consumerTag).containsExactly("stays");
  }

  @Test
  void aWorkerThatStopsAnnouncingDisappearsWhenItsTimeToLiveRunsOut() {
    // 5 s: long enough to be listed first on a busy machine (a listing through RabbitMQ's
    // management API can take
    // a second or more), short enough to wait for
    plane.announce(status("silent", 0), Duration.ofSeconds(5));
    plane.announce(status("alive", 0), Duration.ofMinutes(1));
    assertThat(mine()).hasSize(2);

    await().atMost(PATIENCE).until(() -> mine().size() == 1);
    assertThat(mine()).extracting(WorkerStatus::consumerTag).containsExactly("alive");
  }

  @Test
  void queuesArePausedAndResumedIdempotently() {
    String q1 = prefix + "q1";
    String q2 = prefix + "q2";
    plane.pause(q1);
    plane.pause(q1);
    plane.pause(q2);
    assertThat(plane.pausedQueues()).contains(q1, q2);

    plane.resume(q1);
    plane.resume(q1);
    plane.resume(prefix + "never-paused");
    assertThat(plane.pausedQueues()).contains(q2).doesNotContain(q1);
    plane.resume(q2);
    assertThat(plane.pausedQueues()).doesNotContain(q2);
  }

  @Test
  void badArgumentsAreRefused() {
    assertThatThrownBy(() -> plane.pause("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> plane.announce(status("x", 0), Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------------------------------ revoked
  // tasks

  /**
   * Whether the control plane keeps revoked tasks (for {@code Server.cancel}); one that does not is
   * held to refusing {@code revoke} and {@code revoked} with {@link UnsupportedOperationException}.
   */
  protected boolean keepsRevokedTasks() {
    return true;
  }

  /**
   * One test per kind of plane, without skipping: a plane that keeps revocations lists them until
   * their time to live runs out and refuses a bad one; a plane that does not refuses both calls
   * clearly.
   */
  @Test
  void revokedTasksAreListedUntilTheirTimeToLiveRunsOutOrRevocationIsRefusedClearly() {
    if (!keepsRevokedTasks()) {
      assertThatThrownBy(() -> plane.revoke(List.of("task_" + prefix), Duration.ofMinutes(1)))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> plane.revoked()).isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    String kept = "task_" + prefix + UUID.randomUUID();
    String brief = "task_" + prefix + UUID.randomUUID();
    plane.revoke(List.of(), Duration.ofMinutes(1)); // nothing to do
    plane.revoke(List.of(kept), Duration.ofMinutes(5));
    plane.revoke(List.of(brief), Duration.ofMillis(300));
    assertThat(plane.revoked()).contains(kept);
    await().atMost(PATIENCE).until(() -> !plane.revoked().contains(brief));
    assertThat(plane.revoked()).contains(kept);
    assertThatThrownBy(() -> plane.revoke(List.of("task_" + prefix), Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttl");
  }
}
