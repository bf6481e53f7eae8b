package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutureCallback;
import com.google.api.core.ApiFutures;
import com.google.pubsub.v1.PullResponse;
import com.google.pubsub.v1.ReceivedMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
 *
 * <p>Pulls whose caller stopped waiting (a consumer or the delay pump stopping) are handed back
 * when they answer ({@link #handBackWhenAnswered}); {@link #close()} waits up to {@link
 * #ABANDONED_PULL_WAIT} for those still out, so a broker closing hands them back too. One that
 * answers after the settler closed is handed back by a request of its own, which works on stubs the
 * user passed in (they stay open). On the broker's own channel such a pull is cancelled when the
 * channel closes, and its messages come back only after their ack deadline: their ack IDs exist
 * only in the answer the cancelled call never delivers, and Pub/Sub has no call that releases
 * leases without them (Seek would also deliver again what was acknowledged). Waiting longer would
 * make every close() wait as long as a long-poll pull may take, or leave the channel's threads
 * running after close().
 */
final class Settler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Settler.class);

  /** Marks an acknowledgement in {@link Op#deadlineSeconds}. */
  static final int ACK = -1;

  /** How long {@link #close()} waits for abandoned pulls to answer and be handed back. */
  static final Duration ABANDONED_PULL_WAIT = Duration.ofSeconds(2);

  record Op(String subscription, String ackId, int deadlineSeconds) {}

  private record Key(String subscription, int deadlineSeconds) {}

  private final PubSubClient client;
  private final LinkedBlockingQueue<Op> queue = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean closed;

  /** One per abandoned pull still out: done once what it brought is queued for a nack. */
  private final Set<CompletableFuture<Void>> abandonedPulls = ConcurrentHashMap.newKeySet();

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

  /**
   * Hands back at once (a nack) whatever {@code pull} brings, when it answers: for a pull whose
   * caller stopped waiting (the consumer or the delay pump is stopping), so no message it brings
   * waits out its ack deadline leased to no one. Cancelling the pull instead would lose what the
   * server had already sent: those messages come back only when their deadline lapses.
   */
  void handBackWhenAnswered(String subscription, ApiFuture<PullResponse> pull) {
    CompletableFuture<Void> handedBack = new CompletableFuture<>();
    abandonedPulls.add(handedBack);
    ApiFutures.addCallback(
        pull,
        new ApiFutureCallback<PullResponse>() {
          @Override
          public void onSuccess(PullResponse response) {
            List<String> ackIds =
                response.getReceivedMessagesList().stream().map(ReceivedMessage::getAckId).toList();
            if (!ackIds.isEmpty()) {
              handBack(subscription, ackIds);
            }
            done();
          }

          @Override
          public void onFailure(Throwable t) {
            done(); // a failed pull leased nothing
          }

          private void done() {
            handedBack.complete(null);
            abandonedPulls.remove(handedBack);
          }
        },
        Runnable::run); // it only enqueues, or starts a request without waiting for it
  }

  /**
   * Nacks {@code ackIds}: queued while the settler runs; sent at once by a request of its own when
   * it closed (and also when it closed while they were queued: a second nack is harmless, a lost
   * one leaves the messages leased to no one until their deadline).
   */
  private void handBack(String subscription, List<String> ackIds) {
    if (!closed) {
      for (String ackId : ackIds) {
        modifyDeadline(subscription, ackId, 0);
      }
      if (!closed) {
        return;
      }
    }
    try {
      ApiFutures.addCallback(
          client.modifyAckDeadlineAsync(subscription, ackIds, 0),
          new ApiFutureCallback<Object>() {
            @Override
            public void onSuccess(Object answer) {}

            @Override
            public void onFailure(Throwable t) {
              log.debug(
                  "Handing back {} message(s) of {} after close failed: {}",
                  ackIds.size(),
                  subscription,
                  t.toString());
            }
          },
          Runnable::run);
    } catch (RuntimeException e) { // the broker's own channel is closed: nothing left to do
      log.debug(
          "Handing back {} message(s) of {} after close failed: {}",
          ackIds.size(),
          subscription,
          e.toString());
    }
  }

  /** Abandoned pulls that have not answered yet. */
  int abandonedPulls() {
    return abandonedPulls.size();
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

  /**
   * Waits up to {@link #ABANDONED_PULL_WAIT} for abandoned pulls to answer, sends what is queued,
   * waiting up to a few seconds, then stops.
   */
  @Override
  public void close() {
    if (!abandonedPulls.isEmpty()) {
      try {
        CompletableFuture.allOf(abandonedPulls.toArray(CompletableFuture[]::new))
            .get(ABANDONED_PULL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        log.debug("{} abandoned pull(s) still out at close", abandonedPulls.size());
      }
    }
    closed = true;
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    thread.interrupt();
  }
}
