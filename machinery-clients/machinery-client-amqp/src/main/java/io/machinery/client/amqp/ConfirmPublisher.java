package io.machinery.client.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConfirmListener;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.MachineryException;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The confirming publisher of an {@link AmqpClient}: a few channels in confirm mode shared by every
 * publisher, each message matched to its confirm or return by {@link PendingConfirms}.
 *
 * <p>Design notes. A publish takes one channel's lock only to send (optional setup commands, then
 * the message), never while it waits for the confirm, so RabbitMQ confirms concurrent publishers in
 * batches. Messages with the same order key share a channel, so RabbitMQ applies them in order. A
 * message whose channel or connection is lost before the confirm is sent again after reconnecting
 * (at-least-once) until the publish timeout. Every wait has the publish timeout as its deadline
 * (F17): the channel lock is taken with {@code tryLock}, and while RabbitMQ blocks the connection
 * (memory or disk alarm) nothing is written, the publisher waits for the alarm to clear and fails
 * with the alarm's reason when the deadline passes.
 *
 * <p>The write itself has no timeout in the client library: a message larger than the socket's
 * buffers, written in the instant RabbitMQ starts blocking (it stops reading the socket at the
 * first publish after an alarm), stays stuck in the socket until the alarm clears, holding the
 * connection's output lock, and every other publish behind it. So each channel shows the publish it
 * is writing, and a watchdog thread (one per publisher, started with the first publish, woken every
 * {@link #watchPeriod} of the publish timeout) closes the connection's socket ({@link
 * Connector#sever}) once a write outlives its publish's deadline: the stuck writes fail at once
 * with {@link #stuckWrite} (with {@link AmqpOperationException#BLOCKED} when RabbitMQ had said it
 * blocks), the other unconfirmed messages are resent after reconnecting within their own deadlines,
 * as after any lost connection. A slow link that cannot carry a message within the publish timeout
 * ends the same way; it would fail for want of a confirm anyway.
 *
 * <p>A channel error ends the channel for every message on it. RabbitMQ closes the channel for one
 * command it refuses (a publish to a missing exchange, 404; a message over its {@code
 * max_message_size}, 406; a refused setup declaration), and every other message then waiting for a
 * confirm on that channel, or being written to it, fails with that error though RabbitMQ did not
 * refuse it. So a publish whose channel closed under an error that is not its own is sent once
 * more, on a fresh channel, within its deadline ({@link #closedByAnother}); the one that caused it
 * fails with its error. Whose the error is RabbitMQ does not say (the close names the method, not
 * the message), so it is read from the close: a refused {@code basic.publish} belongs to the
 * messages its reply names (their exchange, or their size), a refused setup command to the
 * publishes that sent setup commands. A close that names nobody sends them all again once; the
 * culprit then fails with its own error on its second try (and may take those sent beside it again
 * down with it).
 *
 * <p>The resend is not opt-in: a message on a channel that closes before its confirm is in the
 * state of one whose connection was lost (RabbitMQ may have queued it, or not), and the blocking
 * publish already sends those again, so every caller of it takes duplicates already. For the
 * broker's tasks a duplicate is the at-least-once contract. For the AMQP backend's states it is the
 * same state once more in the task's queue, which readers take off oldest first until a final one,
 * so they read that state twice (the group's states are folded by task); ordered publishes stay in
 * order because the blocking caller waits for each confirm before its next state. The non-blocking
 * {@link #publishAsync} resends nothing, as after a lost connection: its caller decides. The AMQP
 * lock publishes that way, and must: a second copy of a lock message that RabbitMQ did queue would
 * be refused (nacked) and read as the lock taken by another server; a failed try is the lock's own
 * retry to make.
 */
final class ConfirmPublisher {
  private static final Logger log = LoggerFactory.getLogger(ConfirmPublisher.class);

  /** AMQP 0-9-1's class and method ids of {@code basic.publish}. */
  private static final int BASIC_CLASS = 60;

  private static final int BASIC_PUBLISH_METHOD = 40;

  private final Connector connector;
  private final Duration publishTimeout;
  private final AtomicReferenceArray<@Nullable PublisherChannel> channels;

  /**
   * One per channel, held while that channel is opened. A lock, not a monitor: opening a channel is
   * a round trip to RabbitMQ, and a virtual thread blocked inside {@code synchronized} holds its
   * carrier on Java 21 to 23, which deadlocked a worker whose two carriers both waited so (found by
   * running {@code AmqpChordKillIT} on Java 21).
   */
  private final ReentrantLock[] openLocks;

  private final AtomicInteger next = new AtomicInteger();
  private final String name;
  private final AtomicBoolean watching = new AtomicBoolean();
  private volatile @Nullable Thread watchdog;
  private volatile boolean closed;

  ConfirmPublisher(
      Connector connector, int channelCount, Duration publishTimeout, String connectionName) {
    this.connector = connector;
    this.publishTimeout = publishTimeout;
    this.channels = new AtomicReferenceArray<>(channelCount);
    this.openLocks = new ReentrantLock[channelCount];
    this.name = connectionName;
    Arrays.setAll(openLocks, i -> new ReentrantLock());
  }

  /** How often the watchdog looks: a tenth of the publish timeout, within 20 ms to 1 s. */
  static Duration watchPeriod(Duration publishTimeout) {
    long millis = Math.clamp(publishTimeout.toMillis() / 10, 20L, 1_000L);
    return Duration.ofMillis(millis);
  }

  /** Stops the watchdog (the connector closes the connection). */
  void close() {
    closed = true;
    Thread t = watchdog;
    if (t != null) {
      t.interrupt();
    }
  }

  private void startWatchdog() {
    if (watching.get() || !watching.compareAndSet(false, true)) {
      return;
    }
    watchdog = Thread.ofVirtual().name("machinery-amqp-write-watchdog-" + name).start(this::watch);
    if (closed) {
      close();
    }
  }

  private void watch() {
    long period = watchPeriod(publishTimeout).toNanos();
    try {
      while (!closed && !connector.isClosed()) {
        TimeUnit.NANOSECONDS.sleep(period);
        severStuckWrites(System.nanoTime(), period);
      }
    } catch (InterruptedException e) {
      // closed
    }
  }

  /**
   * Closes the connection under the writes once one of them outlived its publish's deadline at
   * {@code now} and has lasted longer than {@code minWrite} nanoseconds (a publish that got its
   * channel just before its deadline is not stuck for being written across it).
   */
  void severStuckWrites(long now, long minWrite) {
    for (int i = 0; i < channels.length(); i++) {
      PublisherChannel pc = channels.get(i);
      PendingConfirms.Pending writing = pc == null ? null : pc.writing;
      if (writing != null
          && now - writing.deadline > 0
          && now - pc.writeStarted > minWrite
          && pc.writing == writing) {
        sever(pc.channel.getConnection(), writing);
        return;
      }
    }
  }

  /** Marks every channel of {@code connection} with why, then closes the connection's socket. */
  private void sever(Connection connection, PendingConfirms.Pending stuck) {
    String blocked = connector.blockedReason();
    Severed severed = new Severed(stuckWrite(stuck, blocked), blocked != null);
    for (int i = 0; i < channels.length(); i++) {
      PublisherChannel pc = channels.get(i);
      if (pc != null && pc.channel.getConnection() == connection) {
        pc.severed = severed;
      }
    }
    connector.sever(connection, severed.why());
  }

  private String stuckWrite(PendingConfirms.Pending stuck, @Nullable String blocked) {
    return "a message of "
        + stuck.body.length
        + " bytes to exchange '"
        + stuck.exchange
        + "' with routing key '"
        + stuck.routingKey
        + "' was still being written into the socket when its publish timeout ("
        + publishTimeout
        + ") passed"
        + (blocked != null
            ? " (RabbitMQ blocks publishing: " + blocked + ")"
            : " (RabbitMQ stopped reading: a resource alarm, or a link that cannot carry it)")
        + "; the client closed the connection so that no publish waits longer";
  }

  /** Why the watchdog closed a channel's connection under its writes. */
  private record Severed(String why, boolean blocked) {}

  /** The channel for {@code orderKey}. */
  int channelFor(String orderKey) {
    return Math.floorMod(orderKey.hashCode(), channels.length());
  }

  /**
   * Publishes and waits for the confirm, resending after a lost connection; see {@link
   * AmqpClient#publish}.
   */
  void publish(
      int channelIndex,
      AmqpClient.@Nullable ChannelSetup setup,
      String exchange,
      String routingKey,
      AMQP.BasicProperties properties,
      byte[] body) {
    long deadline = System.nanoTime() + publishTimeout.toNanos();
    AmqpOperationException last = null;
    boolean resent = false;
    while (true) {
      connector.checkOpen();
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        throw timedOut(exchange, routingKey, last);
      }
      try {
        publishAsync(channelIndex, setup, exchange, routingKey, properties, body, deadline)
            .get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        return;
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof UnroutableException u) {
          throw new UnroutableException(u.exchange(), u.routingKey());
        }
        last =
            AmqpOperationException.of(
                "publish to exchange '" + exchange + "'", cause == null ? e : cause);
      } catch (AmqpOperationException e) {
        if (e.replyCode() == AmqpOperationException.BLOCKED) {
          throw e; // the deadline passed during a resource alarm
        }
        last = e;
      } catch (TimeoutException e) {
        throw timedOut(exchange, routingKey, null);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException(
            "interrupted while publishing to exchange '" + exchange + "'", e);
      }
      if (!last.connectionLost() && last.replyCode() != 0) {
        if (resent || !closedByAnother(last, exchange, body.length, setup != null)) {
          throw last; // the broker refused it (a missing exchange, access refused): retrying
          // cannot help
        }
        resent = true; // see the class notes
      }
      log.debug("Publishing to exchange '{}' failed ({}); retrying", exchange, last.getMessage());
    }
  }

  /**
   * Whether {@code error} is a channel error RabbitMQ raised for another command on the channel
   * than a publish of {@code bodyLength} bytes to {@code exchange} (with setup commands before it
   * when {@code withSetup}): a refused {@code basic.publish} whose reply names neither that
   * exchange nor that size, or a refused other command (a setup declaration) when this publish sent
   * none.
   */
  static boolean closedByAnother(
      Throwable error, String exchange, int bodyLength, boolean withSetup) {
    ShutdownSignalException signal = AmqpOperationException.shutdownSignal(error);
    if (signal == null
        || signal.isHardError()
        || signal.isInitiatedByApplication()
        || !(signal.getReason() instanceof AMQP.Channel.Close close)) {
      return false;
    }
    if (close.getClassId() != BASIC_CLASS || close.getMethodId() != BASIC_PUBLISH_METHOD) {
      return !withSetup;
    }
    String reply = close.getReplyText();
    return !reply.contains("exchange '" + exchange + "'")
        && !reply.contains("message size " + bodyLength + " ");
  }

  private AmqpOperationException timedOut(
      String exchange, String routingKey, @Nullable AmqpOperationException last) {
    String blocked = connector.blockedReason();
    return new AmqpOperationException(
        "no publisher confirm for a message to exchange '"
            + exchange
            + "' with routing key '"
            + routingKey
            + "' within "
            + publishTimeout
            + (blocked != null ? " (RabbitMQ blocks publishing: " + blocked + ")" : "")
            + (last == null ? "" : " (last error: " + last.getMessage() + ")"),
        blocked != null ? AmqpOperationException.BLOCKED : 0,
        true,
        last);
  }

  /**
   * Sends one message without waiting for its confirm; the future completes with the confirm. Waits
   * (until {@code deadline}, a {@link System#nanoTime()}) only for a channel, the channel's lock
   * and the end of a resource alarm.
   */
  CompletableFuture<Void> publishAsync(
      int channelIndex,
      AmqpClient.@Nullable ChannelSetup setup,
      String exchange,
      String routingKey,
      AMQP.BasicProperties properties,
      byte[] body,
      long deadline) {
    int index =
        channelIndex >= 0 ? channelIndex : Math.floorMod(next.getAndIncrement(), channels.length());
    PendingConfirms.Pending pending =
        new PendingConfirms.Pending(exchange, routingKey, body, deadline);
    startWatchdog();
    PublisherChannel pc;
    try {
      // before anything is written (opening a channel is a write too): RabbitMQ reads nothing
      // during an alarm
      String blocked = connector.awaitUnblocked(deadline);
      if (blocked != null) {
        throw new AmqpOperationException(
            "RabbitMQ blocks publishing ("
                + blocked
                + "): no publish to exchange '"
                + exchange
                + "' within "
                + publishTimeout,
            AmqpOperationException.BLOCKED,
            true,
            null);
      }
      pc = channel(index, deadline);
      if (!pc.lock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        throw new AmqpOperationException(
            "a publishing channel stayed busy for " + publishTimeout + " (flow control?)",
            AmqpOperationException.BLOCKED,
            true,
            null);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException(
          "interrupted while publishing to exchange '" + exchange + "'", e);
    }
    pc.writeStarted = System.nanoTime();
    pc.writing = pending; // for the watchdog, until the message is in the socket
    try {
      if (setup != null) {
        try {
          setup.apply(pc.channel);
        } catch (IOException | ShutdownSignalException e) {
          throw failedWrite(pc, "prepare a publish to exchange '" + exchange + "'", e);
        }
      }
      long sequence = pc.channel.getNextPublishSeqNo();
      pc.pending.add(sequence, pending);
      try {
        pc.channel.basicPublish(exchange, routingKey, true, false, properties, body);
      } catch (IOException | ShutdownSignalException e) {
        pc.pending.remove(sequence);
        throw failedWrite(pc, "publish to exchange '" + exchange + "'", e);
      }
      if (pc.dead && pc.pending.remove(sequence)) {
        // the channel closed between our publish and its shutdown listener's sweep
        pending.future.completeExceptionally(
            new AmqpOperationException(
                "the publishing channel closed before the confirm", 0, true, null));
      }
    } finally {
      pc.writing = null;
      pc.lock.unlock();
    }
    return pending.future;
  }

  /** A failed write: the watchdog's reason when it closed the connection under it. */
  private static AmqpOperationException failedWrite(PublisherChannel pc, String what, Exception e) {
    Severed severed = pc.severed;
    if (severed == null) {
      return AmqpOperationException.of(what, e);
    }
    return new AmqpOperationException(
        severed.why(), severed.blocked() ? AmqpOperationException.BLOCKED : 0, true, e);
  }

  private PublisherChannel channel(int index, long deadline) throws InterruptedException {
    PublisherChannel pc = channels.get(index);
    if (pc != null && !pc.dead && pc.channel.isOpen()) {
      return pc;
    }
    ReentrantLock openLock = openLocks[index];
    if (!openLock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      throw new AmqpOperationException(
          "a publishing channel was still being opened after " + publishTimeout,
          AmqpOperationException.BLOCKED,
          true,
          null);
    }
    try {
      pc = channels.get(index);
      if (pc != null && !pc.dead && pc.channel.isOpen()) {
        return pc;
      }
      Connection c =
          connector.connection(Duration.ofNanos(Math.max(deadline - System.nanoTime(), 1)));
      Channel channel;
      try {
        channel = c.createChannel();
        if (channel == null) {
          throw new AmqpOperationException(
              "the AMQP connection has no channel left", 0, false, null);
        }
        channel.confirmSelect();
      } catch (IOException | ShutdownSignalException e) {
        throw AmqpOperationException.of("cannot open a publishing channel", e);
      }
      PublisherChannel fresh = new PublisherChannel(channel);
      channels.set(index, fresh);
      return fresh;
    } finally {
      openLock.unlock();
    }
  }

  /** A channel in confirm mode and the messages it waits confirms for. */
  private static final class PublisherChannel implements ConfirmListener {
    final Channel channel;
    final ReentrantLock lock = new ReentrantLock();
    final PendingConfirms pending = new PendingConfirms();
    volatile boolean dead;

    /** The message being written (setup commands included), for the watchdog; else null. */
    volatile PendingConfirms.@Nullable Pending writing;

    /** When the write of {@link #writing} began, a {@link System#nanoTime()}. */
    volatile long writeStarted;

    /** Set by the watchdog before it closes the connection under this channel's writes. */
    volatile @Nullable Severed severed;

    PublisherChannel(Channel channel) {
      this.channel = channel;
      channel.addConfirmListener(this);
      channel.addReturnListener(
          r -> pending.returned(r.getExchange(), r.getRoutingKey(), r.getBody()));
      channel.addShutdownListener(
          signal -> {
            dead = true;
            pending.failAll(
                AmqpOperationException.of(
                    "the publishing channel closed before the confirm", signal));
          });
    }

    @Override
    public void handleAck(long tag, boolean multiple) {
      pending.confirmed(tag, multiple, true);
    }

    @Override
    public void handleNack(long tag, boolean multiple) {
      pending.confirmed(tag, multiple, false);
    }
  }
}
