package io.machinery.client.amqp;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The messages of one confirm-mode channel that wait for RabbitMQ's confirm, by publish sequence
 * number, and how confirms and returns settle them. Pure bookkeeping, no I/O.
 *
 * <p>RabbitMQ confirms in sequence order, often several at once ({@code multiple=true}: every
 * sequence number up to the tag). A returned (unroutable) message arrives <em>before</em> its
 * confirm and carries no sequence number, so it is matched to the oldest pending message with the
 * same exchange, routing key and body that is not yet marked returned; the confirm that follows
 * then fails it with {@link UnroutableException}. Two equal messages in flight are interchangeable,
 * so matching the oldest is exact enough.
 *
 * <p>Thread-safe: confirms and returns come from the connection's thread, publishes from any
 * thread.
 */
final class PendingConfirms {
  private final ConcurrentSkipListMap<Long, Pending> pending = new ConcurrentSkipListMap<>();

  /** One message waiting for its confirm. */
  static final class Pending {
    final String exchange;
    final String routingKey;
    final byte[] body;

    /** When its publish gives up, a {@link System#nanoTime()}. */
    final long deadline;

    final CompletableFuture<Void> future = new CompletableFuture<>();
    volatile boolean returned;

    Pending(String exchange, String routingKey, byte[] body, long deadline) {
      this.exchange = exchange;
      this.routingKey = routingKey;
      this.body = body;
      this.deadline = deadline;
    }

    void settle(boolean ack) {
      if (returned) {
        future.completeExceptionally(new UnroutableException(exchange, routingKey));
      } else if (ack) {
        future.complete(null);
      } else {
        future.completeExceptionally(new NackedException(exchange, routingKey));
      }
    }
  }

  void add(long sequence, Pending message) {
    pending.put(sequence, message);
  }

  /** Takes a message back that was never sent; whether it was still pending. */
  boolean remove(long sequence) {
    return pending.remove(sequence) != null;
  }

  int size() {
    return pending.size();
  }

  /** basic.return: marks the oldest matching message as returned. */
  void returned(String exchange, String routingKey, byte[] body) {
    for (Pending p : pending.values()) {
      if (!p.returned
          && p.exchange.equals(exchange)
          && p.routingKey.equals(routingKey)
          && Arrays.equals(p.body, body)) {
        p.returned = true;
        return;
      }
    }
  }

  /**
   * basic.ack / basic.nack for {@code tag}, or for every message up to it when {@code multiple}.
   */
  void confirmed(long tag, boolean multiple, boolean ack) {
    if (multiple) {
      Map.Entry<Long, Pending> e;
      while ((e = pending.firstEntry()) != null && e.getKey() <= tag) {
        if (pending.remove(e.getKey(), e.getValue())) {
          e.getValue().settle(ack);
        }
      }
    } else {
      Pending p = pending.remove(tag);
      if (p != null) {
        p.settle(ack);
      }
    }
  }

  /** The channel is gone: every pending message fails with {@code cause}. */
  void failAll(RuntimeException cause) {
    Map.Entry<Long, Pending> e;
    while ((e = pending.pollFirstEntry()) != null) {
      e.getValue().future.completeExceptionally(cause);
    }
  }
}
