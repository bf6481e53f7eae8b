package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutureCallback;
import com.google.api.core.ApiFutures;
import com.google.api.gax.rpc.ApiException;
import com.google.api.gax.rpc.NotFoundException;
import com.google.api.gax.rpc.StatusCode;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import com.google.pubsub.v1.ReceivedMessage;
import io.machinery.MachineryException;
import io.machinery.internal.Causes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
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
 * <p>Bursts. Messages moved together are published in batches: the due and the refreshed messages
 * of one pull ({@link #republishAll}), and held messages falling due within {@link
 * #BATCH_LINGER_MILLIS} of each other ({@link #publishReady}), go to each topic in requests of up
 * to Pub/Sub's 1,000 messages or 4 MiB ({@link PubSubClient#inPublishRequests}), started side by
 * side: 100,000 held tasks of one topic falling due together cost about 100 requests, not 100,000
 * (a pull's burst, at most {@link #PULL_SIZE}, one request per topic). Every request takes a place
 * in one {@link PublishWindow} of {@link PublishWindow#MAX_IN_FLIGHT}: a burst of any size has at
 * most that many requests in flight and no thread per message; the rest waits its turn (the pump's
 * thread, or the broker's one due-thread, waits for a place; the broker's scheduler, which extends
 * leases, never does). Each message is acknowledged only once Pub/Sub has accepted the request that
 * carried its copy. A failed request of held messages hands them back at once (the next pull moves
 * them); a failed request of a pull's burst is tried again in halves when one message may be the
 * cause, else comes back as a whole after {@link #HOLD_MARGIN_SECONDS} ({@link #afterFailure}):
 * never one waited publish per message, which for a burst of 500 on a 30 ms round trip would
 * outlast a 10 s lease.
 *
 * <p>Leases of held messages. A held message is leased until {@link #HOLD_MARGIN_SECONDS} (and a
 * second) after it is due; the pump records that end ({@link Held#leaseEnd}, by the broker's
 * clock). When a message's turn to be published comes less than {@link #LEASE_MARGIN_MILLIS} before
 * that end (it waited for the window that long), it is not published but handed back (left alone
 * when the lease has already lapsed): Pub/Sub delivers it again, due, and the next pull moves it
 * under a fresh lease. Publishing it instead would publish it twice, once here and once from the
 * redelivery the lapsed lease causes. Extending the leases of waiting messages would do too, but
 * needs a timer over an unbounded backlog and a request per 1,000 waiting messages per round, and
 * still races the last extension against the publish; the check costs one comparison, and a message
 * handed back is late by about one pull.
 *
 * <p>Leases of pulled messages. A message due (or to refresh) when pulled is published under the
 * lease the pull gave it, taken to be Pub/Sub's shortest ack deadline ({@link
 * #MIN_ACK_DEADLINE_SECONDS}): a pull leases for the delay subscription's deadline as it is then,
 * and its owner may have shortened it since anyone read it ({@code gcloud pubsub subscriptions
 * update --ack-deadline}), so a figure read earlier could promise a lease longer than the pull
 * gave. The same check applies before each of its requests starts ({@link #leasedLongEnough}): the
 * burst may wait for a window full of held publishes, and a failed request's parts are tried in
 * later rounds. A message published after its lease ended would be published again by whichever
 * pump Pub/Sub redelivers it to.
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

  /**
   * How long a held message that falls due waits for others falling due with it, so they share a
   * request: Go's Pub/Sub client's default {@code DelayThreshold}.
   */
  static final long BATCH_LINGER_MILLIS = 10;

  /**
   * A held message whose lease ends within this of its turn is handed back instead of published:
   * time for the publish to be answered and the acknowledgement to arrive while the lease lasts.
   */
  static final long LEASE_MARGIN_MILLIS = 5_000;

  /**
   * The lease a pull of the delay subscription is taken to give its messages: Pub/Sub's shortest
   * ack deadline, so a lease is never thought longer than it is, whatever the subscription's
   * deadline is now (see the design notes).
   */
  static final int MIN_ACK_DEADLINE_SECONDS = PubSubClient.MIN_ACK_DEADLINE_SECONDS;

  /** How long {@link #close()} waits for publishes in flight to be answered. */
  static final Duration PUBLISHES_ANSWER_WAIT = Duration.ofSeconds(2);

  private final GcpPubSubBroker broker;
  private final String subscription;

  /** Held messages by ack ID: removed by whoever moves one or hands it back (never both). */
  private final Map<String, Held> held = new ConcurrentHashMap<>();

  /** Held messages fallen due, waiting for {@link #publishReady}. */
  private final Queue<Held> ready = new ConcurrentLinkedQueue<>();

  /** Whether a {@link #publishReady} is scheduled that has not started yet. */
  private final AtomicBoolean publishScheduled = new AtomicBoolean();

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
        List<ReceivedMessage> pulled = future.get().getReceivedMessagesList();
        // Pub/Sub leased them when it answered, so a little before now: the margin covers that
        long leaseEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(MIN_ACK_DEADLINE_SECONDS);
        List<Republish> burst = new ArrayList<>();
        for (ReceivedMessage m : pulled) {
          if (running.get()) {
            handle(m, leaseEnd, burst);
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
   * A pulled message to publish again: a due one to its task topic (Go's message: its data only),
   * or an old one refreshed on the delay topic (with its attributes); its lease, from the pull,
   * ends at {@code leaseEndNanos} ({@link System#nanoTime()}).
   */
  private record Republish(
      ReceivedMessage received, String topic, boolean refresh, long leaseEndNanos) {
    String ackId() {
      return received.getAckId();
    }

    PubsubMessage copy() {
      PubsubMessage m = received.getMessage();
      PubsubMessage.Builder copy = PubsubMessage.newBuilder().setData(m.getData());
      return refresh ? copy.putAllAttributes(m.getAttributesMap()).build() : copy.build();
    }
  }

  /** Where {@link #republishAll} sends a message: its topic, and whether as a refresh. */
  private record Destination(String topic, boolean refresh) {}

  /**
   * A held message: its task topic, when it is due and when the lease the pump asked for ends
   * (epoch milliseconds by the broker's clock; the lease Pub/Sub keeps starts when the request
   * reaches it, so it ends no earlier).
   */
  private record Held(ReceivedMessage received, String topic, long due, long leaseEnd) {
    String ackId() {
      return received.getAckId();
    }

    PubsubMessage copy() {
      return PubsubMessage.newBuilder().setData(received.getMessage().getData()).build();
    }
  }

  /** Sorts one pulled message: due now or to refresh into {@code burst}, else held or parked. */
  private void handle(ReceivedMessage received, long leaseEnd, List<Republish> burst) {
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
    long now = broker.clock().millis();
    long remaining = due - now;
    if (remaining <= 0) {
      burst.add(new Republish(received, topic, false, leaseEnd));
    } else if (remaining <= HOLD_MILLIS) {
      int leaseSeconds = (int) (remaining / 1000) + 1 + HOLD_MARGIN_SECONDS;
      Held h = new Held(received, topic, due, now + leaseSeconds * 1000L);
      held.put(h.ackId(), h);
      setDeadline(received, leaseSeconds);
      broker.schedule(() -> due(h), remaining);
    } else if (m.getPublishTime().getSeconds()
        < broker.clock().instant().getEpochSecond() - REFRESH_AFTER_SECONDS) {
      burst.add(new Republish(received, broker.delayTopic(), true, leaseEnd));
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
   * The scheduled end of a hold, on the broker's due-thread: when the message's time has come by
   * the broker's clock, queues it for {@link #publishReady}, scheduled {@link #BATCH_LINGER_MILLIS}
   * after the first message of a batch falls due, so those falling due with it share its requests.
   */
  private void due(Held h) {
    if (!running.get() || !held.containsKey(h.ackId())) {
      return;
    }
    long remaining = h.due() - broker.clock().millis();
    if (remaining > 0) {
      broker.schedule(() -> due(h), remaining); // the scheduler woke early by the broker's clock
      return;
    }
    ready.add(h);
    if (publishScheduled.compareAndSet(false, true)) {
      broker.schedule(this::publishReady, BATCH_LINGER_MILLIS);
    }
  }

  /**
   * Publishes the held messages fallen due, on the broker's due-thread: per task topic, in as few
   * requests as Pub/Sub's limits allow, each started when it has a place in the {@link
   * PublishWindow} and answered asynchronously. Once a request has its place, a message whose lease
   * ends within {@link #LEASE_MARGIN_MILLIS} is handed back instead (see the design notes). The
   * messages of a request are acknowledged once Pub/Sub accepted it; those of a request that fails
   * go back to the delay subscription at once, and the next pull moves them as any due message
   * ({@link #move}: its topic created again, a dead letter, or another try later), so no failure
   * waits on the due-thread that starts every held publish.
   */
  private void publishReady() {
    publishScheduled.set(false); // what falls due from now on schedules another run
    Map<String, List<Held>> byTopic = new LinkedHashMap<>();
    for (Held h = ready.poll(); h != null; h = ready.poll()) {
      byTopic.computeIfAbsent(h.topic(), t -> new ArrayList<>()).add(h);
    }
    for (Map.Entry<String, List<Held>> topic : byTopic.entrySet()) {
      for (List<Held> request :
          broker.client().inPublishRequests(topic.getKey(), topic.getValue(), Held::copy)) {
        try {
          window.acquire();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt(); // the broker is closing: close() hands them back
          return;
        }
        if (!running.get()) {
          window.release(); // close() hands back what is held
          return;
        }
        List<Held> sending = stillLeased(request);
        if (sending.isEmpty()) {
          window.release();
        } else {
          publishHeld(topic.getKey(), sending);
        }
      }
    }
  }

  /**
   * The messages of {@code request} to publish now, each taken out of {@link #held}: not those
   * close() handed back meanwhile (moving them too would make them run twice), nor those whose
   * lease is about to end or has ended, which are handed back or left to Pub/Sub's redelivery.
   */
  private List<Held> stillLeased(List<Held> request) {
    long now = broker.clock().millis();
    List<Held> sending = new ArrayList<>(request.size());
    for (Held h : request) {
      if (held.remove(h.ackId()) == null) {
        continue;
      }
      if (now <= h.leaseEnd() - LEASE_MARGIN_MILLIS) {
        sending.add(h);
      } else {
        log.debug(
            "A held message waited to within {} ms of its lease's end; handing it back",
            h.leaseEnd() - now);
        if (now < h.leaseEnd()) {
          broker.settler().modifyDeadline(subscription, h.ackId(), 0);
        }
      }
    }
    return sending;
  }

  /** Starts one request in the place taken in the window; settles its messages when answered. */
  private void publishHeld(String topic, List<Held> sending) {
    ApiFutures.addCallback(
        window.launch(
            () -> broker.startPublishNow(topic, sending.stream().map(Held::copy).toList())),
        new ApiFutureCallback<List<String>>() {
          @Override
          public void onSuccess(List<String> messageIds) {
            for (Held h : sending) {
              broker.settler().ack(subscription, h.ackId());
            }
          }

          @Override
          public void onFailure(Throwable t) {
            log.debug(
                "Publishing {} held message(s) to {} failed ({}); moving them again",
                sending.size(),
                topic,
                t.toString());
            for (Held h : sending) {
              broker.settler().modifyDeadline(subscription, h.ackId(), 0);
            }
          }
        },
        Runnable::run); // only enqueues
  }

  /**
   * Publishes the due and the refreshed messages of one pull: per topic, in as few requests as
   * Pub/Sub's limits allow, every request started before any is waited for (they travel side by
   * side on the channel, up to the {@link PublishWindow}'s bound), so a pull's burst takes about
   * one round trip. Nothing extends the lease the pull gave: a request whose turn in the window
   * comes less than {@link #LEASE_MARGIN_MILLIS} before that lease ends hands its messages back
   * instead, as a held message's does ({@link #leasedLongEnough}). Each message is acknowledged
   * only once Pub/Sub has accepted the request that carried its copy. A request that fails is
   * retried in halves ({@link #afterFailure}), so one message Pub/Sub refuses costs its burst a few
   * rounds of requests, not one waited publish per message.
   */
  private void republishAll(List<Republish> burst) {
    Map<Destination, List<Republish>> byTopic = new LinkedHashMap<>();
    for (Republish r : burst) {
      byTopic
          .computeIfAbsent(new Destination(r.topic(), r.refresh()), d -> new ArrayList<>())
          .add(r);
    }
    List<List<Republish>> requests = new ArrayList<>();
    for (Map.Entry<Destination, List<Republish>> group : byTopic.entrySet()) {
      requests.addAll(
          broker
              .client()
              .inPublishRequests(group.getKey().topic(), group.getValue(), Republish::copy));
    }
    while (!requests.isEmpty()) {
      requests = publishRound(requests);
    }
  }

  /**
   * Starts every request of {@code requests} side by side, each once it has a place in the window
   * and with only its messages still leased long enough, waits for their answers, acknowledges what
   * was accepted, and returns the requests to try next: parts of those that failed. Closing, it
   * returns none and hands back whatever it did not start.
   */
  private List<List<Republish>> publishRound(List<List<Republish>> requests) {
    List<List<Republish>> sent = new ArrayList<>(requests.size());
    List<ApiFuture<List<String>>> publishes = new ArrayList<>(requests.size());
    int started = 0;
    try {
      for (List<Republish> request : requests) {
        window.acquire();
        started++;
        List<Republish> live = leasedLongEnough(request);
        if (live.isEmpty()) {
          window.release();
        } else {
          sent.add(live);
          publishes.add(window.launch(() -> startRepublish(live)));
        }
      }
    } catch (InterruptedException e) {
      // closing while the window is full: what was not started goes back at once
      requests.subList(started, requests.size()).forEach(this::handBack);
      Thread.currentThread().interrupt();
    }
    List<List<Republish>> next = new ArrayList<>();
    for (int i = 0; i < publishes.size(); i++) {
      List<Republish> request = sent.get(i);
      Throwable failure = failureOf(publishes.get(i));
      if (failure == null) {
        for (Republish r : request) {
          broker.settler().ack(subscription, r.ackId());
        }
      } else {
        next.addAll(afterFailure(request, failure));
      }
    }
    if (!next.isEmpty() && (!running.get() || Thread.currentThread().isInterrupted())) {
      next.forEach(this::handBack); // closing: another pump moves them
      return List.of();
    }
    return next;
  }

  /**
   * What follows a failed request of a pull's burst; returns the requests to try in the next round.
   * A refresh is tried again after {@link #HOLD_MARGIN_SECONDS}. A task topic that is gone is
   * handled by moving one message on its own ({@link #move}: the topic created again, when the
   * broker may, and then the rest in one request; else a dead letter, and the rest dead-lettered in
   * as few requests, {@link #deadLetterAll}). A request that Pub/Sub could have refused for one of
   * its messages (an invalid argument, or an unknown failure) is tried again in halves, down to
   * that message alone, which then comes back after {@link #HOLD_MARGIN_SECONDS} (its failure
   * logged); any other failure (Pub/Sub unavailable, too slow, refusing the topic) would fail every
   * part alike, so the whole request comes back after {@link #HOLD_MARGIN_SECONDS}.
   */
  private List<List<Republish>> afterFailure(List<Republish> request, Throwable failure) {
    Republish first = request.get(0);
    if (first.refresh()) {
      log.warn(
          "Could not refresh {} delayed message(s) on {}; trying again in {} s",
          request.size(),
          broker.delayTopic(),
          HOLD_MARGIN_SECONDS);
      tryAgainLater(request);
      return List.of();
    }
    if (Causes.of(failure).stream().anyMatch(c -> c instanceof NotFoundException)) {
      List<Republish> rest = request.subList(1, request.size());
      Moved moved = move(first);
      return switch (moved.outcome()) {
        case MOVED -> rest.isEmpty() ? List.of() : List.of(rest);
        case DEAD_LETTERED -> {
          deadLetterAll(rest, moved.deadLetterReason());
          yield List.of();
        }
        case NOT_MOVED -> {
          tryAgainLater(rest);
          yield List.of();
        }
      };
    }
    if (request.size() > 1 && maybeOneMessage(failure)) {
      log.debug(
          "Publishing {} due message(s) to {} failed ({}); trying again in halves",
          request.size(),
          first.topic(),
          failure.toString());
      int half = request.size() / 2;
      return List.of(request.subList(0, half), request.subList(half, request.size()));
    }
    log.warn(
        "Could not move {} due message(s) to topic {} ({}); trying again in {} s",
        request.size(),
        first.topic(),
        failure.toString(),
        HOLD_MARGIN_SECONDS);
    tryAgainLater(request);
    return List.of();
  }

  /**
   * Whether Pub/Sub may have refused a request for one of its messages, so its parts may go
   * through: an invalid argument, or a failure that is not Pub/Sub's answer at all.
   */
  private static boolean maybeOneMessage(Throwable failure) {
    return Causes.of(failure).stream()
        .filter(c -> c instanceof ApiException)
        .map(c -> ((ApiException) c).getStatusCode().getCode())
        .findFirst()
        .map(code -> code == StatusCode.Code.INVALID_ARGUMENT)
        .orElse(true);
  }

  /**
   * The messages of {@code request} whose lease from their pull lasts at least {@link
   * #LEASE_MARGIN_MILLIS} more: the rest are handed back (left alone when the lease has already
   * ended), so Pub/Sub delivers them again and the next pull moves them; publishing them would
   * publish them twice, once here and once from that redelivery.
   */
  private List<Republish> leasedLongEnough(List<Republish> request) {
    long now = System.nanoTime();
    long margin = TimeUnit.MILLISECONDS.toNanos(LEASE_MARGIN_MILLIS);
    List<Republish> live = new ArrayList<>(request.size());
    int handedBack = 0;
    for (Republish r : request) {
      long left = r.leaseEndNanos() - now;
      if (left >= margin) {
        live.add(r);
      } else {
        handedBack++;
        if (left > 0) {
          broker.settler().modifyDeadline(subscription, r.ackId(), 0);
        }
      }
    }
    if (handedBack > 0) {
      log.debug(
          "{} pulled delayed message(s) for {} waited to within {} ms of their lease's end; handing"
              + " them back",
          handedBack,
          request.get(0).topic(),
          LEASE_MARGIN_MILLIS);
    }
    return live;
  }

  /** Hands {@code request}'s messages back at once: Pub/Sub delivers them again. */
  private void handBack(List<Republish> request) {
    for (Republish r : request) {
      broker.settler().modifyDeadline(subscription, r.ackId(), 0);
    }
  }

  /** Lets {@code request}'s messages come back after {@link #HOLD_MARGIN_SECONDS}. */
  private void tryAgainLater(List<Republish> request) {
    for (Republish r : request) {
      setDeadline(r.received(), HOLD_MARGIN_SECONDS);
    }
  }

  /** Starts publishing one request of {@link #republishAll}: messages of one topic and kind. */
  private ApiFuture<List<String>> startRepublish(List<Republish> request) {
    Republish first = request.get(0);
    List<PubsubMessage> messages = request.stream().map(Republish::copy).toList();
    return first.refresh()
        ? broker.client().publishAsync(first.topic(), messages)
        : broker.startPublishNow(first.topic(), messages);
  }

  /**
   * Null when a publish succeeded, else why it failed, waiting through interrupts (close()
   * interrupts): a message whose copy may still reach its topic must not be handed back, or it
   * would run twice.
   */
  private static @Nullable Throwable failureOf(ApiFuture<?> publish) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          publish.get();
          return null;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          return e.getCause() == null ? e : e.getCause();
        } catch (CancellationException e) {
          return e;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * What became of a due message {@link #move} tried to publish on its own, and when it was
   * dead-lettered, why.
   */
  private record Moved(Outcome outcome, String deadLetterReason) {
    static final Moved MOVED = new Moved(Outcome.MOVED, "");
    static final Moved NOT_MOVED = new Moved(Outcome.NOT_MOVED, "");

    enum Outcome {
      MOVED,
      DEAD_LETTERED,
      NOT_MOVED
    }
  }

  /**
   * Publishes one due message on its own, waiting for Pub/Sub (its topic created again when gone
   * and the broker may), and acknowledges it; dead-letters it when its topic does not exist; lets
   * it come back after {@link #HOLD_MARGIN_SECONDS} on any other failure. A message whose lease is
   * about to end is handed back instead, as {@link #leasedLongEnough} does.
   */
  private Moved move(Republish due) {
    if (leasedLongEnough(List.of(due)).isEmpty()) {
      return Moved.NOT_MOVED;
    }
    ReceivedMessage received = due.received();
    String topic = due.topic();
    try {
      broker.publishNow(topic, received.getMessage().getData().toByteArray());
      broker.settler().ack(subscription, received.getAckId());
      return Moved.MOVED;
    } catch (MissingTopicException e) {
      String reason = String.valueOf(e.getMessage());
      deadLetter(received, reason);
      return new Moved(Moved.Outcome.DEAD_LETTERED, reason);
    } catch (RuntimeException e) {
      log.warn(
          "Could not move a due message to topic {} ({}); trying again in {} s",
          topic,
          e.getMessage(),
          HOLD_MARGIN_SECONDS);
      setDeadline(received, HOLD_MARGIN_SECONDS);
      return Moved.NOT_MOVED;
    }
  }

  /**
   * Dead-letters the due messages of {@code request}, whose task topic does not exist and may not
   * be created (for {@code reason}), in as few requests as Pub/Sub's limits allow, one after the
   * other, each message acknowledged once the request carrying its dead letter was accepted: not
   * two waited round trips per message (a failed publish and a dead letter), which for a pull of
   * 500 on a 30 ms round trip would outlast a 10 s lease. Messages whose lease is about to end are
   * handed back ({@link #leasedLongEnough}); those of a request that fails come back after {@link
   * #HOLD_MARGIN_SECONDS}, and the next pull tries them again.
   */
  private void deadLetterAll(List<Republish> request, String reason) {
    String deadLetters = broker.deadLetterTopic();
    Function<Republish, PubsubMessage> letterOf =
        r ->
            broker.deadLetterOf(
                broker.delayTopic(), subscription, r.received().getMessage(), reason);
    for (List<Republish> part :
        broker.client().inPublishRequests(deadLetters, leasedLongEnough(request), letterOf)) {
      Throwable failure =
          failureOf(
              broker.client().publishAsync(deadLetters, part.stream().map(letterOf).toList()));
      if (failure == null) {
        for (Republish r : part) {
          broker.settler().ack(subscription, r.ackId());
        }
      } else {
        log.warn(
            "Could not dead-letter {} due message(s) of the missing topic {} ({}); trying again in"
                + " {} s",
            part.size(),
            part.get(0).topic(),
            failure.toString(),
            HOLD_MARGIN_SECONDS);
        tryAgainLater(part);
      }
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
