package io.machinery.outbox.jdbc;

import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.outbox.jdbc.internal.Backoff;
import io.machinery.outbox.jdbc.internal.ClaimTuning;
import io.machinery.outbox.jdbc.internal.OutboxTable;
import io.machinery.outbox.jdbc.internal.RelayPass;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes the committed rows of an outbox table ({@link TaskOutbox}) through a {@link Server}'s
 * broker, at least once and in order per sender, and deletes each row once the broker has accepted
 * it.
 *
 * <pre>{@code
 * try (OutboxRelay relay = OutboxRelay.builder(server, dataSource).build()) {
 *   ... // relays until closed
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>One pass, one transaction.</b> A pass claims up to {@link Builder#maxSenders} senders,
 *       reads up to {@link Builder#batchSize} rows of each in sequence order, publishes them with
 *       {@link Server#sendTasks} (PENDING stored, routing key chosen, listeners told, as Go's
 *       {@code SendTask} does, one pipelined write on Redis), deletes the rows the broker accepted,
 *       and commits. A group row is recorded with the backend's {@code initGroup} before its
 *       members are published, once: a retry of that row does not record it again (which would
 *       reset a chord that already fired), as {@code RelayPass} explains.
 *   <li><b>Claiming a sender.</b> A sender's first row (lowest {@code seq}) is its token: a pass
 *       locks the first rows of senders with {@code SELECT ... FOR UPDATE SKIP LOCKED}, so a sender
 *       whose first row another relay holds is skipped, and only the relay holding it reads that
 *       sender's further rows. Several relays on one table thus work on different senders, never
 *       publish one row at the same time, and never publish a sender's rows out of order. A relay
 *       that dies holds nothing: the database ends its transaction and releases the locks. The
 *       claim first lists the senders by skipping through the sender index, up to twice {@link
 *       Builder#maxSenders} (at least 32): when that lists them all, it looks the claimable ones up
 *       by key (about 2 ms for one sender's 100,000 rows, or 20 senders all backing off, on
 *       PostgreSQL 15); with more senders it reads the waiting rows in {@code seq} order a page at
 *       a time, claims among each page's rows by key, and stops once it has {@link
 *       Builder#maxSenders} senders (about 2 ms with 100,000 rows of 10,000 senders). When fewer
 *       can be claimed (many senders all backing off: a broker outage with a backlog), it stops
 *       paging after a sixteenth of the table's rows (at least the first page, as many rows as the
 *       senders it lists) and claims among the rest by reading the sender index once: 50-60 ms a
 *       pass for 10,000 senders' 100,000 rows, where a lookup per waiting row took 230-360 ms.
 *   <li><b>At least once.</b> Rows are deleted in the transaction that claimed them, after the
 *       broker confirmed. When a publish fails, the sender's batch stays whole (some of it may have
 *       reached the broker: those tasks are published again later, and their PENDING state written
 *       again), and the pass stops there. Any exception or {@link Error} a pass throws is a failed
 *       pass: only {@link #close} ends the thread.
 *   <li><b>Failing senders yield.</b> A failure may be one sender's alone (a task the pre-publish
 *       handler refuses, a full bounded queue, a row whose message cannot be decoded), so the
 *       sender that failed waits a back-off of its own, written into its first row ({@code
 *       attempts}, {@code next_attempt_at}, on the database's clock): Go's Fibonacci steps times
 *       {@link Builder#retryBackoff}, by its failures in a row, at most {@link
 *       Builder#maxRetryBackoff}; {@link Builder#maxRetryBackoff} for an undecodable row, which
 *       waits for a person to delete or repair it, with an error log naming it. Every relay on the
 *       table honours it, and passes go on without the sender meanwhile: the relay itself does not
 *       pause after a sender's failure beyond its {@link Builder#pollInterval}, so a healthy row is
 *       relayed promptly however long a failing sender waits. Once due, a failing sender is tried
 *       after the senders that did not fail; however many keep failing, the others are relayed. A
 *       broker outage fails each sender in turn, each then waiting its own back-off, so the broker
 *       sees at most one attempt per poll interval and per due sender; each is relayed again once
 *       its back-off has run out, within {@link Builder#maxRetryBackoff}. Logged once per failed
 *       pass, and once per sender on recovery. A pass that fails short of any sender (the database
 *       unreachable) makes the relay wait the same steps, by such failures in a row.
 *   <li><b>Order.</b> A sender's rows are handed to the broker in {@code seq} order in one list
 *       ({@link io.machinery.spi.Broker#publishAllAsync}), so a broker that applies one
 *       connection's writes in order (Redis, one AMQP channel) delivers them in that order. After a
 *       failure the whole batch is published again, so a later task may be delivered a second time
 *       after an earlier one.
 *   <li><b>Threads.</b> One platform thread per relay, started by {@link Builder#build}. {@link
 *       #close} stops it without waiting for a slow broker: the pass in flight is aborted (its
 *       connection is aborted, so its transaction rolls back) and its rows are published again by
 *       the next pass of any relay. Written for and tested on PostgreSQL 15 only: {@code FOR UPDATE
 *       SKIP LOCKED}, {@code LIMIT}, {@code clock_timestamp()} and interval arithmetic in the
 *       relay's SQL, {@code pg_catalog} when it creates the table.
 * </ul>
 *
 * <p>A pass itself is {@code internal.RelayPass}; this class is the lifecycle and the documented
 * builder (the builder is why it runs past 400 lines).
 */
public final class OutboxRelay implements AutoCloseable {
  /** Rows of one sender published in one pass, unless {@link Builder#batchSize} says otherwise. */
  public static final int DEFAULT_BATCH_SIZE = 100;

  /** Senders claimed in one pass, unless {@link Builder#maxSenders} says otherwise. */
  public static final int DEFAULT_MAX_SENDERS = 16;

  /**
   * The wait after a pass that found nothing, unless {@link Builder#pollInterval} says otherwise.
   */
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofMillis(200);

  /** The first back-off step after a failed pass. */
  public static final Duration DEFAULT_RETRY_BACKOFF = Duration.ofMillis(200);

  /** The longest back-off after failed passes. */
  public static final Duration DEFAULT_MAX_RETRY_BACKOFF = Duration.ofSeconds(10);

  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(30);

  private final DataSource dataSource;
  private final OutboxTable table;
  private final RelayPass pass;
  private final Duration pollInterval;
  private final Duration maxRetryBackoff;
  private final Backoff backoff;
  private final Thread thread;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private volatile boolean closed;

  /** The connection passes run on; set and cleared by the relay's thread, aborted by close(). */
  private volatile @Nullable Connection connection;

  private final AtomicLong published = new AtomicLong();
  private final AtomicLong failedPasses = new AtomicLong();

  private OutboxRelay(Builder b) {
    this.dataSource = b.dataSource;
    this.table = OutboxTable.named(b.table);
    this.backoff = new Backoff(b.retryBackoff, b.maxRetryBackoff);
    this.pass =
        new RelayPass(b.server, table, b.batchSize, b.maxSenders, backoff, ClaimTuning.DEFAULT);
    this.pollInterval = b.pollInterval;
    this.maxRetryBackoff = b.maxRetryBackoff;
    this.thread =
        Thread.ofPlatform()
            .name("machinery-outbox-relay-" + table.name())
            .daemon(true)
            .unstarted(this::run);
  }

  /**
   * Starts building a relay.
   *
   * @param server publishes through its broker and stores PENDING in its backend; not closed by the
   *     relay
   * @param dataSource the database holding the outbox table; a connection is taken per pass
   * @return a builder with the {@code DEFAULT_*} settings
   */
  public static Builder builder(Server server, DataSource dataSource) {
    return new Builder(
        Objects.requireNonNull(server, "server"), Objects.requireNonNull(dataSource, "dataSource"));
  }

  /**
   * Returns how many rows this relay has published and deleted since it started.
   *
   * @return the count of published rows (group rows included)
   */
  public long publishedRows() {
    return published.get();
  }

  /**
   * Returns how many passes failed since the relay started (broker or database unreachable, a row
   * that cannot be decoded); a health check may watch it.
   *
   * @return the count of failed passes
   */
  public long failedPasses() {
    return failedPasses.get();
  }

  /**
   * Stops relaying: the pass in flight is aborted and rolled back (its rows stay and are published
   * again, at least once), and the relay's thread has ended when this returns. Idempotent; may be
   * called from any thread, also from a listener the relay's publishing calls.
   */
  @Override
  public void close() {
    closed = true;
    Connection held = connection;
    if (held != null) {
      try {
        held.abort(Runnable::run);
      } catch (SQLException | RuntimeException e) {
        LOG.debug("outbox relay: aborting the connection of the pass in flight failed", e);
      }
    }
    lock.lock();
    try {
      wake.signalAll();
    } finally {
      lock.unlock();
    }
    if (Thread.currentThread() == thread) {
      return; // called from within a pass: the loop ends when the pass returns
    }
    thread.interrupt();
    try {
      if (!thread.join(CLOSE_WAIT)) {
        LOG.warn(
            "outbox relay on {}: its thread did not end within {} of close()",
            table.name(),
            CLOSE_WAIT);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void run() {
    try {
      loop();
    } finally {
      discard(null);
    }
  }

  private void loop() {
    int failures = 0; // failed passes in a row that got no further than the database
    while (!closed) {
      RelayPass.Result done;
      long passStarted = System.nanoTime();
      try {
        done = pass();
      } catch (Exception | Error e) {
        // an Error too (a driver's or a listener's): ending the thread would stop relaying silently
        if (closed) {
          LOG.info(
              "outbox relay on {}: closed during a pass; its rows stay and are published again",
              table.name());
          return;
        }
        failures++;
        failedPasses.incrementAndGet();
        Duration delay = backoff.after(failures);
        LOG.warn(
            "outbox relay on {}: pass failed ({} in a row), rows stay in the table; retrying in"
                + " {}: {}",
            table.name(),
            failures,
            delay,
            e.toString());
        pause(delay);
        continue;
      }
      failures = recovered(failures);
      Throwable failure = done.failure();
      if (failure != null) {
        // A sender's own failure, its back-off written into its row: the relay does not wait for
        // it (a broker outage fails each sender in turn, then each waits its own back-off).
        failedPasses.incrementAndGet();
        LOG.warn(
            "outbox relay on {}: pass stopped, rows stay in the table: {}",
            table.name(),
            failure.toString());
      }
      if (done.published() == 0) {
        pause(idlePause(pollInterval, maxRetryBackoff, System.nanoTime() - passStarted));
      }
    }
  }

  /**
   * The wait after a pass that published nothing: the poll interval, or four times what the pass
   * took when that is longer (at most {@code maxRetryBackoff}), so that passes finding nothing take
   * at most about a fifth of the database's time. Such a pass is cheap unless many senders are all
   * backing off (a broker outage with a backlog): then the claim reads a sixteenth of the waiting
   * rows with a lookup each and the whole sender index, 50-60 ms for 100,000 rows of 10,000 senders
   * and about ten times that for a million, and polling every 200 ms would keep a database core
   * busy for the whole outage.
   */
  static Duration idlePause(Duration pollInterval, Duration maxRetryBackoff, long passNanos) {
    Duration proportional = Duration.ofNanos(Math.max(0, passNanos) * 4);
    if (proportional.compareTo(pollInterval) <= 0) {
      return pollInterval;
    }
    return proportional.compareTo(maxRetryBackoff) < 0
        ? proportional
        : (maxRetryBackoff.compareTo(pollInterval) > 0 ? maxRetryBackoff : pollInterval);
  }

  /** Logs the end of a run of failed passes, if there was one; returns 0. */
  private int recovered(int failures) {
    if (failures > 0) {
      LOG.info("outbox relay on {}: relaying again after {} failed passes", table.name(), failures);
    }
    return 0;
  }

  private void pause(Duration delay) {
    long deadline = System.nanoTime() + delay.toNanos();
    lock.lock();
    try {
      long left;
      while (!closed && (left = deadline - System.nanoTime()) > 0) {
        wake.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      // close() interrupts; the loop checks closed
    } finally {
      lock.unlock();
    }
  }

  /**
   * One pass on the relay's connection; a connection that threw is replaced by the next pass.
   *
   * @return what the pass did, with its failure if it stopped early
   */
  private RelayPass.Result pass() throws Exception {
    Connection held = connection();
    RelayPass.Result result;
    try {
      result = pass.run(held, () -> closed);
    } catch (Exception | Error e) {
      discard(e);
      throw e;
    }
    published.addAndGet(result.published());
    return result;
  }

  /**
   * The relay's connection, kept across passes (an idle pass costs three indexed queries, no
   * login).
   */
  private Connection connection() throws SQLException {
    Connection held = connection;
    if (held == null) {
      held = dataSource.getConnection();
      connection = held; // before setAutoCommit: close() aborts it, a failure discards it
      try {
        held.setAutoCommit(false);
      } catch (SQLException | RuntimeException e) {
        discard(e); // never kept in auto-commit mode: its locks would not hold a sender
        throw e;
      }
    }
    return held;
  }

  /** Closes the relay's connection (rolling back what is open) and forgets it. */
  private void discard(@Nullable Throwable cause) {
    Connection held = connection;
    connection = null;
    if (held != null) {
      try {
        if (!held.isClosed()) {
          held.rollback();
        }
      } catch (SQLException e) {
        if (cause != null) {
          cause.addSuppressed(e);
        }
      }
      try {
        held.close();
      } catch (SQLException e) {
        if (cause != null) {
          cause.addSuppressed(e);
        }
      }
    }
  }

  /** Builds and starts an {@link OutboxRelay}; not thread-safe. */
  public static final class Builder {
    private final Server server;
    private final DataSource dataSource;
    private String table = TaskOutbox.DEFAULT_TABLE;
    private int batchSize = DEFAULT_BATCH_SIZE;
    private int maxSenders = DEFAULT_MAX_SENDERS;
    private Duration pollInterval = DEFAULT_POLL_INTERVAL;
    private Duration retryBackoff = DEFAULT_RETRY_BACKOFF;
    private Duration maxRetryBackoff = DEFAULT_MAX_RETRY_BACKOFF;
    private boolean createTable;

    private Builder(Server server, DataSource dataSource) {
      this.server = server;
      this.dataSource = dataSource;
    }

    /**
     * Sets the outbox table.
     *
     * @param value a plain SQL identifier, optionally {@code schema.table}
     * @return this builder
     * @throws IllegalArgumentException for anything else
     */
    public Builder table(String value) {
      OutboxTable.named(value);
      this.table = value;
      return this;
    }

    /**
     * Sets how many rows of one sender one pass publishes at most.
     *
     * @param value at least 1
     * @return this builder
     * @throws IllegalArgumentException when below 1
     */
    public Builder batchSize(int value) {
      this.batchSize = positive(value, "batchSize");
      return this;
    }

    /**
     * Sets how many senders one pass claims at most.
     *
     * @param value at least 1
     * @return this builder
     * @throws IllegalArgumentException when below 1
     */
    public Builder maxSenders(int value) {
      this.maxSenders = positive(value, "maxSenders");
      return this;
    }

    /**
     * Sets the wait after a pass that found nothing to publish.
     *
     * @param value positive
     * @return this builder
     * @throws IllegalArgumentException when not positive
     */
    public Builder pollInterval(Duration value) {
      this.pollInterval = positive(value, "pollInterval");
      return this;
    }

    /**
     * Sets the first back-off step of a sender after its failed publish, and of the relay after a
     * pass the database failed; later steps grow as Go's Fibonacci retry.
     *
     * @param value positive
     * @return this builder
     * @throws IllegalArgumentException when not positive
     */
    public Builder retryBackoff(Duration value) {
      this.retryBackoff = positive(value, "retryBackoff");
      return this;
    }

    /**
     * Sets the longest back-off of a sender whose publishes keep failing and of the relay after
     * passes the database failed; also how often a row that cannot be decoded is tried again (its
     * sender is passed over in between).
     *
     * @param value positive
     * @return this builder
     * @throws IllegalArgumentException when not positive
     */
    public Builder maxRetryBackoff(Duration value) {
      this.maxRetryBackoff = positive(value, "maxRetryBackoff");
      return this;
    }

    /**
     * Creates the outbox table and its indexes when {@link #build} runs, if they are missing, and
     * adds the columns of later versions to a table an earlier version created.
     *
     * @param value whether to create them
     * @return this builder
     */
    public Builder createTable(boolean value) {
      this.createTable = value;
      return this;
    }

    /**
     * Creates the table if asked, then starts the relay's thread.
     *
     * @return the running relay; the caller closes it
     * @throws IllegalArgumentException when {@code maxRetryBackoff} is below {@code retryBackoff}
     * @throws MachineryException when the table cannot be created
     */
    public OutboxRelay build() {
      if (maxRetryBackoff.compareTo(retryBackoff) < 0) {
        throw new IllegalArgumentException(
            "maxRetryBackoff ("
                + maxRetryBackoff
                + ") must not be below retryBackoff ("
                + retryBackoff
                + ")");
      }
      OutboxRelay relay = new OutboxRelay(this);
      if (createTable) {
        try (Connection connection = dataSource.getConnection()) {
          relay.table.create(connection);
        } catch (SQLException e) {
          throw new MachineryException(
              "cannot create the outbox table " + table + ": " + e.getMessage(), e);
        }
      }
      relay.thread.start();
      return relay;
    }

    private static int positive(int value, String what) {
      if (value < 1) {
        throw new IllegalArgumentException(what + " must be at least 1, was " + value);
      }
      return value;
    }

    private static Duration positive(Duration value, String what) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(what + " must be positive, was " + value);
      }
      return value;
    }
  }
}
