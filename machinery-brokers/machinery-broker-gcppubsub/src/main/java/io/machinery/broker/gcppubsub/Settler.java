package io.machinery.broker.gcppubsub;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends acks and ack-deadline changes in batches: one thread takes whatever has queued up since its
 * last request and sends one Acknowledge or ModifyAckDeadline per subscription and deadline, so a
 * busy worker settles hundreds of messages per round trip and an idle one settles each at once.
 *
 * <p>Design notes. Callers only enqueue: a worker acks after the task's final state is stored, and
 * the ack reaching Pub/Sub a few milliseconds later changes nothing about that order. A request
 * that fails is logged and dropped: an ack that is lost means the message is delivered again
 * (at-least-once), a nack that is lost means it comes back when its deadline lapses.
 */
final class Settler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Settler.class);

  /** Marks an acknowledgement in {@link Op#deadlineSeconds}. */
  static final int ACK = -1;

  record Op(String subscription, String ackId, int deadlineSeconds) {}

  private record Key(String subscription, int deadlineSeconds) {}

  private final PubSubClient client;
  private final LinkedBlockingQueue<Op> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean closed;

  Settler(PubSubClient client) {
    this.client = client;
    this.thread = Thread.ofPlatform().daemon().name("machinery-pubsub-settler").start(this::run);
  }

  void ack(String subscription, String ackId) {
    queue.add(new Op(subscription, ackId, ACK));
  }

  /** Deliver again after {@code seconds} (0: at once). */
  void modifyDeadline(String subscription, String ackId, int seconds) {
    queue.add(new Op(subscription, ackId, seconds));
  }

  private void run() {
    List<Op> batch = new ArrayList<>();
    while (!closed || !queue.isEmpty()) {
      try {
        Op first = queue.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
      } catch (InterruptedException e) {
        if (queue.isEmpty()) {
          return;
        }
      }
      queue.drainTo(batch);
      send(batch);
      batch.clear();
    }
  }

  private void send(List<Op> batch) {
    Map<Key, List<String>> groups = new LinkedHashMap<>();
    for (Op op : batch) {
      groups
          .computeIfAbsent(new Key(op.subscription(), op.deadlineSeconds()), k -> new ArrayList<>())
          .add(op.ackId());
    }
    for (Map.Entry<Key, List<String>> group : groups.entrySet()) {
      Key key = group.getKey();
      try {
        if (key.deadlineSeconds() == ACK) {
          client.acknowledge(key.subscription(), group.getValue());
        } else {
          client.modifyAckDeadline(key.subscription(), group.getValue(), key.deadlineSeconds());
        }
      } catch (RuntimeException | Error e) { // an Error too: this thread settles every message
        log.warn(
            "Pub/Sub {} of {} message(s) on subscription {} failed ({}); they will be delivered again",
            key.deadlineSeconds() == ACK ? "ack" : "deadline change",
            group.getValue().size(),
            key.subscription(),
            e.toString());
      }
    }
  }

  /** Sends what is queued, waiting up to a few seconds, then stops. */
  @Override
  public void close() {
    closed = true;
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    thread.interrupt();
  }
}
