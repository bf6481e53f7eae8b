package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The worker's cap on the delays of an unknown task's requeues, as the broker is asked for them.
 */
class UnregisteredDelayTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @Test
  void anUnknownTasksRequeueDelaysDoubleUpToTheWorkersCap() {
    assertThat(requeueDelaysOfAnUnknownTask(5, b -> b.maxUnregisteredDelay(Duration.ofMillis(250))))
        .containsExactly(ms(100), ms(200), ms(250), ms(250), ms(250));
  }

  @Test
  void withoutACapTheyDoubleFurther() {
    assertThat(requeueDelaysOfAnUnknownTask(4, b -> b))
        .containsExactly(ms(100), ms(200), ms(400), ms(800));
  }

  @Test
  void theBuilderRefusesACapBelowTheFirstDelayOrAboveAnHour() {
    try (Server server = Server.builder().build()) {
      Worker.Builder b = server.workerBuilder("w");
      assertThatThrownBy(() -> b.maxUnregisteredDelay(Duration.ofMillis(99)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("maxUnregisteredDelay must be from PT0.1S to 1 hour");
      assertThatThrownBy(() -> b.maxUnregisteredDelay(Duration.ofHours(1).plusMillis(1)))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  private static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  /**
   * The delays a worker asks for as it requeues a task nobody registered, {@code requeues} times
   * before it dead-letters it.
   */
  private static List<Duration> requeueDelaysOfAnUnknownTask(
      int requeues, java.util.function.UnaryOperator<Worker.Builder> options) {
    List<Duration> delays = new CopyOnWriteArrayList<>();
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    DelegatingBroker recording =
        new DelegatingBroker(memory) {
          @Override
          public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
            return memory.startConsuming(
                tag,
                queue,
                WrappingHandler.handler(handler, d -> new RecordingDelivery(d, delays)));
          }
        };
    try (memory;
        Server server = Server.builder().broker(recording).build()) {
      options
          .apply(server.workerBuilder("w").maxUnregisteredRequeues(requeues))
          .build()
          .launchAsync();
      server.sendTask(Signature.create("nobody_knows_me"));
      await().atMost(TIMEOUT).until(() -> memory.deadLetters().size() == 1);
    }
    return delays;
  }

  /** Notes the delay of each requeue. */
  private static final class RecordingDelivery extends ForwardingDelivery {
    private final List<Duration> delays;

    RecordingDelivery(Delivery delivery, List<Duration> delays) {
      super(delivery);
      this.delays = delays;
    }

    @Override
    public void requeue(Duration delay) {
      delays.add(delay);
      super.requeue(delay);
    }

    @Override
    public void requeue(Duration delay, byte[] replacement) {
      delays.add(delay);
      super.requeue(delay, replacement);
    }
  }
}
