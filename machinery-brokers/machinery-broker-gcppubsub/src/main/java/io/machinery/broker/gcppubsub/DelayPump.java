package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutureCallback;
import com.google.api.core.ApiFutures;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import com.google.pubsub.v1.ReceivedMessage;
import io.machinery.MachineryException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves delayed messages (an ETA in the future, a retry later, a requeue after a delay) from the
 * delay topic to their task topic when they are due: a real delay, unlike Go's {@code
 * DelayThreshold}, which only holds the message in the sending process's batch (Go issue #404).
 *
 * <p>Design notes. A delayed message is published to the delay topic with its due time ({@value
 * GcpPubSubBroker#ETA_ATTRIBUTE}, epoch milliseconds) and its task topic ({@value
 * GcpPubSubBroker#TOPIC_ATTRIBUTE}) as attributes; every broker that runs a consumer pulls the
 * delay subscription and, for each message:
 *
 * <ul>
 *   <li>due: publishes its data to the task topic, then acknowledges it;
 *   <li>due within {@link #HOLD_MILLIS}: holds it, with its ack deadline set past the due time, and
 *       publishes it at the due time (checked against the clock again, so never early);
 *   <li>due later: parks it on the server by setting its ack deadline to about its due time minus
 *       the hold window (at most {@link #MAX_PARK_SECONDS}), so Pub/Sub hands it out again shortly
 *       before it is due. A message published more than {@link #REFRESH_AFTER_SECONDS} ago is
 *       instead refreshed: published again to the delay topic and the old copy acknowledged, so no
 *       message outlives the server's retention window (the pstest fake drops messages left
 *       undelivered for 10 minutes; Pub/Sub keeps them 7 days by default).
 * </ul>
 *
 * <p>Bursts. The due and the refreshed messages of one pull are published side by side ({@link
 * #republishAll}), so hundreds take about one round trip, not one each. Held messages that fall due
 * together are started one after the other by the broker's one due-thread, each publish answered
 * asynchronously. Every publish of the pump takes a place in one {@link PublishWindow} of {@link
 * PublishWindow#MAX_IN_FLIGHT}: a burst of any size has at most that many publishes in flight and
 * no thread per message; the rest waits its turn (the pump's thread, or the due-thread, waits for a
 * place; the broker's scheduler, which extends leases, never does). Each message is acknowledged
 * only once Pub/Sub has accepted its copy.
 *
 * <p>Everything lives in Pub/Sub, so delays survive the exit of every process: a held or parked
 * message whose broker died comes back when its deadline lapses (then at most about 10 s late) and
 * the next pump moves it. Publishing before acknowledging makes a crash in between a duplicate,
 * never a loss. The same message may reach two pumps only when a lease lapses, so duplicates are
 * rare; workers are at-least-once anyway.
 */
final class DelayPump {
  private static final Logger log = LoggerFactory.getLogger(DelayPump.class);
  static final long HOLD_MILLIS = 20_000;
  static final int HOLD_MARGIN_SECONDS = 10;
  static final int MAX_PARK_SECONDS = 300;
  static final long REFRESH_AFTER_SECONDS = 240;
  static final int PULL_SIZE = 500;

  /** How long {@link #close()} waits for publishes in flight to be answered. */
  static final Duration PUBLISHES_ANSWER_WAIT = Duration.ofSeconds(2);

  private final GcpPubSubBroker broker;
  private final String subscription;
  private final Map<String, ReceivedMessage> held = new ConcurrentHashMap<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final PublishWindow window = new PublishWindow(PublishWindow.MAX_IN_FLIGHT);
  private final Thread thread;

  DelayPump(GcpPubSubBroker broker, String subscription) {
    this.broker = broker;
    this.subscription = subscription;
    this.thread = Thread.ofPlatform().daemon().name("machinery-pubsub-delays").start(this::run);
  }

  private void run() {
    int failures = 0;
    while (running.get()) {
      @SuppressWarnings("deprecation")
      PullRequest request =
          PullRequest.newBuilder()
              .setSubscription(broker.client().subscriptionName(subscription))
              .setMaxMessages(PULL_SIZE)
              .setReturnImmediately(false)
              .build();
      ApiFuture<PullResponse> future = null;
      try {
        // inside the try: a stub may throw instead of failing the future, and a pump whose thread
        // ended would never move a delayed task again
        future = broker.client().subscriber().pullCallable().futureCall(request);
        List<Republish> burst = new ArrayList<>();
        for (ReceivedMessage m : future.get().getReceivedMessagesList()) {
          if (running.get()) {
            handle(m, burst);
          } else {
            broker
                .settler()
                .modifyDeadline(subscription, m.getAckId(), 0); // closing: hand it back at once
          }
        }
        republishAll(burst);
        failures = 0;
      } catch (InterruptedException e) {
        if (future != null) {
          // closing: not cancelled, which would strand what the server already sent until its
          // deadline lapses (a delayed task late by that much); whatever it brings goes back
          broker.settler().handBackWhenAnswered(subscription, future);
        }
        return;
      } catch (ExecutionException | RuntimeException | Error e) { // an Error too, as above
        if (++failures == 1) {
          log.warn(
              "Pulling delayed messages from {} failed: {}; retrying",
              subscription,
              e.getMessage());
        }
        broker.recreateIfGone(
            subscription, broker.delayTopic(), e.getCause() == null ? e : e.getCause());
        try {
          Thread.sleep(
              Math.min(
                  5_000,
                  100L
                      << Math.min(
                          failures, 6))); // back-off between retries, not a wait for an outcome
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  /**
   * A pulled message to publish again: a due one to its task topic, or an old one refreshed on the
   * delay topic (with its attributes).
   */
  private record Republish(ReceivedMessage received, String topic, boolean refresh) {}

  /** Sorts one pulled message: due now or to refresh into {@code burst}, else held or parked. */
  private void handle(ReceivedMessage received, List<Republish> burst) {
    PubsubMessage m = received.getMessage();
    String topic = m.getAttributesOrDefault(GcpPubSubBroker.TOPIC_ATTRIBUTE, "");
    long due;
    try {
      due = Long.parseLong(m.getAttributesOrDefault(GcpPubSubBroker.ETA_ATTRIBUTE, ""));
    } catch (NumberFormatException e) {
      due = Long.MIN_VALUE;
    }
    if (topic.isEmpty() || due == Long.MIN_VALUE) {
      deadLetter(
          received,
          "a message on the delay topic needs the attributes "
              + GcpPubSubBroker.TOPIC_ATTRIBUTE
              + " and "
              + GcpPubSubBroker.ETA_ATTRIBUTE
              + " (epoch milliseconds), it had "
              + m.getAttributesMap());
      return;
    }
    long remaining = due - broker.clock().millis();
    if (remaining <= 0) {
      burst.add(new Republish(received, topic, false));
    } else if (remaining <= HOLD_MILLIS) {
      held.put(received.getAckId(), received);
      setDeadline(received, (int) (remaining / 1000) + 1 + HOLD_MARGIN_SECONDS);
      broker.schedule(() -> due(received, topic), remaining);
    } else if (m.getPublishTime().getSeconds()
        < broker.clock().instant().getEpochSecond() - REFRESH_AFTER_SECONDS) {
      burst.add(new Republish(received, broker.delayTopic(), true));
    } else {
      int park =
          (int)
              Math.max(
                  HOLD_MARGIN_SECONDS,
                  Math.min(MAX_PARK_SECONDS, (remaining - HOLD_MILLIS / 2) / 1000));
      broker.settler().modifyDeadline(subscription, received.getAckId(), park);
    }
  }

  /**
   * The scheduled end of a hold, on the broker's due-thread: starts moving the message when its
   * time has come by the broker's clock, and returns without waiting for Pub/Sub (only for a place
   * in the {@link PublishWindow}). The message is acknowledged once its copy is accepted; one whose
   * publish fails goes back to the delay subscription at once, and the next pull moves it as any
   * due message ({@link #move}: its topic created again, a dead letter, or another try later), so
   * no failure waits on the due-thread that starts every held publish.
   */
  private void due(ReceivedMessage received, String topic) {
    String ackId = received.getAckId();
    if (!running.get() || !held.containsKey(ackId)) {
      return;
    }
    long due =
        Long.parseLong(received.getMessage().getAttributesOrThrow(GcpPubSubBroker.ETA_ATTRIBUTE));
    long remaining = due - broker.clock().millis();
    if (remaining > 0) {
      broker.schedule(
          () -> due(received, topic), remaining); // the scheduler woke early by the broker's clock
      return;
    }
    try {
      window.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // the broker is closing: close() hands it back
      return;
    }
    if (!running.get() || held.remove(ackId) == null) {
      window.release(); // close() handed it back meanwhile: moving it too would make it run twice
      return;
    }
    byte[] data = received.getMessage().getData().toByteArray();
    ApiFutures.addCallback(
        window.launch(() -> broker.startPublishNow(topic, data)),
        new ApiFutureCallback<String>() {
          @Override
          public void onSuccess(String messageId) {
            broker.settler().ack(subscription, ackId);
          }

          @Override
          public void onFailure(Throwable t) {
            log.debug(
                "Publishing a held message to {} failed ({}); moving it again",
                topic,
                t.toString());
            broker.settler().modifyDeadline(subscription, ackId, 0);
          }
        },
        Runnable::run); // only enqueues
  }

  /**
   * Publishes the due and the refreshed messages of one pull: every publish is started before any
   * is waited for (they travel side by side on the channel, up to the {@link PublishWindow}'s
   * bound), so a burst of hundreds takes about one round trip, not one per message, well within the
   * lease the pull gave them (nothing extends it). Each message is acknowledged only once Pub/Sub
   * has accepted its copy; a due one whose publish fails goes {@link #move}'s way (its topic
   * created again, a dead letter, or another try later), a refreshed one comes back to be tried
   * again.
   */
  private void republishAll(List<Republish> burst) {
    List<ApiFuture<String>> publishes = new ArrayList<>(burst.size());
    try {
      for (Republish r : burst) {
        publishes.add(window.start(() -> startRepublish(r)));
      }
    } catch (InterruptedException e) {
      // closing while the window is full: what was not started goes back at once
      for (Republish r : burst.subList(publishes.size(), burst.size())) {
        broker.settler().modifyDeadline(subscription, r.received().getAckId(), 0);
      }
      Thread.currentThread().interrupt();
    }
    for (int i = 0; i < publishes.size(); i++) {
      Republish r = burst.get(i);
      if (accepted(publishes.get(i))) {
        broker.settler().ack(subscription, r.received().getAckId());
      } else if (r.refresh()) {
        log.warn(
            "Could not refresh a delayed message on {}; trying again in {} s",
            broker.delayTopic(),
            HOLD_MARGIN_SECONDS);
        setDeadline(r.received(), HOLD_MARGIN_SECONDS);
      } else {
        move(r.received(), r.topic());
      }
    }
  }

  private ApiFuture<String> startRepublish(Republish r) {
    PubsubMessage m = r.received().getMessage();
    return r.refresh()
        ? broker.client().publishAsync(r.topic(), m.getData().toByteArray(), m.getAttributesMap())
        : broker.startPublishNow(r.topic(), m.getData().toByteArray());
  }

  /**
   * Whether a publish succeeded, waiting through interrupts (close() interrupts): a message whose
   * copy may still reach its topic must not be handed back, or it would run twice.
   */
  private static boolean accepted(ApiFuture<String> publish) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          publish.get();
          return true;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException | CancellationException e) {
          return false;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void move(ReceivedMessage received, String topic) {
    try {
      broker.publishNow(topic, received.getMessage().getData().toByteArray());
      broker.settler().ack(subscription, received.getAckId());
    } catch (MissingTopicException e) {
      deadLetter(received, e.getMessage());
    } catch (RuntimeException e) {
      log.warn(
          "Could not move a due message to topic {} ({}); trying again in {} s",
          topic,
          e.getMessage(),
          HOLD_MARGIN_SECONDS);
      setDeadline(received, HOLD_MARGIN_SECONDS);
    }
  }

  private void deadLetter(ReceivedMessage received, @Nullable String reason) {
    try {
      broker.publishDeadLetter(
          broker.delayTopic(), subscription, received.getMessage(), String.valueOf(reason));
      broker.settler().ack(subscription, received.getAckId());
    } catch (RuntimeException e) {
      log.error(
          "Could not dead-letter a message of {} ({}); it comes back in {} s",
          subscription,
          e.getMessage(),
          PubSubDelivery.DEAD_LETTER_FALLBACK_SECONDS);
      setDeadline(received, PubSubDelivery.DEAD_LETTER_FALLBACK_SECONDS);
    }
  }

  private void setDeadline(ReceivedMessage received, int seconds) {
    broker.settler().modifyDeadline(subscription, received.getAckId(), Math.min(600, seconds));
  }

  /**
   * Stops pulling and hands the held messages back, so another broker's pump moves them on time.
   * The pull under way is left to finish (up to 2 s) and what it brings goes straight back:
   * cancelling it would strand whatever the server already handed to it until its ack deadline
   * lapses, making a delay late by that much. Publishes still in flight are given up to {@link
   * #PUBLISHES_ANSWER_WAIT} to be answered, so their acknowledgements reach the settler before it
   * closes (one that answers later is delivered again: a duplicate, never a loss).
   */
  void close() {
    running.set(false);
    try {
      if (!thread.join(Duration.ofSeconds(2))) {
        thread.interrupt();
        thread.join(TimeUnit.SECONDS.toMillis(3));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (String ackId : held.keySet()) {
      if (held.remove(ackId) != null) {
        broker.settler().modifyDeadline(subscription, ackId, 0);
      }
    }
    try {
      if (!window.awaitIdle(PUBLISHES_ANSWER_WAIT)) {
        log.debug("Publishes of delayed messages still in flight at close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A task topic that does not exist (and may not be created). */
  static final class MissingTopicException extends MachineryException {
    MissingTopicException(String message) {
      super(message);
    }
  }
}
