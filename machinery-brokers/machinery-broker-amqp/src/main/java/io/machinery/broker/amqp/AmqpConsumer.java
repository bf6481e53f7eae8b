package io.machinery.broker.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.MachineryException;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.spi.BrokerClosing;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One subscription of a worker to its queue.
 *
 * <p>Design notes. RabbitMQ pushes up to QoS messages onto the subscription's channel; QoS is the
 * worker's concurrency ({@link DeliveryHandler#capacity()}), never more, whatever the configured
 * prefetch: RabbitMQ's {@code consumer_timeout} (default 30 min) counts from the delivery, so a
 * message waiting in a prefetch buffer behind long tasks would time out and close the channel,
 * requeueing every task running on it (F6). The configured prefetch only applies to a handler
 * without a capacity. (A worker that consumes several queues shares its slots among them, so there
 * a message can still wait for a slot behind long tasks.) The client library calls back for each
 * message, in order, on the connection's own thread ({@link AmqpClient.Builder#directDispatch}):
 * with QoS = capacity a delivery nearly always finds a free slot, and is then handed to the worker
 * right there, one thread hand-off fewer per task than a dispatch thread in between (that hop was
 * most of the idle worker's wait at concurrency 1, docs/benchmarks.md "AMQP from outside"). A
 * delivery that finds no free slot, and every one after it, waits, in order and unacknowledged, for
 * a virtual thread that reserves a slot ({@link DeliveryHandler#reserve}(1)) for each; so the
 * worker never holds more messages than it can start and the connection's thread never blocks
 * (which would stall every channel and the heartbeats). A message is acknowledged on its own
 * channel when the worker settles it.
 *
 * <p>Every channel is a {@link Session}. When a session dies (connection lost, broker restarted,
 * queue deleted) RabbitMQ requeues all its unacknowledged messages; the consumer reports a broker
 * error and a virtual supervisor thread subscribes again on a new channel, with back-off, until it
 * works. Settling a message of a dead session does nothing (it comes back anyway), so a task
 * running during the outage may run twice.
 *
 * <p>{@link #stopFetching} cancels the subscription and puts back (nack, requeue) the messages not
 * handed over; {@link #close()} also closes the channel, which returns the unsettled ones.
 *
 * <p>A handler that throws on a delivery did not take it ({@link DeliveryHandler#handle}): the
 * message is put back the same way at once, its slot goes back, and the consumption ends as if
 * stopped, reporting {@link DeliveryHandler#consumptionEnded} (the worker starts a new one), as the
 * other brokers' consumers do; the deliveries handed over before stay valid until {@link #close()}.
 * Going on with the same subscription instead would turn a handler that keeps throwing into a hot
 * loop: RabbitMQ delivers a requeued message again at once.
 */
final class AmqpConsumer implements Consumption {
  private static final Logger log = LoggerFactory.getLogger(AmqpConsumer.class);
  private static final Object RESUBSCRIBE = new Object();

  /** RabbitMQ's largest QoS (a short). */
  static final int MAX_QOS = 65_535;

  private final AmqpBroker broker;
  private final AmqpClient client;
  private final String tag;
  private final Topology.QueueBinding binding;
  private final DeliveryHandler handler;
  private final int prefetch;
  private final LinkedBlockingQueue<Object> signals = new LinkedBlockingQueue<>();
  private final AtomicBoolean fetching = new AtomicBoolean(true);
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile @Nullable Session session;
  private volatile @Nullable Thread supervisor;

  /** The thread waiting for a slot, if any (interrupted by {@link #stopFetching}). */
  private volatile @Nullable Thread waitingForSlot;

  private int qos;
  private int failedSubscriptions;

  AmqpConsumer(
      AmqpBroker broker,
      String tag,
      Topology.QueueBinding binding,
      DeliveryHandler handler,
      int prefetch) {
    this.broker = broker;
    this.client = broker.consumerClient();
    this.tag = tag;
    this.binding = binding;
    this.handler = handler;
    this.prefetch = prefetch;
  }

  String queue() {
    return binding.queue();
  }

  AmqpBroker broker() {
    return broker;
  }

  /**
   * Declares the queue (failing fast when it cannot be), then starts the supervisor, which
   * subscribes.
   */
  void start() {
    client.callRetrying(
        "declare queue '" + binding.queue() + "'",
        ch -> {
          broker.topology().declareTaskQueue(ch, binding);
          return null;
        });
    // a platform thread: a virtual one would wait for a carrier behind computing tasks (which never
    // give theirs up) before it could subscribe again after a lost channel (issue 12, F5)
    supervisor =
        Thread.ofPlatform().daemon().name("machinery-amqp-consumer-" + tag).start(this::supervise);
  }

  // ------------------------------------------------------------------------------------------
  // subscribing

  private void supervise() {
    try {
      qos = qos(handler.capacity(), prefetch);
      while (fetching.get()) {
        Session current = session;
        if (current == null || !current.usable()) {
          subscribeUntilDone();
        }
        signals.take(); // the next RESUBSCRIBE (a stale one finds the current session alive and is
        // ignored)
      }
    } catch (InterruptedException e) {
      // stopFetching
    } catch (RuntimeException | Error e) {
      log.error("AMQP consumer {} of queue {} stopped: {}", tag, binding.queue(), e.toString(), e);
      if (fetching.get()) {
        handler.consumptionEnded(e); // nothing subscribes again: the worker starts a new consumer
      } else {
        handler.brokerError(e);
      }
    }
  }

  /** Subscribes, retrying with back-off until it works or fetching stops. */
  private void subscribeUntilDone() throws InterruptedException {
    while (fetching.get()) {
      try {
        subscribe();
        if (failedSubscriptions > 0) {
          log.info("AMQP consumer {} subscribed to queue {} again", tag, binding.queue());
        }
        failedSubscriptions = 0;
        return;
      } catch (MachineryException e) {
        failedSubscriptions++;
        if (failedSubscriptions == 1) {
          handler.brokerError(e);
        }
        long pause = Math.min(2_000, 100L << Math.min(failedSubscriptions - 1, 5));
        log.debug(
            "AMQP consumer {} cannot subscribe to {} yet ({}); retrying in {} ms",
            tag,
            binding.queue(),
            e.getMessage(),
            pause);
        signals.poll(pause, TimeUnit.MILLISECONDS);
      }
    }
  }

  private void subscribe() {
    Channel channel = client.openChannel();
    Session s = new Session(channel, qos);
    try {
      broker.topology().declareTaskQueue(channel, binding);
      channel.basicQos(qos, false);
      channel.addShutdownListener(signal -> lost(s, signal));
      session = s;
      s.consumerTag =
          channel.basicConsume(
              binding.queue(), false, tag, false, false, null, new Subscription(channel, s));
    } catch (IOException | ShutdownSignalException e) {
      s.lost.set(true);
      AmqpClient.closeQuietly(channel);
      throw AmqpOperationException.of("subscribe to queue '" + binding.queue() + "'", e);
    }
  }

  /**
   * The QoS of a subscription: the worker's capacity, capped at RabbitMQ's maximum; the configured
   * prefetch only for a handler that reports no capacity.
   */
  static int qos(int capacity, int prefetch) {
    if (capacity == Integer.MAX_VALUE) {
      return Math.min(MAX_QOS, Math.max(1, prefetch));
    }
    return Math.min(MAX_QOS, Math.max(1, capacity));
  }

  /** What a person must know when RabbitMQ closed the channel for an unacknowledged delivery. */
  static final String CONSUMER_TIMEOUT_ADVICE =
      "RabbitMQ closed the channel because a delivery stayed "
          + "unacknowledged longer than its consumer_timeout (default 30 min): a task ran longer than that. Every "
          + "unacknowledged message of the channel was requeued and its task will run again; raise consumer_timeout "
          + "in rabbitmq.conf (RabbitMQ 3.11.15+ also takes a per-queue consumer-timeout policy or x-consumer-timeout "
          + "argument) above the longest task";

  /** RabbitMQ's 406 PRECONDITION_FAILED "delivery acknowledgement on channel N timed out". */
  static boolean isConsumerTimeout(Object cause) {
    if (!(cause instanceof ShutdownSignalException signal) || signal.isHardError()) {
      return false;
    }
    if (!(signal.getReason() instanceof AMQP.Channel.Close close)) {
      return false;
    }
    return close.getReplyCode() == AMQP.PRECONDITION_FAILED
        && close.getReplyText().contains("delivery acknowledgement")
        && close.getReplyText().contains("timed out");
  }

  private void lost(Session s, Object cause) {
    if (!s.lost.compareAndSet(false, true)) {
      return;
    }
    if (!fetching.get()
        || (cause instanceof ShutdownSignalException signal && signal.isInitiatedByApplication())) {
      return;
    }
    String why =
        cause instanceof ShutdownSignalException signal
            ? signal.getMessage()
            : String.valueOf(cause);
    if (isConsumerTimeout(cause)) {
      why = CONSUMER_TIMEOUT_ADVICE + " (" + why + ")";
      log.error("AMQP consumer {} of queue {}: {}", tag, binding.queue(), why);
    }
    log.warn(
        "AMQP consumer {} of queue {} lost its subscription ({}); subscribing again",
        tag,
        binding.queue(),
        why);
    handler.brokerError(
        new MachineryException(
            "AMQP consumer "
                + tag
                + " of queue "
                + binding.queue()
                + " lost its subscription: "
                + why));
    signals.add(RESUBSCRIBE);
  }

  // ------------------------------------------------------------------------------------------
  // delivering

  /**
   * The client library's callbacks for one channel, called in order, one at a time, on RabbitMQ's
   * connection thread (see {@link AmqpClient.Builder#directDispatch}), which must never block: a
   * delivery that finds a free slot ({@link DeliveryHandler#reserve(int, Duration)} with no wait)
   * is handed over at once; one that finds none, and every delivery after it, queues for a virtual
   * thread that waits for slots and hands them over in order.
   */
  private final class Subscription extends DefaultConsumer {
    private final Session session;

    /** Deliveries waiting for a slot, oldest first; guarded by itself. */
    private final ArrayDeque<Incoming> waiting = new ArrayDeque<>();

    /** Whether the waiting thread runs; guarded by {@link #waiting}. */
    private boolean waiterRunning;

    Subscription(Channel channel, Session session) {
      super(channel);
      this.session = session;
    }

    @Override
    public void handleDelivery(
        String consumerTag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
      Incoming incoming =
          new Incoming(
              session,
              envelope.getDeliveryTag(),
              envelope.isRedeliver(),
              properties,
              body,
              System.nanoTime());
      if (!fetching.get()) {
        session.nack(incoming.tag(), true); // arrived after stopFetching
        return;
      }
      synchronized (waiting) {
        if (waiterRunning || !slotFreeNow()) {
          waiting.add(incoming);
          if (!waiterRunning) {
            waiterRunning = true;
            Thread.ofVirtual().name("machinery-amqp-slot-wait-" + tag).start(this::waitForSlots);
          }
          return;
        }
      }
      handOver(incoming);
    }

    private boolean slotFreeNow() {
      try {
        return handler.reserve(1, Duration.ZERO) == 1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // not ours to swallow: the connection's thread
        return false;
      }
    }

    /** Hands the waiting deliveries over in order, each once a slot is free. */
    private void waitForSlots() {
      while (true) {
        Incoming next;
        synchronized (waiting) {
          next = waiting.peek(); // stays queued until handed over, so later ones keep their place
          if (next == null) {
            waiterRunning = false;
            return;
          }
        }
        // published before fetching is read: stopFetching either sees this thread and interrupts
        // it, or this thread sees that fetching stopped
        waitingForSlot = Thread.currentThread();
        boolean reserved = false;
        try {
          if (fetching.get()) {
            handler.reserve(1);
            reserved = true;
          }
        } catch (InterruptedException e) {
          // stopFetching while waiting for a slot
        } finally {
          waitingForSlot = null;
          Thread.interrupted(); // an interrupt meant for the wait must not outlive it
        }
        if (!reserved) {
          putBackWaiting(); // fetching stopped: back in their place
          return;
        }
        synchronized (waiting) {
          waiting.poll();
        }
        handOver(next);
      }
    }

    private void putBackWaiting() {
      List<Incoming> putBack = new ArrayList<>();
      synchronized (waiting) {
        for (Incoming incoming; (incoming = waiting.poll()) != null; ) {
          putBack.add(incoming);
        }
        waiterRunning = false;
      }
      // outside the monitor: a nack is a socket write, and a virtual thread blocked inside
      // synchronized holds its carrier on Java 21 to 23
      for (Incoming incoming : putBack) {
        session.nack(incoming.tag(), true);
      }
    }

    /**
     * Hands over a delivery whose slot is reserved, unless fetching stopped meanwhile. Should the
     * handler throw, the delivery was not handed over ({@link DeliveryHandler#handle}): it goes
     * back to the queue at once (nack, requeue), settled so that nothing the handler may still do
     * with it reaches RabbitMQ; its slot goes back; and the throw ends this consumption ({@link
     * #handOverFailed}). Before, the throw reached the client library, which closed the channel
     * (every task running on it ran again) and nothing subscribed again, or it ended the thread
     * waiting for slots, and every later delivery waited for ever; the slot was never given back.
     */
    private void handOver(Incoming incoming) {
      if (!fetching.get() || !session.usable()) {
        handler.release(1);
        if (session.usable()) {
          session.nack(incoming.tag(), true);
        }
        return; // a dead session's messages are requeued by RabbitMQ already
      }
      AmqpDelivery delivery = new AmqpDelivery(AmqpConsumer.this, incoming);
      try {
        handler.handle(delivery);
      } catch (RuntimeException | Error e) {
        try {
          delivery.requeue(Duration.ZERO);
        } finally {
          handler.release(1);
          handOverFailed(e, incoming.tag());
        }
      }
    }

    @Override
    public void handleCancel(String consumerTag) {
      // The broker cancelled us: the queue was deleted (or its node went away). Off the
      // connection's thread: the handler's error callback is the application's code.
      Thread.ofVirtual()
          .start(
              () -> {
                lost(
                    session,
                    "the broker cancelled the subscription (the queue was deleted, or on RabbitMQ"
                        + " 4.3+ a delivery stayed unacknowledged longer than consumer_timeout)");
                AmqpClient.closeQuietly(session.channel);
              });
    }
  }

  // ------------------------------------------------------------------------------------------
  // stopping

  /**
   * The handler threw on the delivery {@code deliveryTag} (given back already): as on the other
   * brokers, that ends this consumption, and the worker starts a new one. Fetching stops at once,
   * so what arrives from now on goes back to the queue, as do the deliveries waiting for a slot;
   * the subscription is cancelled and the end reported on a thread of their own: this may be
   * RabbitMQ's connection thread, which must not wait for the cancel's reply nor run the worker's
   * error handling. A consumption its owner stopped meanwhile only reports the throw.
   */
  private void handOverFailed(Throwable thrown, long deliveryTag) {
    boolean ends = fetching.compareAndSet(true, false);
    log.warn(
        "AMQP consumer {} of queue {}: the worker's handler threw on delivery {} ({}); put it back"
            + " in the queue{}",
        tag,
        binding.queue(),
        deliveryTag,
        thrown.toString(),
        ends ? " and ending this consumption (the worker starts a new one)" : "");
    Thread.ofVirtual()
        .name("machinery-amqp-ending-" + tag)
        .start(
            () -> {
              if (!ends) {
                handler.brokerError(thrown);
                return;
              }
              try {
                stopSubscription();
                awaitSupervisor(Duration.ofSeconds(5));
              } finally {
                handler.consumptionEnded(thrown);
              }
            });
  }

  @Override
  public void stopFetching(Duration timeout) {
    if (fetching.compareAndSet(true, false)) {
      stopSubscription();
    }
    awaitSupervisor(timeout);
  }

  /** Once fetching stopped: wakes the slot waiter and the supervisor, cancels the subscription. */
  private void stopSubscription() {
    Thread waiting = waitingForSlot;
    if (waiting != null) {
      waiting.interrupt();
    }
    cancel(session);
    Thread t = supervisor;
    if (t != null && t != Thread.currentThread()) {
      t.interrupt();
    }
  }

  /**
   * Waits for the supervisor to end, then cancels the subscription it may have made before it saw
   * the stop.
   */
  private void awaitSupervisor(Duration timeout) {
    Thread t = supervisor;
    if (t != null && t != Thread.currentThread()) { // the supervisor itself, when it ended
      try {
        t.join(timeout);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    cancel(session); // the supervisor may have subscribed again before it saw the stop
  }

  private void cancel(@Nullable Session s) {
    if (s == null
        || !s.usable()
        || s.consumerTag == null
        || !s.cancelled.compareAndSet(false, true)) {
      return;
    }
    try {
      s.channel.basicCancel(s.consumerTag);
    } catch (IOException | ShutdownSignalException e) {
      log.debug("Cancelling AMQP consumer {}: {}", tag, e.toString());
    }
  }

  /** The broker closes: see {@link BrokerClosing}. */
  void brokerClosed() {
    BrokerClosing.close(this, fetching.get(), handler, "AMQP", tag, binding.queue());
  }

  @Override
  public void close() {
    stopFetching(Duration.ofSeconds(5));
    if (closed.compareAndSet(false, true)) {
      Session s = session;
      if (s != null) {
        s.lost.set(true);
        AmqpClient.closeQuietly(s.channel);
      }
      broker.forget(this);
    }
  }

  // ------------------------------------------------------------------------------------------
  // sessions

  /** A message pushed by RabbitMQ, and when it arrived ({@link System#nanoTime()}). */
  record Incoming(
      Session session,
      long tag,
      boolean redelivered,
      AMQP.BasicProperties properties,
      byte[] body,
      long arrivedNanos) {}

  /**
   * How long this process may have been silent, at most, before RabbitMQ may have closed a
   * connection with heartbeats of {@code heartbeatSeconds}: half a heartbeat (RabbitMQ waits for
   * two); 10 s when heartbeats are off.
   */
  static long quietNanos(int heartbeatSeconds) {
    return heartbeatSeconds > 0
        ? TimeUnit.SECONDS.toNanos(heartbeatSeconds) / 2
        : TimeUnit.SECONDS.toNanos(10);
  }

  /** One channel with one subscription; dead once its channel closed. */
  static final class Session {
    final Channel channel;
    final AtomicBoolean lost = new AtomicBoolean();
    final AtomicBoolean cancelled = new AtomicBoolean();
    volatile @Nullable String consumerTag;
    private final int qos;

    /** See {@link #quietNanos}: a message held longer is checked with a round trip. */
    final long quietNanos;

    Session(Channel channel, int qos) {
      this.channel = channel;
      this.qos = qos;
      this.quietNanos = quietNanos(channel.getConnection().getHeartbeat());
    }

    boolean usable() {
      return !lost.get() && channel.isOpen();
    }

    /**
     * A round trip on this channel (its QoS, set again to what it is): true when RabbitMQ answered,
     * so the channel, and with it every delivery not yet settled on it, is still this consumer's;
     * false when the channel is gone (RabbitMQ then requeued those deliveries).
     */
    boolean confirmOpen() {
      if (!usable()) {
        return false;
      }
      try {
        channel.basicQos(qos, false);
        return true;
      } catch (IOException | ShutdownSignalException e) {
        log.debug("Channel check failed, its deliveries went back to RabbitMQ: {}", e.toString());
        return false;
      }
    }

    void ack(long deliveryTag) {
      try {
        channel.basicAck(deliveryTag, false);
      } catch (IOException | ShutdownSignalException e) {
        log.debug(
            "Ack of delivery {} not sent, its channel is gone (RabbitMQ will deliver it again): {}",
            deliveryTag,
            e.toString());
      }
    }

    void nack(long deliveryTag, boolean requeue) {
      try {
        channel.basicNack(deliveryTag, false, requeue);
      } catch (IOException | ShutdownSignalException e) {
        log.debug(
            "Nack of delivery {} not sent, its channel is gone: {}", deliveryTag, e.toString());
      }
    }
  }
}
