package io.machinery.embedded;

import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.BrokerClosing;
import io.machinery.spi.Consumption;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.FairShares;
import io.machinery.spi.Inspector;
import io.machinery.spi.PriorityBands;
import io.machinery.wire.WireCodec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An asynchronous broker inside this JVM: the embedded default. Messages are Go JSON bytes in
 * per-queue FIFO lists, one per priority band ({@link PriorityBands}: Go's {@code Priority} is
 * honoured, with a share for lower bands) and one per fairness key ({@link FairShares}: waiting
 * keys take turns, with a turn for the unkeyed tasks); tasks with a future ETA wait in a
 * time-ordered set and move to their queue when due; dead letters are kept for inspection ({@link
 * #deadLetters()}).
 *
 * <p>Design notes: one fetch thread (virtual) per consumer takes at most as many messages as the
 * worker has free slots; one promoter thread (virtual, started with the first delayed task) moves
 * due tasks. Both end with {@link #close()}. Delivery within the JVM is exactly as reliable as the
 * JVM: nothing survives a restart. Each queued message counts how often it was handed out ({@link
 * Delivery#deliveryCount()}; a message that comes back because its consumer closed keeps its count,
 * so poison limits work here as on real brokers); a requeue with a replacement body ({@link
 * Delivery#requeue(Duration, byte[])}) enqueues the replacement as a new message. For {@link
 * VirtualTime}, messages in transit (handed out and not settled, or leaving the delayed set) are
 * counted, and every push, schedule and end of transit bumps a change count, so an idle check can
 * tell that it read queues and counts at one moment. A handler that throws on a delivery did not
 * take it ({@link DeliveryHandler#handle}): the broker takes the message and its slot back, and the
 * consumer ends. Thread-safe.
 *
 * <p>Size: a complete in-process broker (queues, ETAs on the injected clock, priority bands, fair
 * lanes, redelivery, dead letters, inspection) in one class, so that a user's unit test of a
 * workflow needs nothing else.
 */
public final class MemoryBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(MemoryBroker.class);

  /** At most this many messages are handed over per fetch. */
  private static final int FETCH_BATCH = 64;

  /** A message that was dead-lettered, with the reason. */
  public record DeadLetter(String queue, byte[] message, String reason) {}

  /**
   * A queued message and how many times it was handed out (a requeue keeps the count, a replacement
   * starts anew).
   */
  private record Message(byte[] body, int deliveries, long enqueuedMillis, Lane lane) {
    Message(byte[] body, int deliveries, Lane lane) {
      this(body, deliveries, 0, lane);
    }

    int band() {
      return lane.band();
    }

    @Nullable String fairnessKey() {
      return lane.key();
    }
  }

  /** Where a message waits: its priority band, or its fairness key's lane ({@link FairShares}). */
  private record Lane(int band, @Nullable String key) {
    static Lane of(Signature signature) {
      return new Lane(PriorityBands.band(signature.priority()), FairShares.keyOf(signature));
    }
  }

  /** A dead letter with the id and time the inspector shows. */
  record Dead(long id, Instant at, DeadLetter letter) {}

  private record DelayedMessage(long dueMillis, long sequence, String queue, Message message) {}

  private static final class Queue {
    final ReentrantLock lock = new ReentrantLock();
    final Condition notEmpty = lock.newCondition();
    final FairLanes<Message> messages = new FairLanes<>(Message::band, Message::fairnessKey);
  }

  private final Config config;
  private final Clock clock;
  private final ConcurrentHashMap<String, Queue> queues = new ConcurrentHashMap<>();
  private final ReentrantLock delayedLock = new ReentrantLock();
  private final Condition delayedChanged = delayedLock.newCondition();
  private final PriorityQueue<DelayedMessage> delayed =
      new PriorityQueue<>(
          (a, b) ->
              a.dueMillis != b.dueMillis
                  ? Long.compare(a.dueMillis, b.dueMillis)
                  : Long.compare(a.sequence, b.sequence));
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicLong requeues = new AtomicLong();
  // For VirtualTime's idle check: messages in transit (handed to a consumer and not settled, or
  // taken from the delayed set and not yet queued), and a count of changes (a push, a schedule, a
  // settlement) that tells a check whether it saw one moment.
  private final AtomicLong inTransit = new AtomicLong();
  private final AtomicLong changes = new AtomicLong();
  private final AtomicInteger idleWaiters = new AtomicInteger();
  private final ReentrantLock idleLock = new ReentrantLock();
  private final Condition idleChanged = idleLock.newCondition();
  private final List<Dead> deadLetters = new CopyOnWriteArrayList<>();
  private final AtomicLong deadLetterIds = new AtomicLong();
  private final List<MemoryConsumer> consumers = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile @Nullable Thread promoter; // started with the first delayed task

  private final MemoryControlPlane controlPlane;

  private MemoryBroker(Config config, Clock clock) {
    this.config = config;
    this.clock = clock;
    this.controlPlane = MemoryControlPlane.create(clock);
  }

  public static MemoryBroker create() {
    return new MemoryBroker(Config.DEFAULT, Clock.systemUTC());
  }

  public static MemoryBroker create(Config config, Clock clock) {
    return new MemoryBroker(Objects.requireNonNull(config), Objects.requireNonNull(clock));
  }

  @Override
  public String routingKeyFor(Signature signature) {
    return config.defaultQueue();
  }

  @Override
  public void publish(Signature signature, byte[] message) {
    checkOpen();
    String queue =
        signature.routingKey().isEmpty() ? config.defaultQueue() : signature.routingKey();
    OffsetDateTime eta = signature.eta();
    if (eta != null && eta.toInstant().isAfter(clock.instant())) {
      schedule(queue, new Message(message, 0, Lane.of(signature)), ceilMillis(eta.toInstant()));
    } else {
      push(queue, new Message(message, 0, Lane.of(signature)));
    }
  }

  private void push(String queueName, Message message) {
    Queue queue = queue(queueName);
    queue.lock.lock();
    try {
      queue.messages.addLast(
          new Message(message.body, message.deliveries, clock.millis(), message.lane));
      queue.notEmpty.signal();
    } finally {
      queue.lock.unlock();
    }
    changes.incrementAndGet();
  }

  /** The first whole millisecond not before {@code instant}: a task never runs before its ETA. */
  private static long ceilMillis(Instant instant) {
    long millis = instant.toEpochMilli();
    return instant.getNano() % 1_000_000 == 0 ? millis : millis + 1;
  }

  private void schedule(String queue, Message message, long dueMillis) {
    delayedLock.lock();
    try {
      delayed.add(new DelayedMessage(dueMillis, sequence.incrementAndGet(), queue, message));
      changes.incrementAndGet();
      delayedChanged.signalAll();
      if (promoter == null) {
        promoter = Thread.ofVirtual().name("machinery-memory-promoter").start(this::promoteLoop);
      }
    } finally {
      delayedLock.unlock();
    }
  }

  private void promoteLoop() {
    while (!closed.get()) {
      DelayedMessage due = null;
      delayedLock.lock();
      try {
        DelayedMessage head = delayed.peek();
        long wait = head == null ? TimeUnit.SECONDS.toMillis(1) : head.dueMillis - clock.millis();
        if (head != null && wait <= 0) {
          due = delayed.poll();
          inTransit.incrementAndGet(); // under the lock: never out of the set and uncounted
        } else {
          delayedChanged.await(Math.max(1, Math.min(wait, 1000)), TimeUnit.MILLISECONDS);
        }
      } catch (InterruptedException e) {
        return;
      } finally {
        delayedLock.unlock();
      }
      if (due != null) {
        push(due.queue, due.message);
        endTransit();
      }
    }
  }

  /**
   * The lane of raw bytes (a republished dead letter, a raw push, a worker's replacement): band 0
   * without a key when they do not decode.
   */
  private Lane laneOf(byte[] message) {
    try {
      return Lane.of(WireCodec.decodeSignature(message, config));
    } catch (RuntimeException e) {
      return new Lane(0, null);
    }
  }

  private Queue queue(String name) {
    return queues.computeIfAbsent(name, n -> new Queue());
  }

  @Override
  public Consumption startConsuming(String consumerTag, String queueName, DeliveryHandler handler) {
    if (closed.get()) {
      // not a MachineryException: a worker tries those again, and a closed broker never reopens
      throw new IllegalStateException("the memory broker is closed");
    }
    String name = queueName.isEmpty() ? config.defaultQueue() : queueName;
    MemoryConsumer consumer = new MemoryConsumer(consumerTag, name, handler);
    consumers.add(consumer);
    consumer.start();
    return consumer;
  }

  private final class MemoryConsumer implements Consumption {
    private final String tag;
    private final String queueName;
    private final DeliveryHandler handler;
    private final AtomicBoolean fetching = new AtomicBoolean(true);
    private final java.util.Set<MemoryDelivery> unsettled = ConcurrentHashMap.newKeySet();
    // set by start(); read by stopFetching on another thread, which must see it to interrupt the
    // untimed wait
    private volatile @Nullable Thread thread;

    MemoryConsumer(String tag, String queueName, DeliveryHandler handler) {
      this.tag = tag;
      this.queueName = queueName;
      this.handler = handler;
    }

    void start() {
      thread = Thread.ofVirtual().name("machinery-memory-fetch-" + tag).start(this::fetch);
    }

    /**
     * The fetch loop, until stopped or until the handler throws on a delivery: that ends this
     * consumption (see {@link #handOver}), and the worker starts a new one.
     */
    private void fetch() {
      try {
        loop();
      } catch (RuntimeException | Error e) {
        log.error("Memory consumer {} of {} stopped: {}", tag, queueName, e.toString(), e);
        if (fetching.get()) {
          handler.consumptionEnded(e);
        } else {
          handler.brokerError(e);
        }
      }
    }

    private void loop() {
      Queue queue = queue(queueName);
      List<Message> batch = new ArrayList<>(FETCH_BATCH);
      while (fetching.get()) {
        int reserved;
        try {
          reserved = handler.reserve(FETCH_BATCH);
        } catch (InterruptedException e) {
          return;
        }
        batch.clear();
        queue.lock.lock();
        try {
          while (queue.messages.isEmpty() && fetching.get()) {
            // untimed: the condition's waiters form one FIFO line, so waiting consumers take
            // messages in turn (a timed wait re-joins the line at its timeout and breaks the
            // turns); stopFetching interrupts this wait
            queue.notEmpty.await();
          }
          while (batch.size() < reserved && !queue.messages.isEmpty() && fetching.get()) {
            batch.add(queue.messages.pollFirst());
          }
          inTransit.addAndGet(batch.size()); // under the lock: never out of the queue and uncounted
        } catch (InterruptedException e) {
          handler.release(reserved);
          return;
        } finally {
          if (!queue.messages.isEmpty()) {
            // pass the turn on: a push wakes one consumer, which may take less than is queued
            // or stop without taking anything
            queue.notEmpty.signal();
          }
          queue.lock.unlock();
        }
        handOver(batch, reserved);
      }
    }

    /**
     * Hands a batch to the handler, then gives back the slots not used. Should the handler throw,
     * the message it threw on was not handed over ({@link DeliveryHandler#handle}): it goes back to
     * the head of the queue, settled so that nothing the handler may still do with it counts, and
     * counted as delivered (toward the worker's poison limit, as on the other brokers); the rest of
     * the batch goes back before the others, in order; their slots and its own go back; and the
     * throw ends this consumption.
     */
    private void handOver(List<Message> batch, int reserved) {
      int handedOver = 0;
      try {
        for (Message message : batch) {
          MemoryDelivery delivery =
              new MemoryDelivery(
                  queueName,
                  new Message(
                      message.body, message.deliveries + 1, message.enqueuedMillis, message.lane),
                  unsettled);
          unsettled.add(delivery);
          try {
            handler.handle(delivery);
          } catch (RuntimeException | Error e) {
            returnToHead(batch.subList(handedOver + 1, batch.size()));
            delivery.returnToHead();
            throw e;
          }
          handedOver++;
        }
      } finally {
        handler.release(reserved - handedOver);
      }
    }

    /** Puts messages taken but never handed out back at the head of the queue, in their order. */
    private void returnToHead(List<Message> messages) {
      if (messages.isEmpty()) {
        return;
      }
      Queue queue = queue(queueName);
      queue.lock.lock();
      try {
        for (int i = messages.size() - 1; i >= 0; i--) {
          queue.messages.addFirst(messages.get(i));
        }
        queue.notEmpty.signal();
      } finally {
        queue.lock.unlock();
      }
      messages.forEach(message -> endTransit());
    }

    @Override
    public void stopFetching(Duration timeout) {
      Thread fetcher = thread;
      if (fetching.compareAndSet(true, false) && fetcher != null) {
        fetcher.interrupt();
        try {
          fetcher.join(timeout);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    /** Unsettled deliveries go back to the head of the queue, as a dead worker's would. */
    @Override
    public void close() {
      stopFetching(Duration.ofSeconds(5));
      for (MemoryDelivery delivery : unsettled) {
        delivery.returnToHead();
      }
      consumers.remove(this);
    }

    /** The broker closes: see {@link BrokerClosing}. */
    void brokerClosed() {
      BrokerClosing.close(this, fetching.get(), handler, "memory", tag, queueName);
    }
  }

  private final class MemoryDelivery implements Delivery {
    private final String queueName;
    private final Message message;
    private final java.util.Set<MemoryDelivery> unsettled;
    private final AtomicBoolean settled = new AtomicBoolean();

    MemoryDelivery(String queueName, Message message, java.util.Set<MemoryDelivery> unsettled) {
      this.queueName = queueName;
      this.message = message;
      this.unsettled = unsettled;
    }

    @Override
    public byte[] body() {
      return message.body;
    }

    @Override
    public String queue() {
      return queueName;
    }

    @Override
    public boolean redelivered() {
      return message.deliveries > 1;
    }

    @Override
    public int deliveryCount() {
      return message.deliveries;
    }

    private boolean settle() {
      if (settled.compareAndSet(false, true)) {
        unsettled.remove(this);
        return true;
      }
      return false;
    }

    void returnToHead() {
      if (settle()) {
        Queue queue = MemoryBroker.this.queue(queueName);
        queue.lock.lock();
        try {
          queue.messages.addFirst(message);
          queue.notEmpty.signal();
        } finally {
          queue.lock.unlock();
        }
        endTransit();
      }
    }

    @Override
    public void ack() {
      if (settle()) {
        endTransit();
      }
    }

    @Override
    public void requeue(Duration delay) {
      if (settle()) {
        requeueMessage(message, delay);
        endTransit();
      }
    }

    /**
     * The replacement is a new message: its delivery count starts again (the worker counts in its
     * headers).
     */
    @Override
    public void requeue(Duration delay, byte[] replacement) {
      if (settle()) {
        requeueMessage(new Message(replacement.clone(), 0, message.lane), delay);
        endTransit();
      }
    }

    private void requeueMessage(Message requeued, Duration delay) {
      requeues.incrementAndGet();
      if (delay.isZero() || delay.isNegative()) {
        push(queueName, requeued);
      } else {
        schedule(queueName, requeued, clock.millis() + delay.toMillis());
      }
    }

    @Override
    public void deadLetter(String reason) {
      if (settle()) {
        deadLetters.add(
            new Dead(
                deadLetterIds.incrementAndGet(),
                clock.instant(),
                new DeadLetter(queueName, message.body, reason)));
        endTransit();
      }
    }
  }

  /**
   * Ends a message's transit once it is where it goes (a requeue is queued before it stops counting
   * as in transit, so an idle check never sees it in neither place).
   */
  private void endTransit() {
    changes.incrementAndGet();
    if (inTransit.decrementAndGet() == 0 && idleWaiters.get() > 0) {
      idleLock.lock();
      try {
        idleChanged.signalAll();
      } finally {
        idleLock.unlock();
      }
    }
  }

  // ------------------------------------------------------------------------------ for VirtualTime

  /**
   * Moves every delayed message due at the clock's instant to its queue, in the caller's thread.
   *
   * @return how many moved
   */
  int promoteDue() {
    List<DelayedMessage> due = new ArrayList<>();
    delayedLock.lock();
    try {
      long now = clock.millis();
      while (!delayed.isEmpty() && delayed.peek().dueMillis <= now) {
        due.add(delayed.poll());
        inTransit.incrementAndGet();
      }
    } finally {
      delayedLock.unlock();
    }
    for (DelayedMessage message : due) {
      push(message.queue, message.message);
      endTransit();
    }
    return due.size();
  }

  /** The due time of the soonest delayed message, in epoch milliseconds; -1 when none waits. */
  long nextDueMillis() {
    delayedLock.lock();
    try {
      DelayedMessage head = delayed.peek();
      return head == null ? -1 : head.dueMillis;
    } finally {
      delayedLock.unlock();
    }
  }

  /**
   * Waits until nothing can happen without time moving: every queue a consumer fetches from is
   * empty, every delivery is settled and no delayed message is due. Queues nobody consumes (no
   * worker, or a paused one) do not count.
   *
   * @param deadlineNanos {@link System#nanoTime()} at which to give up
   * @return null when idle, else what was still busy at the deadline
   */
  @Nullable String awaitIdle(long deadlineNanos) throws InterruptedException {
    idleWaiters.incrementAndGet();
    try {
      while (true) {
        promoteDue();
        long before = changes.get();
        String busy = busy();
        if (busy == null && changes.get() == before) {
          return null; // one moment: nothing was pushed, scheduled or settled during the check
        }
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return busy == null ? "messages moving between queues and workers" : busy;
        }
        idleLock.lock();
        try {
          // the end of the last transit signals; with none in transit, queued messages are about
          // to be fetched, so look again soon (the short cap also notices a consumer that stops)
          long cap = TimeUnit.MILLISECONDS.toNanos(inTransit.get() > 0 ? 100 : 1);
          idleChanged.awaitNanos(Math.min(left, cap));
        } finally {
          idleLock.unlock();
        }
      }
    } finally {
      idleWaiters.decrementAndGet();
    }
  }

  /** What keeps this broker from being idle, or null. Queues are read before deliveries. */
  private @Nullable String busy() {
    StringBuilder busy = new StringBuilder();
    Set<String> consumed = new TreeSet<>();
    for (MemoryConsumer consumer : consumers) {
      if (consumer.fetching.get()) {
        consumed.add(consumer.queueName);
      }
    }
    for (String name : consumed) {
      Queue queue = queue(name);
      int size;
      queue.lock.lock();
      try {
        size = queue.messages.size();
      } finally {
        queue.lock.unlock();
      }
      if (size > 0) {
        busy.append(busy.isEmpty() ? "" : "; ")
            .append("queue ")
            .append(name)
            .append(": ")
            .append(size)
            .append(" waiting");
      }
    }
    long moving = inTransit.get();
    if (moving > 0) {
      busy.append(busy.isEmpty() ? "" : "; ")
          .append(moving)
          .append(moving == 1 ? " message" : " messages")
          .append(" in transit (handed to a worker and not settled, or becoming due)");
    }
    long due = nextDueMillis();
    if (due >= 0 && due <= clock.millis()) {
      busy.append(busy.isEmpty() ? "" : "; ").append("delayed messages due");
    }
    return busy.isEmpty() ? null : busy.toString();
  }

  @Override
  public List<Signature> pendingTasks(String queueName) {
    Queue queue = queue(queueName.isEmpty() ? config.defaultQueue() : queueName);
    List<byte[]> snapshot;
    queue.lock.lock();
    try {
      snapshot = queue.messages.snapshot().stream().map(Message::body).toList();
    } finally {
      queue.lock.unlock();
    }
    return decodeAll(snapshot);
  }

  @Override
  public List<Signature> delayedTasks() {
    List<DelayedMessage> snapshot;
    delayedLock.lock();
    try {
      snapshot = new ArrayList<>(delayed);
    } finally {
      delayedLock.unlock();
    }
    snapshot.sort((a, b) -> Long.compare(a.dueMillis, b.dueMillis));
    return decodeAll(snapshot.stream().map(d -> d.message.body).toList());
  }

  private static List<Signature> decodeAll(List<byte[]> messages) {
    List<Signature> out = new ArrayList<>(messages.size());
    for (byte[] message : messages) {
      try {
        out.add(WireCodec.decodeSignature(message));
      } catch (MalformedMessageException e) {
        log.warn("Skipping a malformed message while listing tasks: {}", e.getMessage());
      } catch (StackOverflowError e) {
        log.warn("Skipping a message nested too deeply to decode while listing tasks");
      }
    }
    return out;
  }

  /** Messages that could never be handled, with their reasons, oldest first. */
  public List<DeadLetter> deadLetters() {
    return deadLetters.stream().map(Dead::letter).toList();
  }

  /** Pending counts, listings, dead-letter repair and purge for this broker. */
  @Override
  public Optional<Inspector> inspector() {
    return Optional.of(new MemoryInspector(this, config));
  }

  /** The workers of this process and the paused queues, in memory. */
  @Override
  public Optional<ControlPlane> controlPlane() {
    return Optional.of(controlPlane);
  }

  // ------------------------------------------------------------------------------ for the
  // MemoryInspector

  Set<String> knownQueues() {
    Set<String> names = new TreeSet<>(queues.keySet());
    deadLetters.forEach(d -> names.add(d.letter().queue()));
    delayedLock.lock();
    try {
      delayed.forEach(d -> names.add(d.queue));
    } finally {
      delayedLock.unlock();
    }
    return names;
  }

  /**
   * Pending count, and the enqueue time of the oldest pending message (or -1), read under the
   * queue's lock.
   */
  long[] pendingCountAndOldest(String queueName) {
    Queue queue = queues.get(queueName);
    if (queue == null) {
      return new long[] {0, -1};
    }
    queue.lock.lock();
    try {
      Message head = queue.messages.oldest(Message::enqueuedMillis);
      return new long[] {queue.messages.size(), head == null ? -1 : head.enqueuedMillis};
    } finally {
      queue.lock.unlock();
    }
  }

  java.util.Map<String, Long> fairnessKeys(String queueName, int limit) {
    Queue queue = queues.get(queueName);
    if (queue == null) {
      return java.util.Map.of();
    }
    queue.lock.lock();
    try {
      return queue.messages.keyCounts(limit);
    } finally {
      queue.lock.unlock();
    }
  }

  void setFairnessWeight(String queueName, String key, int weight) {
    Queue queue = queue(queueName);
    queue.lock.lock();
    try {
      queue.messages.setWeight(key, weight);
    } finally {
      queue.lock.unlock();
    }
  }

  java.util.Map<String, Integer> fairnessWeights(String queueName) {
    Queue queue = queues.get(queueName);
    if (queue == null) {
      return java.util.Map.of();
    }
    queue.lock.lock();
    try {
      return queue.messages.weights();
    } finally {
      queue.lock.unlock();
    }
  }

  List<byte[]> pendingPage(String queueName, int offset, int limit) {
    Queue queue = queues.get(queueName);
    if (queue == null) {
      return List.of();
    }
    queue.lock.lock();
    try {
      return queue.messages.snapshot().stream()
          .skip(offset)
          .limit(limit)
          .map(Message::body)
          .toList();
    } finally {
      queue.lock.unlock();
    }
  }

  long purge(String queueName) {
    Queue queue = queues.get(queueName);
    if (queue == null) {
      return 0;
    }
    queue.lock.lock();
    try {
      int size = queue.messages.size();
      queue.messages.clear();
      return size;
    } finally {
      queue.lock.unlock();
    }
  }

  /** The delayed messages of a queue, soonest first. */
  List<byte[]> delayedOf(String queueName) {
    List<DelayedMessage> snapshot;
    delayedLock.lock();
    try {
      snapshot = new ArrayList<>(delayed);
    } finally {
      delayedLock.unlock();
    }
    snapshot.sort(
        (a, b) ->
            a.dueMillis != b.dueMillis
                ? Long.compare(a.dueMillis, b.dueMillis)
                : Long.compare(a.sequence, b.sequence));
    return snapshot.stream()
        .filter(d -> d.queue.equals(queueName))
        .map(d -> d.message.body)
        .toList();
  }

  long clockMillis() {
    return clock.millis();
  }

  /** The clock its ETAs and delays follow. */
  Clock clock() {
    return clock;
  }

  List<Dead> deadEntries() {
    return List.copyOf(deadLetters);
  }

  /**
   * Takes a dead letter out; true when it was still there (so two repairs never both requeue it).
   */
  boolean removeDead(Dead dead) {
    return deadLetters.remove(dead);
  }

  /** Pushes a message to a queue's tail as freshly published (delivery count 0). */
  void republish(String queueName, byte[] message) {
    checkOpen();
    push(queueName, new Message(message.clone(), 0, laneOf(message)));
  }

  /**
   * Puts a raw message at the tail of a queue, as another producer could (for tests of bad input).
   */
  public void pushRaw(String queueName, byte[] message) {
    push(queueName, new Message(message.clone(), 0, laneOf(message)));
  }

  /** How many consumers are waiting for a message on {@code queueName} (for tests). */
  int waitingConsumers(String queueName) {
    Queue queue = queue(queueName);
    queue.lock.lock();
    try {
      return queue.lock.getWaitQueueLength(queue.notEmpty);
    } finally {
      queue.lock.unlock();
    }
  }

  /**
   * How many times workers requeued a message (with or without a replacement) since this broker
   * started.
   */
  public long requeueCount() {
    return requeues.get();
  }

  private void checkOpen() {
    if (closed.get()) {
      throw new MachineryException("the memory broker is closed");
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (MemoryConsumer consumer : consumers) {
      consumer.brokerClosed();
    }
    Thread p = promoter;
    if (p != null) {
      p.interrupt();
    }
  }
}
