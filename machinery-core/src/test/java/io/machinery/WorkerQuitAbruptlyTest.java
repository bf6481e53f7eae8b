package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link Worker#quitAbruptly()} hands its running tasks back to the broker before it closes its
 * consumer; a broker that hands such a message out again at once, to the same consumer, must not
 * get it run by the worker that is quitting (it was: a task started after {@code quitAbruptly}).
 */
class WorkerQuitAbruptlyTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  /**
   * A memory broker whose consumer, asked to close, first waits (bounded) until the message handed
   * back has reached the worker again: the window between a task's requeue and the close, made
   * certain.
   */
  private static final class RedeliveringBeforeClose extends DelegatingBroker {
    final AtomicInteger handed = new AtomicInteger();
    final CountDownLatch handedAgain = new CountDownLatch(1);

    /** The message handed out again was given back (requeued) rather than run. */
    final CountDownLatch againSettled = new CountDownLatch(1);

    RedeliveringBeforeClose(MemoryBroker delegate) {
      super(delegate);
    }

    @Override
    public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
      Consumption consumption =
          delegate.startConsuming(
              tag,
              queue,
              WrappingHandler.handler(
                  handler,
                  delivery -> {
                    if (handed.incrementAndGet() != 2) {
                      return delivery;
                    }
                    handedAgain.countDown();
                    return new ForwardingDelivery(delivery) {
                      @Override
                      public void requeue(Duration delay) {
                        super.requeue(delay);
                        againSettled.countDown();
                      }

                      @Override
                      public void requeue(Duration delay, byte[] replacement) {
                        super.requeue(delay, replacement);
                        againSettled.countDown();
                      }
                    };
                  }));
      return new Consumption() {
        @Override
        public void stopFetching(Duration timeout) {
          consumption.stopFetching(timeout);
        }

        @Override
        public void close() {
          try {
            handedAgain.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          consumption.close();
        }
      };
    }
  }

  @Test
  void aTaskHandedBackByAnAbruptQuitIsNotStartedAgainByTheQuittingWorker() throws Exception {
    Config config = Config.DEFAULT;
    CountDownLatch never = new CountDownLatch(1);
    AtomicInteger starts = new AtomicInteger();
    try (MemoryBroker memory = MemoryBroker.create(config, Clock.systemUTC());
        MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server =
            Server.builder()
                .config(config)
                .broker(new RedeliveringBeforeClose(memory))
                .backend(backend)
                .build()) {
      server.registerTask(
          "hold",
          TaskFunction.of(
              () -> {
                starts.incrementAndGet();
                never.await();
                return null;
              }));
      RedeliveringBeforeClose broker = (RedeliveringBeforeClose) server.broker();
      Worker worker = server.workerBuilder("abrupt").concurrency(2).build();
      worker.launchAsync();
      server.sendTask(Signature.create("hold"));
      await().atMost(TIMEOUT).until(() -> starts.get() == 1);

      worker.quitAbruptly();

      assertThat(broker.handedAgain.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS))
          .as("the broker handed the message out again to the quitting worker")
          .isTrue();
      assertThat(broker.againSettled.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS))
          .as("the quitting worker gave the message back instead of running it")
          .isTrue();
      assertThat(starts.get()).as("starts of the task").isEqualTo(1);
      assertThat(memory.pendingTasks(config.defaultQueue()))
          .as("the message is back in the queue for the next worker")
          .hasSize(1);
    }
  }
}
