package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutureCallback;
import com.google.api.core.ApiFutures;
import com.google.protobuf.Timestamp;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.ReceivedMessage;
import io.machinery.MachineryException;
import io.machinery.spi.BrokerClosing;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.LeaseTimeline;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker's pull loop on one subscription.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Flow control.</b> The consumer holds at most {@code limit = max(prefetch, concurrency)}
 *       messages leased at once (handed over and not yet settled, plus waiting in its buffer), and
 *       pulls only the difference: with the default prefetch of 3 and a concurrency of 3 or more,
 *       it never takes more messages than its worker has slots (Go's client takes up to 1000). A
 *       message is handed over only after the worker reserved a slot for it. Messages that wait
 *       longer than {@link #PREFETCH_HOLD} for a slot (every slot runs a long task) are nacked for
 *       idle workers (not counted as deliveries), and the consumer pulls again once a slot is free.
 *   <li><b>Order.</b> Pub/Sub does not keep publish order (the pstest fake hands messages out in
 *       random order), so each pull's messages join a buffer ordered by publish time and the oldest
 *       go first: a small backlog runs in the order it was sent.
 *   <li><b>Leases.</b> Every leased message's ack deadline is extended to the subscription's
 *       deadline (as read when the consumer started) every third of it, but at least every third of
 *       Pub/Sub's shortest deadline ({@link #extensionPeriodMillis}), until it is settled or {@code
 *       GCPPubSub.MaxExtension} after it was pulled; then it is left to lapse, and Pub/Sub delivers
 *       it again (as Go's client does). A pull leases its messages for the deadline the
 *       subscription has now, which its owner may have shortened since the consumer read it ({@code
 *       gcloud pubsub subscriptions update --ack-deadline}); extending that often, the first
 *       extension still comes in time, whatever the deadline is now. Reading it again instead would
 *       leave a window (a change is seen a period late), and no lease error tells of it: Pub/Sub
 *       accepts a ModifyAckDeadline of an expired ack ID without a word. A worker that dies stops
 *       extending, so its messages come back within one ack deadline: at-least-once. A tick
 *       survives anything thrown in it (an {@code Error} included: a periodic task that throws is
 *       never run again), so one failed tick costs nothing while the next succeeds within the
 *       deadline. A tick only sends its ModifyAckDeadline and handles the answer when it comes: the
 *       broker's scheduler thread runs every consumer's ticks and the delay pump's timers, so a
 *       slow answer for one subscription must not hold back the others' extensions (their leases
 *       would lapse under running tasks).
 *   <li><b>Failures.</b> Whatever a pull throws (an {@code Error} included) is reported once to the
 *       worker and retried with back-off; the loop ends only when stopped, or when something else
 *       throws in it: then it reports that the consumption ended ({@link
 *       DeliveryHandler#consumptionEnded}) and the worker starts a new consumer. A handler that
 *       throws on a delivery did not take it ({@link DeliveryHandler#handle}): the message goes
 *       back to Pub/Sub at once and its slot to the worker, with the unused ones (see {@link
 *       #handOver}).
 *   <li><b>Stopping.</b> {@link #stopFetching} ends the loop and nacks the buffered messages (they
 *       are delivered again at once), and what a pull it gave up waiting for brings, when that
 *       arrives; {@link #close()} also nacks the handed-over ones still unsettled. Nothing a
 *       stopped consumer pulled waits out its ack deadline.
 * </ul>
 */
final class PubSubConsumer implements Consumption {
  private static final Logger log = LoggerFactory.getLogger(PubSubConsumer.class);

  /**
   * How long messages fetched ahead wait for a slot before they go back to Pub/Sub (see {@link
   * #fetchLoop}).
   */
  static final Duration PREFETCH_HOLD = Duration.ofSeconds(1);

  /** Pub/Sub's largest pull. */
  static final int MAX_PULL = 1000;

  /** Oldest published first (ties by message ID). */
  static final Comparator<ReceivedMessage> MESSAGE_ORDER =
      Comparator.comparing(
              (ReceivedMessage m) -> m.getMessage().getPublishTime(), PubSubConsumer::compare)
          .thenComparing(m -> m.getMessage().getMessageId());

  static final Comparator<PubSubDelivery> PUBLISH_ORDER =
      Comparator.comparing(PubSubDelivery::message, MESSAGE_ORDER);

  private final GcpPubSubBroker broker;
  private final String tag;
  private final String topic;
  private final String subscription;
  private final DeliveryHandler handler;
  private final int limit;
  private final int ackDeadlineSeconds;
  private final long maxExtensionNanos;
  private final ConcurrentHashMap<String, PubSubDelivery> leases = new ConcurrentHashMap<>();
  private final PriorityQueue<PubSubDelivery> buffer = new PriorityQueue<>(PUBLISH_ORDER);
  private final Semaphore wake = new Semaphore(0);
  private final AtomicBoolean fetching = new AtomicBoolean(true);
  private final AtomicBoolean closed = new AtomicBoolean();
  private @Nullable Thread thread;

  /**
   * The pull under way, if any: stopping waits for it rather than cancel it (see {@link
   * #stopFetching}).
   */
  private volatile @Nullable ApiFuture<com.google.pubsub.v1.PullResponse> inFlight;

  private @Nullable ScheduledFuture<?> extender;

  /** Whether the last lease extension failed (set by ticks and by Pub/Sub's answers). */
  private final AtomicBoolean extensionFailing = new AtomicBoolean();

  PubSubConsumer(
      GcpPubSubBroker broker,
      String tag,
      String topic,
      String subscription,
      DeliveryHandler handler,
      int prefetch,
      int ackDeadlineSeconds,
      Duration maxExtension) {
    this.broker = broker;
    this.tag = tag;
    this.topic = topic;
    this.subscription = subscription;
    this.handler = handler;
    this.limit = Math.max(1, Math.min(MAX_PULL, Math.max(prefetch, handler.capacity())));
    this.ackDeadlineSeconds = ackDeadlineSeconds;
    this.maxExtensionNanos = maxExtension.toNanos();
  }

  GcpPubSubBroker broker() {
    return broker;
  }

  String topic() {
    return topic;
  }

  String subscription() {
    return subscription;
  }

  /**
   * How often leases are extended: every third of the deadline they are extended to, at most every
   * second, and at least every third of Pub/Sub's shortest ack deadline, so that a message pulled
   * under any deadline the subscription may have now is extended before its lease from the pull
   * ends.
   */
  static long extensionPeriodMillis(int ackDeadlineSeconds) {
    int shortest = Math.min(ackDeadlineSeconds, PubSubClient.MIN_ACK_DEADLINE_SECONDS);
    return Math.max(1_000, shortest * 1000L / 3);
  }

  void start() {
    extender =
        broker.scheduleAtFixedRate(this::extendLeases, extensionPeriodMillis(ackDeadlineSeconds));
    thread =
        Thread.ofPlatform()
            .daemon()
            .name("machinery-pubsub-consumer-" + tag)
            .start(this::fetchLoop);
  }

  // ------------------------------------------------------------------------------------------
  // fetching

  private void fetchLoop() {
    int failures = 0;
    try {
      while (fetching.get()) {
        int room = limit - leases.size();
        if (room > 0) {
          List<ReceivedMessage> pulled;
          long pullSent = System.nanoTime();
          try {
            pulled = pull(Math.min(room, MAX_PULL), !buffer.isEmpty());
            if (failures > 0) {
              log.info("Pub/Sub consumer {} pulls from {} again", tag, subscription);
            }
            failures = 0;
          } catch (RuntimeException | Error e) { // not only MachineryException: a loop that
            // ends stops the consumption for good while the worker thinks it runs
            if (++failures == 1) {
              log.warn(
                  "Pub/Sub consumer {} cannot pull from {}: {}; retrying",
                  tag,
                  subscription,
                  e.toString());
              handler.brokerError(e);
            }
            broker.recreateIfGone(subscription, topic, e);
            wake.tryAcquire(Math.min(5_000, 100L << Math.min(failures, 6)), TimeUnit.MILLISECONDS);
            continue;
          }
          long now = System.nanoTime();
          for (ReceivedMessage m : pulled) {
            // the pull leases for the subscription's deadline, which this broker's extensions also
            // assume (the broker makes its subscriptions with it)
            LeaseTimeline hold = LeaseTimeline.of(Duration.ofSeconds(ackDeadlineSeconds));
            hold.renewed(pullSent, now);
            PubSubDelivery d = new PubSubDelivery(this, m, now, hold, pullSent);
            leases.put(d.ackId(), d);
            buffer.add(d);
          }
        }
        if (!fetching.get()) {
          break;
        }
        if (buffer.isEmpty()) {
          if (room <= 0) {
            wake.tryAcquire(
                1, TimeUnit.SECONDS); // every slot's message is running: wait for one to settle
            wake.drainPermits();
          }
          continue; // an empty pull already waited (long poll)
        }
        int slots = handler.reserve(buffer.size(), PREFETCH_HOLD);
        if (!fetching.get()) {
          handler.release(slots);
          break;
        }
        if (slots == 0) {
          // every slot runs a long task: what was fetched ahead goes back to Pub/Sub for idle
          // workers instead of waiting here (until MaxExtension, then going stale); fetch again
          // only once a slot is free
          nackBuffered();
          handler.release(handler.reserve(1));
          continue;
        }
        handOver(slots);
      }
    } catch (InterruptedException e) {
      // stopFetching
    } catch (RuntimeException | Error e) {
      log.error("Pub/Sub consumer {} of {} stopped: {}", tag, subscription, e.toString(), e);
      if (fetching.get()) {
        handler.consumptionEnded(e); // nothing pulls any more: the worker starts a new consumer
      } else {
        handler.brokerError(e);
      }
    } finally {
      Thread.interrupted();
      nackBuffered();
    }
  }

  /**
   * Hands the oldest buffered messages to the worker, one reserved slot each, then gives back the
   * slots not used. Should the handler throw, the message it threw on was not handed over ({@link
   * DeliveryHandler#handle}): it goes back to Pub/Sub at once (ack deadline 0), settled so that
   * nothing the handler may still do with it reaches Pub/Sub, and counted as delivered (toward the
   * worker's poison limit, as on the other brokers); its slot goes back with the unused ones; and
   * the throw ends the loop, which nacks the rest of the buffer and reports the end (the worker
   * starts a new consumer). Before, that message stayed leased, its deadline extended until the
   * consumer closed, and the slots stayed taken.
   */
  private void handOver(int slots) {
    int handedOver = 0;
    try {
      while (handedOver < slots) {
        PubSubDelivery d = buffer.poll();
        if (d == null) {
          break; // not expected: as many slots were asked for as there were buffered messages
        }
        try {
          handler.handle(d);
        } catch (RuntimeException | Error e) {
          log.warn(
              "Pub/Sub consumer {}: the worker's handler threw on message {} of {}: {}; handed it"
                  + " back at once, and its next delivery counts toward the poison limit",
              tag,
              d.message().getMessage().getMessageId(),
              subscription,
              e.toString());
          d.requeue(Duration.ZERO);
          throw e;
        }
        handedOver++;
      }
    } finally {
      handler.release(slots - handedOver);
    }
  }

  private List<ReceivedMessage> pull(int max, boolean returnImmediately)
      throws InterruptedException {
    @SuppressWarnings(
        "deprecation") // still the way to ask for an immediate answer, honoured by both servers
    PullRequest request =
        PullRequest.newBuilder()
            .setSubscription(broker.client().subscriptionName(subscription))
            .setMaxMessages(max)
            .setReturnImmediately(returnImmediately)
            .build();
    if (!fetching.get()) {
      return List.of();
    }
    ApiFuture<com.google.pubsub.v1.PullResponse> future =
        broker.client().subscriber().pullCallable().futureCall(request);
    inFlight = future;
    try {
      return future.get().getReceivedMessagesList();
    } catch (InterruptedException e) {
      // stopping: not cancelled, which would strand what the server already sent until its
      // deadline lapses; whatever it brings goes back at once
      broker.settler().handBackWhenAnswered(subscription, future);
      throw e;
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new MachineryException(
          "pull from Pub/Sub subscription " + subscription + " failed: " + cause.getMessage(),
          cause);
    } finally {
      inFlight = null;
    }
  }

  private void nackBuffered() {
    PubSubDelivery d;
    while ((d = buffer.poll()) != null) {
      leases.remove(d.ackId());
      d.notHandedOver();
      broker.settler().modifyDeadline(subscription, d.ackId(), 0);
    }
  }

  /** A delivery was settled: it no longer needs its lease, and its slot of the limit is free. */
  void settled(PubSubDelivery delivery) {
    leases.remove(delivery.ackId());
    wake.release();
  }

  // ------------------------------------------------------------------------------------------
  // leases

  /**
   * One lease-extension tick. Nothing may escape it: a periodic task that throws is never run
   * again, and every leased message would then come back after its ack deadline while its task
   * still runs. A failure is logged once (with what failed) until a tick succeeds again.
   */
  private void extendLeases() {
    int count = 0;
    try {
      if (leases.isEmpty()) {
        return;
      }
      long now = System.nanoTime();
      List<String> ids = new ArrayList<>(leases.size());
      List<PubSubDelivery> extending = new ArrayList<>(leases.size());
      for (PubSubDelivery d : leases.values()) {
        if (now - d.receivedAtNanos > maxExtensionNanos) {
          if (leases.remove(d.ackId(), d)) {
            log.warn(
                "A message of subscription {} was leased longer than GCPPubSub.MaxExtension ({} s); no"
                    + " longer extending its deadline, so Pub/Sub will deliver it again",
                subscription,
                TimeUnit.NANOSECONDS.toSeconds(maxExtensionNanos));
            wake.release();
          }
        } else {
          ids.add(d.ackId());
          extending.add(d);
        }
      }
      count = ids.size();
      int sending = count;
      long sent = System.nanoTime();
      // sent, not waited for: the scheduler thread is every consumer's and the delay pump's
      ApiFutures.addCallback(
          broker.client().modifyAckDeadlineAsync(subscription, ids, ackDeadlineSeconds),
          new ApiFutureCallback<Object>() {
            @Override
            public void onSuccess(Object answer) {
              extended(extending, sent, System.nanoTime());
            }

            @Override
            public void onFailure(Throwable t) {
              extensionFailed(sending, t);
            }
          },
          Runnable::run); // only bookkeeping and logging
    } catch (Throwable t) { // an Error too: the next tick must still run
      extensionFailed(count, t);
    }
  }

  /** Pub/Sub confirmed the extension of {@code extending}, sent at {@code sent}. */
  private void extended(List<PubSubDelivery> extending, long sent, long confirmed) {
    try {
      int late = 0;
      for (PubSubDelivery d : extending) {
        if (d.extendedAfterALapse(sent, confirmed)) {
          late++;
        }
      }
      if (late > 0) {
        log.warn(
            "Pub/Sub consumer {}: the ack deadlines of {} message(s) of {} were extended too late (the"
                + " request took {} ms; the deadline is {} s): Pub/Sub may have delivered them to"
                + " another worker, which runs them again (this process or Pub/Sub stalled: extensions"
                + " are sent every {} ms)",
            tag,
            late,
            subscription,
            (confirmed - sent) / 1_000_000,
            ackDeadlineSeconds,
            extensionPeriodMillis(ackDeadlineSeconds));
      }
      if (extensionFailing.compareAndSet(true, false)) {
        log.info("Extending the ack deadlines of subscription {} works again", subscription);
      }
    } catch (RuntimeException | Error e) { // on Pub/Sub's callback thread: log, never throw
      log.warn("Recording the lease extensions of {} failed: {}", subscription, e.toString());
    }
  }

  /** A lease extension failed: logged once until one succeeds again. */
  private void extensionFailed(int count, Throwable t) {
    try {
      if (extensionFailing.compareAndSet(false, true)) {
        log.warn(
            "Extending the ack deadline of {} message(s) of subscription {} failed ({}); they come back"
                + " after their deadline ({} s) unless a later tick succeeds; retrying every tick, logged"
                + " again only once it works",
            count,
            subscription,
            t.toString(),
            ackDeadlineSeconds,
            t);
      } else {
        log.debug("Extending ack deadlines of {} still fails: {}", subscription, t.toString());
      }
    } catch (RuntimeException | Error e) {
      // logging failed: nothing left to do, and the caller must not fail
    }
  }

  // ------------------------------------------------------------------------------------------
  // stopping

  /**
   * Ends the loop. A pull under way is left to finish (pstest answers within 0.5 s) and what it
   * brings is nacked: cancelling it instead would strand whatever the server already handed to it
   * until its deadline lapses. Only a loop that waits for a slot, or a pull still running after a
   * second, is interrupted; such a pull is not cancelled either, and what it brings is nacked when
   * it arrives (see {@link Settler#handBackWhenAnswered}).
   */
  @Override
  public void stopFetching(Duration timeout) {
    fetching.set(false);
    Thread t = thread;
    if (t == null || t == Thread.currentThread()) { // the fetch thread itself, when it ended
      return;
    }
    try {
      if (inFlight == null || !t.join(Duration.ofSeconds(1))) {
        t.interrupt();
      }
      t.join(timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The broker closes: see {@link BrokerClosing}. */
  void brokerClosed() {
    BrokerClosing.close(this, fetching.get(), handler, "Pub/Sub", tag, subscription);
  }

  /**
   * Stops fetching, stops extending leases and nacks every message still leased, so it is delivered
   * again now.
   */
  @Override
  public void close() {
    stopFetching(Duration.ofSeconds(5));
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    ScheduledFuture<?> e = extender;
    if (e != null) {
      e.cancel(false);
    }
    for (PubSubDelivery d : leases.values()) {
      if (leases.remove(d.ackId(), d)) {
        broker.settler().modifyDeadline(subscription, d.ackId(), 0);
      }
    }
    broker.forget(this);
  }

  private static int compare(Timestamp a, Timestamp b) {
    int c = Long.compare(a.getSeconds(), b.getSeconds());
    return c != 0 ? c : Integer.compare(a.getNanos(), b.getNanos());
  }
}
