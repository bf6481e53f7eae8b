package io.machinery.backend.amqp;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.AMQP;
import io.machinery.MalformedMessageException;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpNames;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.RabbitManagement;
import io.machinery.client.amqp.UnroutableException;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ControlPlane} of an AMQP-only deployment, kept in RabbitMQ itself: small queues whose
 * existence and messages are the state, so no other store is needed.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Workers.</b> Each worker has a queue {@code machinery_control.worker.<id>} (the id's
 *       SHA-256 when the name would pass RabbitMQ's 255 bytes), declared on every announcement with
 *       {@code x-max-length 1} (a new status drops the old one), {@code x-message-ttl} = the time
 *       to live (the status vanishes when the worker stops announcing) and {@code x-expires} = the
 *       time to live (the queue itself is deleted once unused that long). RabbitMQ's own timers do
 *       the expiry: a crashed worker disappears without a reaper. Statuses are transient messages
 *       in non-durable queues: after a RabbitMQ restart the next heartbeat (one interval) brings
 *       every live worker back. Announcing with a different time to live replaces the queue
 *       (RabbitMQ refuses changed arguments).
 *   <li><b>Pauses.</b> A paused queue is a durable, empty queue {@code
 *       machinery_control.paused.<queue>}: pausing declares it, resuming deletes it; both are
 *       idempotent and survive restarts.
 *   <li><b>Revocations, task limits and breaker openings</b> are a log of changes in RabbitMQ, read
 *       by each process from a ledger queue once and from an inbox of its own after that ({@link
 *       ControlLedger}): {@code Server.cancel}, {@code Inspection.setTaskLimit} and {@code
 *       Inspection.openBreaker} reach every worker within a heartbeat, as on Redis. The cluster's
 *       breaker windows and trials (shared breakers) need an atomic count and stay refused: each
 *       worker's breaker then counts and runs its trials alone.
 *   <li><b>Listing.</b> AMQP cannot list queues, so {@link #workers()} and a listing of {@link
 *       #pausedQueues()} find them through the management API; queue names come from RabbitMQ's
 *       metadata and do not lag. Statuses are read with basic.get on one channel and returned at
 *       once by closing it (a status read while the worker announces may be the previous one, a
 *       heartbeat old).
 *   <li><b>A heartbeat asks about its own queue only.</b> {@link #isPaused}, all a worker's
 *       heartbeat calls, is one passive {@code queue.declare} of that queue's pause marker (one
 *       AMQP round trip, however many queues the vhost holds); only {@link #pausedQueues()} lists
 *       the markers through the management API. So a heartbeat makes one passive declaration, one
 *       declaration and one confirmed publish, and never waits for the management API, which takes
 *       seconds on a vhost with tens of thousands of queues (the AMQP result backend keeps one per
 *       task).
 *   <li><b>Time to live.</b> At least {@link #MIN_TTL}, whatever the worker asks: {@link
 *       #workers()} still lists through the management API, which takes seconds on a large vhost,
 *       and a status must outlive the listing that looks for it. A dead worker is therefore listed
 *       up to that long. (The heartbeat no longer waits for that API, so it is not what the minimum
 *       is for.)
 *   <li><b>Limits.</b> A queue name whose control queue would pass 255 bytes cannot be paused
 *       (IllegalArgumentException). Without the management plugin, announcing works but listing
 *       fails; the worker's heartbeat logs that once and keeps consuming.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class AmqpControlPlane implements ControlPlane, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AmqpControlPlane.class);
  static final String WORKER_PREFIX = "machinery_control.worker.";
  static final String PAUSED_PREFIX = "machinery_control.paused.";
  private static final int MAX_QUEUE_NAME_BYTES = AmqpNames.MAX_QUEUE_NAME_BYTES;

  /** The shortest time a status stays listed (see the design notes). */
  static final Duration MIN_TTL = Duration.ofSeconds(10);

  private final AmqpClient client;
  private final RabbitManagement management;
  private final ControlLedger ledger;

  AmqpControlPlane(AmqpClient client, RabbitManagement management, Clock clock) {
    this.client = client;
    this.management = management;
    this.ledger = new ControlLedger(client, clock);
  }

  static String workerQueue(String workerId) {
    return AmqpNames.queueName(WORKER_PREFIX, workerId);
  }

  private static String pausedQueue(String queue) {
    if (Objects.requireNonNull(queue, "queue").isEmpty()) {
      throw new IllegalArgumentException("a queue name is needed (the actual name, not empty)");
    }
    String name = PAUSED_PREFIX + queue;
    if (name.getBytes(StandardCharsets.UTF_8).length > MAX_QUEUE_NAME_BYTES) {
      throw new IllegalArgumentException(
          "queue name too long to pause with the AMQP control plane (at most "
              + (MAX_QUEUE_NAME_BYTES - PAUSED_PREFIX.length())
              + " bytes)");
    }
    return name;
  }

  @Override
  public void announce(WorkerStatus status, Duration ttl) {
    Objects.requireNonNull(status, "status");
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    String name = workerQueue(status.id());
    long millis = Math.max(MIN_TTL.toMillis(), ttl.toMillis());
    Map<String, Object> args =
        Map.of("x-max-length", 1, "x-message-ttl", millis, "x-expires", millis);
    AMQP.BasicProperties properties =
        new AMQP.BasicProperties.Builder().contentType("application/json").deliveryMode(1).build();
    byte[] body = status.toJson();
    declareWorkerQueue(name, args);
    try {
      client.publish("", name, properties, body);
    } catch (UnroutableException e) {
      declareWorkerQueue(name, args); // it expired between the declaration and the publish
      client.publish("", name, properties, body);
    }
  }

  private void declareWorkerQueue(String name, Map<String, Object> args) {
    try {
      client.callRetrying(
          "declare '" + name + "'", ch -> ch.queueDeclare(name, false, false, false, args));
    } catch (AmqpOperationException e) {
      if (e.replyCode() != AmqpOperationException.PRECONDITION_FAILED) {
        throw e;
      }
      // announced before with another time to live: replace the queue (its old status goes with it)
      client.callRetrying(
          "replace '" + name + "'",
          ch -> {
            ch.queueDelete(name);
            return ch.queueDeclare(name, false, false, false, args);
          });
    }
  }

  @Override
  public void withdraw(String workerId) {
    String name = workerQueue(Objects.requireNonNull(workerId, "workerId"));
    client.callRetrying("delete '" + name + "'", ch -> ch.queueDelete(name));
  }

  @Override
  public List<WorkerStatus> workers() {
    List<String> queues = names(WORKER_PREFIX);
    Map<String, WorkerStatus> latest = new HashMap<>();
    client.peek(
        queues,
        10,
        (queue, response) -> {
          try {
            // a second message is newer (announced while read)
            latest.put(queue, WorkerStatus.fromJson(response.getBody()));
          } catch (MalformedMessageException e) {
            log.debug(
                "Control queue '{}' holds something that is not a worker status; not listed",
                queue);
          }
        });
    List<WorkerStatus> out = new ArrayList<>(latest.values());
    out.sort(Comparator.comparing(WorkerStatus::id));
    return out;
  }

  @Override
  public void pause(String queue) {
    String name = pausedQueue(queue);
    client.callRetrying(
        "pause '" + queue + "'", ch -> ch.queueDeclare(name, true, false, false, null));
  }

  @Override
  public void resume(String queue) {
    String name = pausedQueue(queue);
    client.callRetrying("resume '" + queue + "'", ch -> ch.queueDelete(name));
  }

  /** The paused queues, listed through the management API (see the design notes). */
  @Override
  public Set<String> pausedQueues() {
    Set<String> out = new TreeSet<>();
    for (String name : names(PAUSED_PREFIX)) {
      out.add(name.substring(PAUSED_PREFIX.length()));
    }
    return Collections.unmodifiableSet(out);
  }

  /** Whether {@code queue}'s pause marker exists: one passive declaration. */
  @Override
  public boolean isPaused(String queue) {
    String name;
    try {
      name = pausedQueue(queue);
    } catch (IllegalArgumentException e) {
      return false; // a name that cannot be paused is not paused
    }
    try {
      client.callRetrying("inspect '" + name + "'", ch -> ch.queueDeclarePassive(name));
      return true;
    } catch (AmqpOperationException e) {
      if (e.replyCode() == AmqpOperationException.NOT_FOUND) {
        return false;
      }
      throw e;
    }
  }

  /**
   * The queues whose names start with {@code prefix}, exactly (the plugin's filter ignores case).
   */
  private List<String> names(String prefix) {
    List<String> out = new ArrayList<>();
    for (JsonNode queue : management.queues("^" + RabbitManagement.literal(prefix), "name")) {
      String name = queue.path("name").asText();
      if (name.startsWith(prefix)) {
        out.add(name);
      }
    }
    return out;
  }

  /** One change in the ledger, with the writer's expiry (see {@link ControlLedger}). */
  @Override
  public void revoke(Collection<String> taskUuids, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    ledger.revoke(taskUuids, ttl);
  }

  /** This process's view, brought up to date (one round trip when nothing changed). */
  @Override
  public Set<String> revoked() {
    return ledger.revoked();
  }

  @Override
  public void setTaskLimit(String taskName, TaskLimitSetting setting) {
    ledger.setTaskLimit(
        TaskLimitSetting.requireTaskName(taskName), Objects.requireNonNull(setting, "setting"));
  }

  @Override
  public void clearTaskLimit(String taskName) {
    ledger.setTaskLimit(TaskLimitSetting.requireTaskName(taskName), null);
  }

  @Override
  public Map<String, TaskLimitSetting> taskLimits() {
    return ledger.taskLimits();
  }

  @Override
  public BreakerOpening openBreaker(String key, Duration openFor, String reason, String openedBy) {
    return ledger.openBreaker(
        BreakerOpening.requireBreakerKey(key),
        BreakerOpening.requireOpenFor(openFor),
        Objects.requireNonNull(reason, "reason"),
        Objects.requireNonNull(openedBy, "openedBy"));
  }

  @Override
  public void closeBreaker(String key) {
    ledger.closeBreaker(BreakerOpening.requireBreakerKey(key));
  }

  @Override
  public Map<String, BreakerOpening> openBreakers() {
    return ledger.openBreakers();
  }

  @Override
  public void close() {
    ledger.close();
    management.close();
  }

  @Override
  public String toString() {
    return "AmqpControlPlane{" + client.urls() + ", management=" + management + "}";
  }
}
