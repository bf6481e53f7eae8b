package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.testkit.TestEndpoints;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A burst of concurrent {@link AmqpClient#call}s (a 10,000-member chord sent with unbounded
 * concurrency declares every member's target at once) takes turns for channels instead of failing
 * with "no channel left" once RabbitMQ's 2,047 channels per connection are open.
 */
class AmqpClientChannelsIT {

  @Test
  void moreConcurrentCallsThanTheConnectionHasChannelsTakeTurns() throws Exception {
    int calls = 3_000;
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger mostInside = new AtomicInteger();
    CountDownLatch crowded = new CountDownLatch(1);
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    try (AmqpClient client =
            AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl())))
                .connectionName("channels-it")
                .build();
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        done.add(
            threads.submit(
                () -> {
                  try {
                    client.call(
                        "hold a channel",
                        channel -> {
                          int now = inside.incrementAndGet();
                          mostInside.accumulateAndGet(now, Math::max);
                          // Every call holds its channel until as many calls hold one as the
                          // client allows, so the burst is real: without the bound, more are in
                          // by then (and past 2,047 channels, calls fail).
                          if (now >= AmqpClient.MAX_CALL_CHANNELS) {
                            crowded.countDown();
                          }
                          try {
                            crowded.await(30, TimeUnit.SECONDS);
                          } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IllegalStateException(e);
                          }
                          channel.exchangeDeclarePassive("amq.direct");
                          inside.decrementAndGet();
                          return null;
                        });
                  } catch (RuntimeException e) {
                    failures.add(e);
                    crowded.countDown();
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get(120, TimeUnit.SECONDS);
      }
    }
    System.out.printf(
        "[AmqpClientChannelsIT] %d concurrent calls: at most %d held a channel at once, %d failed%s%n",
        calls, mostInside.get(), failures.size(), failures.isEmpty() ? "" : ": " + failures.peek());
    assertThat(failures).isEmpty();
    assertThat(mostInside.get()).isLessThanOrEqualTo(AmqpClient.MAX_CALL_CHANNELS);
  }
}
