package io.machinery.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ManualClockTest {
  @Test
  void standsStillUntilMoved() {
    ManualClock clock = ManualClock.at("2026-01-01T00:00:00Z");
    assertThat(clock.instant()).isEqualTo(Instant.parse("2026-01-01T00:00:00Z"));
    assertThat(clock.instant()).isEqualTo(clock.instant());
    assertThat(clock.advance(Duration.ofMillis(1500)))
        .isEqualTo(Instant.parse("2026-01-01T00:00:01.500Z"));
    assertThat(clock.millis()).isEqualTo(Instant.parse("2026-01-01T00:00:01.500Z").toEpochMilli());
    clock.set("2025-12-31T23:59:59Z");
    assertThat(clock.instant()).isEqualTo(Instant.parse("2025-12-31T23:59:59Z"));
  }

  @Test
  void anotherZoneIsAViewOfTheSameTime() {
    ManualClock clock = ManualClock.at("2026-01-01T00:00:00Z");
    java.time.Clock paris = clock.withZone(ZoneId.of("Europe/Paris"));
    clock.advance(Duration.ofHours(1));
    assertThat(paris.instant()).isEqualTo(clock.instant());
    assertThat(java.time.LocalTime.now(paris)).isEqualTo(java.time.LocalTime.of(2, 0));
    assertThat(paris.withZone(clock.getZone())).isEqualTo(clock);
  }

  @Test
  void concurrentAdvancesAreNeverLost() throws InterruptedException {
    ManualClock clock = ManualClock.at(Instant.EPOCH);
    int threads = 8;
    int steps = 10_000;
    CountDownLatch start = new CountDownLatch(1);
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      for (int t = 0; t < threads; t++) {
        pool.submit(
            () -> {
              start.await();
              for (int i = 0; i < steps; i++) {
                clock.advance(Duration.ofNanos(1));
              }
              return null;
            });
      }
      start.countDown();
      pool.shutdown();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(clock.instant()).isEqualTo(Instant.EPOCH.plusNanos((long) threads * steps));
  }
}
