package io.machinery;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A broker that moves a cluster from one broker to another while it runs: it sends every task to
 * the new broker and consumes from both, so the tasks still waiting in the old one (queued,
 * delayed, held by a worker that dies, or sent there by processes not yet moved, Go's included) are
 * run too. Once the old broker's queues stay empty and no process sends to it any more, drop the
 * old broker from the configuration.
 *
 * <pre>{@code
 * Server server = Server.builder()
 *     .config(config)
 *     .broker(MigratingBroker.of(RedisBroker.create(oldConfig), SqsBroker.create(newConfig)))
 *     .backend(backend)
 *     .build();
 * }</pre>
 *
 * <p>From configuration: {@code MACHINERY_MIGRATE_FROM_BROKER} (YAML {@code migrate_from_broker},
 * Spring {@code machinery.migrate-from-broker}) names the old broker beside {@code BROKER}, and
 * {@link Machinery#connect} builds this broker.
 *
 * <p>Design notes:
 *
 * <ul>
 *   <li><b>Sends</b> (tasks, retries, callbacks, chord and chain steps) all go to the new broker,
 *       so the old one only drains. A delivery settles with the broker it came from: an ack, a
 *       requeue or a dead letter of a task from the old broker stays in the old broker (a requeued
 *       task is consumed there again; a retry is a send, so it moves).
 *   <li><b>Consuming</b>: each consumption starts one consumer on each broker, sharing the worker's
 *       slots ({@link SharedSlots}: the worker's concurrency bounds both together, and a consumer
 *       waiting on its empty queue holds no slot the other needs). Each broker keeps its own
 *       at-least-once guarantee (leases, redelivery, visibility), unchanged.
 *   <li><b>Cluster state stays where it was</b>: the {@link #controlPlane()} is the old broker's
 *       (the one the processes not yet moved use; empty when it has none, so the server falls back
 *       to the backend's, as those processes do), and {@link Machinery#connect} takes an implicit
 *       lock from the old broker's URL. Moving them is the last step, with the configuration change
 *       that ends the migration.
 *   <li><b>Inspection</b> sees both: sizes are sums, listings page through the old broker's tasks
 *       first (they are older), then the new one's; repairs act on both. There is an {@link
 *       #inspector()} only when both brokers have one; {@link #from()} inspects the old broker
 *       alone, to see what is left.
 *   <li><b>Ownership</b>: this broker takes the two it is given; closing it closes both.
 * </ul>
 */
public final class MigratingBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(MigratingBroker.class);

  private final Broker from;
  private final Broker to;
  private final Optional<MigrationInspector> inspector;

  private MigratingBroker(Broker from, Broker to) {
    this.from = Objects.requireNonNull(from, "from");
    this.to = Objects.requireNonNull(to, "to");
    if (from == to) {
      throw new IllegalArgumentException("a migration needs two brokers; both are " + from);
    }
    Optional<Inspector> old = from.inspector();
    Optional<Inspector> fresh = to.inspector();
    this.inspector =
        old.isPresent() && fresh.isPresent()
            ? Optional.of(new MigrationInspector(old.get(), fresh.get()))
            : Optional.empty();
  }

  /**
   * Builds a broker that sends to {@code to} and consumes from both.
   *
   * @param from the broker the cluster moves away from
   * @param to the broker it moves to
   * @return the broker, which owns both: closing it closes them
   * @throws IllegalArgumentException if both are the same object
   */
  public static MigratingBroker of(Broker from, Broker to) {
    return new MigratingBroker(from, to);
  }

  /**
   * Builds the broker a configuration names: {@code build}'s broker of {@link Config#broker()}, or,
   * while {@link Config#migrateFromBroker()} is set, a migrating broker to that one from {@code
   * build}'s broker of the old URL (given the same config with {@code broker} set to the old URL
   * and no migration), each reading its own technology's settings. {@link Machinery#connect} and
   * the Spring Boot starter read a move this way.
   *
   * @param config the configuration
   * @param settings what the caller's users call the two URL settings, for its errors (e.g. {@code
   *     BROKER} and {@code MACHINERY_MIGRATE_FROM_BROKER})
   * @param build builds one broker from a config whose {@link Config#broker()} names it, told which
   *     setting named that URL (for its own errors)
   * @return the single broker, or a {@link MigratingBroker} owning both
   * @throws IllegalArgumentException if the old URL is the new one (a move to itself)
   * @throws RuntimeException whatever {@code build} throws; the new broker is closed first when the
   *     old one cannot be built
   */
  public static Broker fromConfig(
      Config config, Settings settings, BiFunction<Config, String, Broker> build) {
    return Moves.fromConfig(
        "broker",
        config.broker(),
        config.migrateFromBroker(),
        settings.broker(),
        settings.migrateFromBroker(),
        () -> build.apply(config, settings.broker()),
        () ->
            build.apply(
                config.toBuilder().broker(config.migrateFromBroker()).migrateFromBroker("").build(),
                settings.migrateFromBroker()),
        MigratingBroker::of,
        Broker::close);
  }

  /**
   * What users of a caller of {@link #fromConfig} call its two URL settings.
   *
   * @param broker the broker's URL setting (e.g. {@code BROKER})
   * @param migrateFromBroker the old broker's (e.g. {@code MACHINERY_MIGRATE_FROM_BROKER})
   */
  public record Settings(String broker, String migrateFromBroker) {
    /** The names of environment variables (and of Go Machinery's {@code BROKER}). */
    public static final Settings ENVIRONMENT =
        new Settings("BROKER", "MACHINERY_MIGRATE_FROM_BROKER");

    /** Checks that neither name is null. */
    public Settings {
      Objects.requireNonNull(broker, "broker");
      Objects.requireNonNull(migrateFromBroker, "migrateFromBroker");
    }
  }

  /**
   * Returns the broker the cluster moves away from, to see what is left in it.
   *
   * @return the old broker
   */
  public Broker from() {
    return from;
  }

  /**
   * Returns the broker the cluster moves to, where every send goes.
   *
   * @return the new broker
   */
  public Broker to() {
    return to;
  }

  @Override
  public void publish(Signature signature, byte[] message) {
    to.publish(signature, message);
  }

  @Override
  public Optional<Object> writeOrder() {
    return to.writeOrder();
  }

  @Override
  public WriteBatch batchWrites() {
    return to.batchWrites();
  }

  @Override
  public CompletableFuture<Void> publishAsync(Signature signature, byte[] message) {
    return to.publishAsync(signature, message);
  }

  @Override
  public List<CompletableFuture<Void>> publishAllAsync(
      List<Signature> signatures, List<byte[]> messages) {
    return to.publishAllAsync(signatures, messages);
  }

  @Override
  public String routingKeyFor(Signature signature) {
    return to.routingKeyFor(signature);
  }

  @Override
  public String queueFor(String routingKey) {
    return to.queueFor(routingKey);
  }

  /**
   * Starts a consumer of {@code queue} on each broker, both handing their deliveries to {@code
   * handler}.
   */
  @Override
  public Consumption startConsuming(String consumerTag, String queue, DeliveryHandler handler) {
    SharedSlots slots = new SharedSlots(handler, consumerTag);
    Consumption old;
    Consumption fresh;
    try {
      try {
        old = from.startConsuming(consumerTag, queue, slots.side());
      } catch (IllegalStateException closed) {
        // the old broker closed under the move (a worker starts a new consumer when it sees that):
        // the move goes on with the new broker alone; a closed new one refuses below
        log.warn(
            "Consumer {}: the old broker of the move is closed ({}); consuming from the new one alone",
            consumerTag,
            closed.getMessage());
        old = NOTHING;
      }
      try {
        fresh = to.startConsuming(consumerTag, queue, slots.side());
      } catch (RuntimeException e) {
        old.close();
        throw e;
      }
    } catch (RuntimeException e) {
      slots.stop();
      throw e;
    }
    log.info(
        "Consumer {}: migrating queue {}: consuming from {} (old) and {} (new), sending to the new",
        consumerTag,
        queue.isEmpty() ? "(default)" : queue,
        from.getClass().getSimpleName(),
        to.getClass().getSimpleName());
    return new BothConsumptions(old, fresh, slots);
  }

  /** The old broker's waiting tasks, then the new one's. */
  @Override
  public List<Signature> pendingTasks(String queue) {
    return concat(from.pendingTasks(queue), to.pendingTasks(queue));
  }

  /** The old broker's delayed tasks, then the new one's. */
  @Override
  public List<Signature> delayedTasks() {
    return concat(from.delayedTasks(), to.delayedTasks());
  }

  private static <T> List<T> concat(List<T> first, List<T> second) {
    List<T> all = new ArrayList<>(first.size() + second.size());
    all.addAll(first);
    all.addAll(second);
    return all;
  }

  @Override
  public Optional<Inspector> inspector() {
    return inspector.map(Inspector.class::cast);
  }

  /**
   * Reads each broker's queue sizes once, for a view of the move that shows both apart and their
   * sums (a dashboard's overview): the {@link #inspector()}'s {@code queues()} would read both
   * again for the sums.
   *
   * @return both brokers' queue sizes; empty when either broker cannot be inspected
   * @throws RuntimeException whatever a broker's inspector throws when it cannot read
   */
  public Optional<QueueSizes> queueSizes() {
    return inspector.map(MigrationInspector::queueSizes);
  }

  /**
   * Both brokers' queue sizes, read at about the same time.
   *
   * @param old the old broker's queues, in its inspector's order
   * @param fresh the new broker's queues, in its inspector's order
   */
  public record QueueSizes(List<QueueStats> old, List<QueueStats> fresh) {
    /** Copies both lists. */
    public QueueSizes {
      old = List.copyOf(old);
      fresh = List.copyOf(fresh);
    }

    /**
     * Returns the queues of both brokers with their sizes added up (the oldest age the older of the
     * two), the old broker's queues first: what the migrating broker's inspector lists.
     *
     * @return the summed queues
     */
    public List<QueueStats> summed() {
      return MigrationInspector.summed(old, fresh);
    }
  }

  /** The old broker's control plane: the one the processes not yet moved share. */
  @Override
  public Optional<ControlPlane> controlPlane() {
    return from.controlPlane();
  }

  /** Closes the new broker, then the old one. */
  @Override
  public void close() {
    try {
      to.close();
    } finally {
      from.close();
    }
  }

  @Override
  public String toString() {
    return "MigratingBroker{from=" + from + ", to=" + to + "}";
  }

  /** In place of the consumer of an old broker that is closed. */
  private static final Consumption NOTHING =
      new Consumption() {
        @Override
        public void stopFetching(Duration timeout) {}

        @Override
        public void close() {}
      };

  /** A consumer on each broker, stopped and closed together, and the slots they share. */
  private record BothConsumptions(Consumption old, Consumption fresh, SharedSlots slots)
      implements Consumption {

    /** Stops both at once, so the wait is bounded by {@code timeout}, not twice it. */
    @Override
    public void stopFetching(Duration timeout) {
      AtomicReference<@Nullable RuntimeException> oldFailure = new AtomicReference<>();
      Thread stoppingOld =
          Thread.ofVirtual()
              .name("migrating-stop")
              .start(
                  () -> {
                    try {
                      old.stopFetching(timeout);
                    } catch (RuntimeException e) {
                      oldFailure.set(e);
                    }
                  });
      try {
        fresh.stopFetching(timeout);
      } finally {
        joinUninterruptibly(stoppingOld);
        slots.stop();
      }
      RuntimeException failure = oldFailure.get();
      if (failure != null) {
        throw failure;
      }
    }

    private static void joinUninterruptibly(Thread thread) {
      boolean interrupted = false;
      while (true) {
        try {
          thread.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }

    /** Gives back what waits for a slot (before the consumers close, so nothing comes twice). */
    @Override
    public void close() {
      slots.stop();
      try {
        fresh.close();
      } finally {
        old.close();
      }
    }
  }
}
