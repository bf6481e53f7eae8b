package io.machinery.backend.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.TaskState;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.spi.Backend;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chord trigger of the AMQP backend: which worker, Go or Java, fires a group's callback.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Go's protocol.</b> A Go worker whose member finished checks that the group queue holds
 *       exactly {@code GroupTaskCount} <em>ready</em> messages, asks {@code TriggerChord} (true
 *       unless a queue {@code <group>_chord_triggered} exists), checks the ready count again and
 *       drains the queue with an exclusive consumer ({@code GroupTaskStates}); whatever happens, it
 *       then deletes the group queue and the marker unconditionally (deferred {@code
 *       PurgeGroupMeta}). So the first Go reader to consume wins; a reader that sees fewer ready
 *       messages ("Already consumed") or is refused the exclusive consumer deletes the queue. That
 *       is harmless for the winner only because RabbitMQ has already pushed every message to the
 *       winner's consumer (no prefetch limit), and the client library hands out what it buffered.
 *   <li><b>The hazard (F22).</b> Any reader that hides the states (makes them unacknowledged) and
 *       then gives them back, or that needs several round trips before it holds them all, is unsafe
 *       beside a Go worker: Go sees fewer than N, reports "Already consumed" and deletes the queue
 *       under it. The previous Java protocol peeked with {@code basic.get} under a lock and only
 *       then read, and lost about one chord in 80 shared with Go workers.
 *   <li><b>This protocol.</b> Java behaves as a Go winner: the trigger <em>is</em> the read. {@link
 *       #trigger} checks the marker, checks that the queue holds at least the expected ready
 *       messages and consumes it exclusively without a prefetch limit, in one step. RabbitMQ lets
 *       exactly one consumer in (Go or Java; the other gets ACCESS_REFUSED or, once the auto-delete
 *       queue is gone, NOT_FOUND), and pushes it every message at once; a Go loser deleting the
 *       queue afterwards costs nothing. The winner acknowledges, creates the marker (so a Java
 *       member that runs again later does not fire twice; a Go worker reads it as "already
 *       triggered") and keeps the states for {@link #statesOf}. Nothing is ever hidden from a Go
 *       reader except by the reader that then fires.
 *   <li><b>A winner that dies before the callback (F4).</b> The group queue is Go's: auto-delete,
 *       so a winner killed while it holds the exclusive consumer takes the states down with it, and
 *       one killed after the read holds them only in memory. So every Java member of a chord also
 *       writes its final state to a second queue {@code <group>_chord_states} ({@link #kept}; Go
 *       never reads it; declared as a state queue, but only ever read with {@code basic.get}, which
 *       does not make RabbitMQ auto-delete it), confirmed before the member's bookkeeping goes on.
 *       The winner deletes it in {@link #release}, after the callback was sent, so a kept queue
 *       with every member's state means "complete, callback maybe never sent"; a member whose kept
 *       copy comes after that deletion (the winner took its group state, published just before)
 *       keeps nothing rather than create the queue again ({@code
 *       StateQueues#publishUnlessDeleted}). The dead winner's member is redelivered; its re-run
 *       finds the group queue incomplete (the winner drained it) and calls {@link #trigger} all the
 *       same (the worker does that for possible re-runs, see core's ChordCompletion). A trigger
 *       after {@link #expect} said "incomplete" only <em>peeks</em> the kept states (read
 *       unacknowledged, given back by closing the channel) and wins when they are all there: the
 *       callback, whose UUID is deterministic, is sent at least once, at worst twice (a re-run
 *       beside a slow but living winner, or two re-runs one after the other). A group queue that
 *       holds enough states beside the marker counts as incomplete too: those are states of members
 *       that ran again after the winner took the group (enough re-runs after a winner killed before
 *       its callback fill a fresh queue; they used to compete for it, find the marker and leave,
 *       and the chord kill test lost a callback so).
 *   <li><b>Go members (F4 beside Go workers).</b> A Go member writes no kept copy, so the kept
 *       queue of a group with Go members is never complete on its own. A Java member marks its
 *       group state with the header {@link #KEPT_HEADER} (Go reads only the body), and the winner,
 *       once it holds every state and before it creates the marker and acknowledges, copies the
 *       states without it to the kept queue, confirmed together ({@link #keepAll}): a Java winner
 *       killed after that is recovered as above when its member runs again on a Java worker ({@code
 *       AmqpAmqpChordWinnerInteropIT}, with a real Go worker). Cost: nothing in a Java-only pool;
 *       the Go members' states, published in one round trip, in a mixed one. (Counting the kept
 *       queue instead cannot tell a Java member that ran twice from a Go member that kept nothing;
 *       copying every state adds N messages per chord to a Java-only pool: 16-19% fewer chords per
 *       second beside a RabbitMQ busy with 16,000 queues, no difference above the noise beside a
 *       fresh one, docs/benchmarks.md.) Still at-most-once, as in Go: a Go winner (Go's own
 *       protocol); a Java winner killed in the round trip between its read and the copies' confirm,
 *       or while it waits for a member that has not finished (below); and a dead Java winner whose
 *       member runs again on a Go worker, which knows nothing of the kept states.
 *   <li><b>States lost from the group queue</b> (the AMQP chord kill test lost 1 callback of 1,000
 *       this way before). A winner killed while it waits for a member that has not finished (next
 *       bullet) takes every state down with the auto-delete queue; when its member's re-run comes
 *       before that member finishes, the re-run finds too few kept states, and the late member, on
 *       its first delivery, finds a group queue that will never be complete again. Likewise a state
 *       published in a give-back's gap (next bullet) is lost from the group queue, which then holds
 *       N messages of N-1 members for ever. So {@link #completed} also answers true, for any
 *       member, when the group queue is incomplete but the kept queue holds at least N states and
 *       no marker exists (no winner took the states; a winner that took them and died is the
 *       re-run's case above): the trigger then recovers from the kept states. And a trigger that
 *       timed out waiting for missing members gives the states back and then tries the kept states,
 *       which hold every finished member's state whatever happened to the group queue. A member
 *       publishes its group state before its kept copy (each confirmed), and a member that counts a
 *       complete kept queue reads the group queue again and, finding it complete, competes for it
 *       as usual: so two members finishing together never recover beside each other (the chord
 *       error callback ran twice that way in {@code ControlSuite}). Cost: one or two more passive
 *       declarations per member whose group is incomplete, and the kept copy's confirm after the
 *       group state's instead of beside it.
 *   <li><b>One holder of a group's states at a time.</b> A peek hides what it reads, so recoveries
 *       at once split the kept states and each saw too few: the re-runs of one chord, redelivered
 *       together after a kill, peeked in step on one worker, looked again in step and all gave up
 *       (the chord kill test lost callbacks so, 19 of 1,000 once). So a recovery first takes the
 *       group's lock: this process's {@link #held}, then {@link #recovering}, a queue declared
 *       exclusive, which RabbitMQ refuses to every other connection and deletes with its own (a
 *       killed worker holds none; Go never sees it). With no other reader, a peek reads every state
 *       ready when it counted them, and the holder looks again as long as the queue grew during its
 *       look (a member whose kept state landed then counted too few ready states, since the peek
 *       held the others, and left; before, a recovery looked five times whatever happened, and a
 *       state landing during the fifth look was lost).
 *   <li><b>A living winner consumes the marker until it released the kept states.</b> A taker
 *       starts a consumer on the marker (an empty queue: nothing is delivered) before it leaves the
 *       group queue, a recovery starts one when it wins, before its look's lock goes, and {@link
 *       #release} cancels it after it deleted the kept queue; RabbitMQ drops the consumer of a
 *       killed worker with its connection. So every kept state, the marker and no consumer on it
 *       mean a winner that died before its callback was confirmed, and {@link #completed} answers
 *       true then, for any member. The re-run of the dead winner's member recovers as above, but it
 *       may come before every member's kept copy landed (a member is paused between its group
 *       state, which the winner took, and its kept copy): it finds too few and leaves, and the
 *       member whose kept copy lands last recovers ({@code AmqpChordRecoveryIT}; before, that
 *       member took the marker for a living winner and left, and the chord kill test lost a
 *       callback now and then). A recovery that finds a look's lock or the marker held, or counts
 *       too few kept states beside a look (whose peek hides them), waits, up to the group read
 *       timeout: a living winner releases the kept states (nothing to recover: the callback is
 *       sent, and no re-run of a killed member peeks beside it and sends it twice, as before), and
 *       a dead holder's lock or consumer goes a moment after RabbitMQ redelivered its messages (a
 *       re-run that came first used to find the lock held and leave). A win that neither sent the
 *       callback nor released the kept states (its run abandoned when its worker stopped) holds the
 *       marker until the process's next lock operation after the group read timeout, or until its
 *       connection closes. Cost: a consumer started and cancelled per chord, two round trips on one
 *       channel kept for them (a lock queue declared and deleted instead cost about 8% of the
 *       chords per second in {@code ChordBenchmark}); a passive declaration for a member that
 *       counts every kept state beside the marker.
 *   <li><b>A member that ran twice.</b> The queue then reaches N messages before the real last
 *       member finished. The winner keeps its exclusive consumer and waits up to the group read
 *       timeout for the missing members: their states arrive on its consumer (the last member's own
 *       worker sees an empty queue and does nothing). If they do not come in time, the states are
 *       given back: the consumer leaves (RabbitMQ deletes the auto-delete queue) and the states are
 *       published again to a fresh group queue. A state published by another worker in that short
 *       gap is lost with the old queue (the price of an auto-delete queue, which a consumer can
 *       never leave without deleting it); its kept copy is not (previous bullet).
 *   <li><b>Group data that vanished (issue #12.3, F2).</b> A group queue that lost states (deleted
 *       by hand or by a purge, or the give-back's gap above) while every member ran on a Java
 *       worker still fires: the kept states hold the whole group, and the last member recovers from
 *       them ({@code AmqpChordVanishedGroupIT}). That beats storing FAILURE, which is what the
 *       Redis backend does when a group's meta is gone. The callback is neither sent nor failed in
 *       two cases: both queues lost the states, or Go members' states were only in the lost group
 *       queue. Both queues lose states when members finish more than ResultsExpireIn apart (each
 *       state expires that long after it was written: Go's {@code x-message-ttl}), when RabbitMQ
 *       restarts (Go's state queues are not durable), or when someone deletes both queues. No
 *       member can decide this case, because it sees fewer than GroupTaskCount states, which is
 *       also what it sees while other members are still running. Go's AMQP protocol keeps no member
 *       list ({@code InitGroup} is a no-op; a member carries only the group UUID and count). The
 *       members' own state queues are consumed by the clients waiting for them ({@code
 *       ChordAsyncResult} reads every member first). The marker and the kept queue tell only that
 *       nobody fired yet, not that nobody will. A FAILURE stored on a guess would sit, oldest
 *       first, in front of a callback that then runs. So clients time out instead, and the member
 *       is acknowledged (no loop, unlike F2 on Redis).
 *   <li><b>Limits.</b> RabbitMQ's credit flow pushes a few hundred messages before it waits for the
 *       channel: a group of more than about 400 members is at Go's mercy again (Go has the same
 *       limit).
 * </ul>
 *
 * <p>Thread-safe; {@link #completed} and then {@link #trigger} for one member come from one thread,
 * as the worker makes them (see {@link #mine}).
 *
 * <p>Size: one protocol shared with Go workers (the group queue, the kept states, the winner's
 * marker, recovery after a killed winner), kept in one class so its invariants can be read in one
 * place.
 */
final class ChordTrigger {
  private static final Logger log = LoggerFactory.getLogger(ChordTrigger.class);

  /**
   * Groups won in this process whose states the worker has not read yet (a failed member never
   * reads).
   */
  private static final int WON_LIMIT = 1_000;

  private static final int EXPECTED_LIMIT = 10_000;

  /**
   * Looks at the kept states in one recovery at most (each after the queue grew during the one
   * before; see {@link #recover}): a bound against a queue that never stops growing.
   */
  private static final int MAX_LOOKS = 100;

  /** {@link #recoverLocked} took the kept states. */
  private static final int WON = -1;

  private static final Object CANCELLED = new Object();

  /**
   * The header on a group state whose member also wrote it to the kept queue: a Java member of a
   * chord. Go reads only a state's body; its own states lack the header.
   */
  static final String KEPT_HEADER = "machinery_kept";

  /** Publishes one state to a queue, declaring it first; {@code kept} adds {@link #KEPT_HEADER}. */
  @FunctionalInterface
  interface StateWriter {
    void publish(String queue, byte[] state, boolean kept);
  }

  /**
   * Publishes states to a queue, declaring it first, and waits until RabbitMQ confirmed them all.
   */
  @FunctionalInterface
  interface StatesWriter {
    void publishAll(String queue, List<byte[]> states);
  }

  private final AmqpClient client;
  private final Map<String, Object> markerArgs;
  private final Duration readTimeout;
  private final StateWriter giveBack;
  private final StatesWriter keepCopies;

  /**
   * What {@link #completed} said per member, until its trigger asks; most members never ask (a
   * first delivery that finds its group incomplete stops there), so the least recently used go
   * beyond {@link #EXPECTED_LIMIT}. (Clearing them all at the limit forgot answers between a check
   * and its trigger, and a re-run's trigger then recovered nothing.) Guarded by itself.
   */
  private final Map<String, Integer> expected =
      Collections.synchronizedMap(
          new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
              return size() > EXPECTED_LIMIT;
            }
          });

  /**
   * The groups whose lock ({@link #recovering}) this process holds: a look at the kept states in
   * progress, or wins whose kept states are not released yet (see the class notes). Guarded by
   * itself; the lock queue is declared and deleted under it.
   */
  private final Map<String, Hold> held = new HashMap<>();

  /**
   * The channel of this process's marker consumers (see {@link #holdForWin}). Guarded by {@link
   * #held}.
   */
  private @Nullable Channel markerChannel;

  /** {@link #close} was called: no marker channel is opened again. Guarded by {@link #held}. */
  private boolean closed;

  /** Called when a recovery finds the group's lock held, before it waits for it. */
  private volatile Runnable lockWaitProbe = () -> {};

  /** Called by each look at the kept states after it read them, before it gives them back. */
  private volatile Runnable peekProbe = () -> {};

  /**
   * Per group, the states of each win in this process not read yet: two members of one group can
   * win at once in one process (the last one by taking, a re-run by recovering), and each reads a
   * set (see {@link #statesOf}). Guarded by itself.
   */
  private final Map<String, ArrayDeque<List<TaskState>>> won =
      new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, ArrayDeque<List<TaskState>>> eldest) {
          return size() > WON_LIMIT;
        }
      };

  ChordTrigger(
      AmqpClient client,
      Map<String, Object> markerArgs,
      Duration readTimeout,
      StateWriter giveBack,
      StatesWriter keepCopies) {
    this.client = client;
    this.markerArgs = markerArgs;
    this.readTimeout = readTimeout;
    this.giveBack = giveBack;
    this.keepCopies = keepCopies;
  }

  /** The winner's marker: Go's {@code TriggerChord} reads it as "already triggered". */
  static String marker(String group) {
    return group + "_chord_triggered";
  }

  /**
   * The queue every Java member of a chord also writes its final state to (see the class notes).
   */
  static String kept(String group) {
    return group + "_chord_states";
  }

  /** The recovery lock of a group (see the class notes): an exclusive queue, Java's only. */
  static String recovering(String group) {
    return group + "_chord_recovering";
  }

  /**
   * Remembers the member count {@link Backend#groupCompleted} was asked about, and whether the
   * group queue was complete, for {@link #trigger}: after "incomplete", a trigger only recovers
   * kept states.
   */
  void expect(String group, int count, boolean complete) {
    expected.put(mine(group), complete ? count : -count);
  }

  /**
   * Whether the group is complete (see the class notes): its queue holds at least {@code count}
   * ready states and no winner marked the group, for {@link #trigger} to take; or it does not, but
   * the kept queue holds at least {@code count} states and no winner marked the group, for {@link
   * #trigger} to recover. Remembers which for {@link #trigger}.
   */
  boolean completed(String group, int count) {
    int ready = ready(group);
    if (ready >= count && ready > 0) {
      return completeQueue(group, count);
    }
    expect(group, count, false);
    if (count <= 0 || ready(kept(group)) < count) {
      return false;
    }
    // Each member publishes its group state before its kept copy, so the members counted in the
    // kept queue have their group states in the group queue by now, unless a winner is taking them
    // (it holds its consumer on the group queue until its marker exists, see take) or the queue
    // lost them. Read it again, then the marker: a complete group queue is competed for as usual
    // (one taker wins) unless a winner marked the group; a consumer on it or a marker means a
    // winner; only a short group queue with neither is recovered from the kept states.
    int[] again = readyAndConsumers(group);
    if (again[0] >= count && again[0] > 0) {
      return completeQueue(group, count);
    }
    if (again[1] > 0) {
      return false; // a taker holds the group queue
    }
    // No winner marked the group: the group queue lost states. Or one did, and a living winner
    // consumes the marker until it released the kept states: a marker without a consumer beside
    // every member's kept state is a dead winner's, whose member's re-run may have looked before
    // this state was kept, and left. A look in progress answers for the states too.
    int winners = markerConsumers(group);
    return winners < 0 || (winners == 0 && !heldHere(group) && !lookElsewhere(group));
  }

  /**
   * A group queue with at least {@code count} ready states: competed for as usual, unless a winner
   * marked the group already. Then they are states of members that ran again after the winner took
   * the group (so many re-runs after a winner killed before its callback fill a fresh queue):
   * false, and a trigger after it only recovers kept states, as after "incomplete" (see the class
   * notes).
   */
  private boolean completeQueue(String group, int count) {
    if (count > 0 && queueExists(marker(group))) {
      expect(group, count, false);
      return false;
    }
    expect(group, count, true);
    return true;
  }

  /** Ready messages and consumers of a queue; {-1, 0} when it does not exist. */
  private int[] readyAndConsumers(String queue) {
    try {
      return client.callRetrying(
          "inspect queue '" + queue + "'",
          ch -> {
            var ok = ch.queueDeclarePassive(queue);
            return new int[] {ok.getMessageCount(), ok.getConsumerCount()};
          });
    } catch (AmqpOperationException e) {
      if (e.replyCode() == AmqpOperationException.NOT_FOUND) {
        return new int[] {-1, 0};
      }
      throw e;
    }
  }

  /** Ready messages in a queue; -1 when it does not exist. */
  private int ready(String queue) {
    return readyAndConsumers(queue)[0];
  }

  private boolean queueExists(String queue) {
    return ready(queue) >= 0;
  }

  /**
   * Takes the group's states if this caller is the first reader; true then, and {@link #statesOf}
   * returns them. Without a count from {@link #expect}, the messages ready now are taken as the
   * whole group.
   */
  boolean trigger(String group) {
    Integer count = expected.get(mine(group));
    if (count != null && count < 0) {
      // a re-run that found the group incomplete: only the kept states
      return recover(group, -count);
    }
    if (queueExists(marker(group))) {
      return false;
    }
    Taken taken = take(group, count == null ? 0 : count);
    List<TaskState> states = taken.states();
    if (states == null) {
      // too few distinct members within the read timeout: the group queue may have lost a state the
      // kept queue still holds (see the class notes)
      return taken.timedOut() && recover(group, taken.want());
    }
    keepWon(group, states);
    expected.remove(mine(group));
    return true; // take created the marker
  }

  private void createMarker(String group) {
    try {
      client.callRetrying(
          "create chord marker '" + marker(group) + "'",
          ch -> {
            ch.queueDeclare(
                marker(group), false, false, false, markerArgs); // not durable, not exclusive, kept
            return null;
          });
    } catch (RuntimeException e) {
      // The states are ours: fire anyway. Without the marker a member that runs again could fire
      // twice.
      log.warn(
          "Chord of group {} triggered, but its marker queue could not be created: {}",
          group,
          e.toString());
    }
  }

  /**
   * The kept states, when the kept queue holds every member's (see the class notes): true with the
   * states held for {@link #statesOf}. They are only peeked, so they stay until {@link #release}.
   * One recovery of a group at a time, by the worker that holds {@link #recovering} (see the class
   * notes); a recovery that finds the lock held, or too few kept states beside a look in progress,
   * waits for it up to the group read timeout.
   */
  private boolean recover(String group, int count) {
    long deadline = System.nanoTime() + readTimeout.toNanos();
    for (int round = 1; ; round++) {
      // Too few: incomplete, released, or hidden by a look in progress, which answers for them
      // unless it died: then the states come back when RabbitMQ drops its channel, which may be
      // after it redelivered its member's message (this re-run). So wait for such a look.
      if (ready(kept(group)) < count) {
        if (!lookElsewhere(group)) {
          return false;
        }
        lockWaitProbe.run();
        if (!awaitUnlocked(group, deadline)) {
          return false;
        }
        continue;
      }
      if (!lockToLook(group)) {
        // A look in progress answers for the states it reads, and a winner consumes the marker
        // until it released them, but either may be dead with its lock or consumer not yet gone
        // (RabbitMQ may redeliver a killed worker's messages before it drops the rest): wait.
        lockWaitProbe.run();
        if (!awaitUnlocked(group, deadline)) {
          return false;
        }
        continue;
      }
      int seen = 0;
      try {
        seen = recoverLocked(group, count);
      } finally {
        lookEnded(group, seen == WON);
      }
      if (seen == WON) {
        return true;
      }
      // A member whose kept state landed after the last look, while this recovery still held the
      // lock, found the lock taken and left: look again if the queue grew.
      if (ready(kept(group)) <= seen || round == MAX_LOOKS) {
        return false;
      }
    }
  }

  /**
   * Waits until nobody holds the group's lock: true then; false when its kept states were released
   * meanwhile (a winner sent the callback) or at {@code deadline} (a winner still sending it).
   */
  private boolean awaitUnlocked(String group, long deadline) {
    long pauseMillis = 5;
    while (lockHeld(group)) {
      if (ready(kept(group)) < 0 || System.nanoTime() - deadline >= 0) {
        return false;
      }
      try {
        Thread.sleep(pauseMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException(
            "interrupted while waiting for the recovery lock of group " + group, e);
      }
      pauseMillis = Math.min(pauseMillis * 2, 100);
    }
    return true;
  }

  /**
   * Peeks the kept states, holding the recovery lock: {@link #WON} with the states held for {@link
   * #statesOf} when they hold every member's, else how many states the queue held at the last look
   * (0 when it is gone). No other worker reads them meanwhile, so a look reads every state ready
   * when it counted them; a state that landed during the look was not read, and its member, which
   * counted too few ready states (the look held the others), left. So look again while the queue
   * grew. The states are given back with a negative acknowledgement and counted on the same
   * channel, which RabbitMQ answers after it requeued them (given back by closing the channel, they
   * may come back after a count on another channel: a recovery counted too few then and gave up).
   */
  private int recoverLocked(String group, int count) {
    Channel channel = client.openChannel();
    try {
      int ready = channel.queueDeclarePassive(kept(group)).getMessageCount();
      for (int look = 1; ; look++) {
        if (ready < count) {
          return Math.max(ready, 0); // not complete yet
        }
        Map<String, TaskState> byTask = new LinkedHashMap<>();
        long lastTag = 0;
        int read = 0;
        for (; read < ready; read++) {
          GetResponse response = channel.basicGet(kept(group), false); // unacknowledged
          if (response == null) {
            break;
          }
          lastTag = response.getEnvelope().getDeliveryTag();
          try {
            TaskState state = WireCodec.decodeTaskState(response.getBody());
            if (state.isCompleted()) {
              byTask.put(state.taskUuid(), state); // a task that ran twice counts once
            }
          } catch (MalformedMessageException e) {
            log.warn(
                "Kept states of group {} hold a message that is not a task state: {}",
                group,
                e.getMessage());
          }
        }
        peekProbe.run();
        if (byTask.size() >= count) {
          log.warn(
              "Chord of group {} is complete but its callback was never confirmed sent (the"
                  + " triggering worker stopped?); recovering its {} kept states",
              group,
              byTask.size());
          keepWon(group, List.copyOf(byTask.values()));
          expected.remove(mine(group));
          createMarker(group);
          return WON; // the states go back when the channel closes
        }
        if (lastTag != 0) {
          channel.basicNack(lastTag, true, true);
        }
        int now = channel.queueDeclarePassive(kept(group)).getMessageCount();
        if (now <= read) {
          return read; // too few distinct members (one ran twice) and nobody finished meanwhile
        }
        if (look == MAX_LOOKS) {
          log.warn(
              "Kept states of group {} still grow after {} looks; leaving the recovery to the"
                  + " member that finishes last",
              group,
              look);
          return now;
        }
        ready = now;
      }
    } catch (IOException | ShutdownSignalException e) {
      AmqpOperationException failure =
          AmqpOperationException.of("peek kept states '" + kept(group) + "'", e);
      if (failure.replyCode() == AmqpOperationException.NOT_FOUND) {
        return 0; // the callback was sent (released), or no Java member wrote any
      }
      throw failure;
    } finally {
      AmqpClient.closeQuietly(channel);
    }
  }

  /**
   * Takes the group's lock for a look at its kept states: false when anyone holds it (a look, in
   * this process or another, or a living winner: a consumer on the marker).
   */
  private boolean lockToLook(String group) {
    synchronized (held) {
      dropStaleWins();
      if (held.containsKey(group) || !declareLookLock(group)) {
        return false;
      }
      if (markerConsumers(group) > 0) {
        deleteLookLock(group); // a living winner answers for the states
        return false;
      }
      Hold hold = new Hold();
      hold.looking = true;
      held.put(group, hold);
      return true;
    }
  }

  /**
   * A look ended. A win holds the marker (its consumer) before the look's lock goes, so that no
   * member sees neither; otherwise the lock just goes.
   */
  private void lookEnded(String group, boolean won) {
    synchronized (held) {
      Hold hold = held.get(group);
      if (hold == null) {
        return;
      }
      if (won) {
        holdMarker(group, hold);
        hold.won();
      }
      hold.looking = false;
      deleteLookLock(group);
      if (hold.wins == 0) {
        held.remove(group);
      }
    }
  }

  /**
   * A take won the group and created the marker: this worker consumes the marker until {@link
   * #release}, so a member that counts every kept state beside the marker leaves them to this
   * living winner. Called before the take leaves the group queue: a member sees its consumer there
   * or this one.
   */
  private void holdForWin(String group) {
    synchronized (held) {
      dropStaleWins();
      Hold hold = held.computeIfAbsent(group, g -> new Hold());
      holdMarker(group, hold);
      hold.won();
    }
  }

  /** A win released its kept states: the marker is let go when no other win here holds it. */
  private void releaseWin(String group) {
    synchronized (held) {
      Hold hold = held.get(group);
      if (hold == null || hold.wins == 0) {
        return;
      }
      hold.wins--;
      if (hold.wins == 0) {
        letGoOfMarker(hold);
        if (!hold.looking) {
          held.remove(group);
        }
      }
    }
  }

  /**
   * Lets go of the markers whose wins held them longer than the group read timeout without a
   * release (a run abandoned when its worker stopped, or one that failed before it sent the
   * callback): a held marker keeps every other worker's recovery of the group waiting. Guarded by
   * {@link #held}.
   */
  private void dropStaleWins() {
    if (held.isEmpty()) {
      return;
    }
    long now = System.nanoTime();
    Map<String, Hold> stale = new LinkedHashMap<>();
    held.forEach(
        (group, hold) -> {
          if (hold.wins > 0 && now - hold.since > readTimeout.toNanos()) {
            stale.put(group, hold);
          }
        });
    stale.forEach(
        (group, hold) -> {
          log.warn(
              "Chord of group {}: won {} ago and its kept states not released; letting go of its"
                  + " marker for other workers' recoveries",
              group,
              Duration.ofNanos(now - hold.since));
          hold.wins = 0;
          letGoOfMarker(hold);
          if (!hold.looking) {
            held.remove(group);
          }
        });
  }

  /**
   * Consumes the group's marker (an empty queue: nothing is ever delivered) on this process's
   * marker channel, unless this hold does already. A consumer that cannot be started (the marker
   * was deleted meanwhile, by a Go loser's purge) leaves the win without a hold: a member may then
   * recover beside this winner (a duplicate callback, never a lost one). Guarded by {@link #held}.
   */
  private void holdMarker(String group, Hold hold) {
    if (hold.markerTag != null || closed) {
      return;
    }
    try {
      if (markerChannel == null || !markerChannel.isOpen()) {
        markerChannel = client.openChannel();
      }
      Channel channel = markerChannel;
      hold.markerTag = channel.basicConsume(marker(group), true, new DefaultConsumer(channel));
    } catch (IOException | RuntimeException e) {
      // RuntimeException: a lost connection (no channel to open), which a hold would not outlive
      log.debug("Chord of group {}: could not hold its marker: {}", group, e.toString());
    }
  }

  /** Cancels a hold's marker consumer, if any. Guarded by {@link #held}. */
  private void letGoOfMarker(Hold hold) {
    String tag = hold.markerTag;
    hold.markerTag = null;
    Channel channel = markerChannel;
    if (tag == null || channel == null || !channel.isOpen()) {
      return; // gone with its channel
    }
    try {
      channel.basicCancel(tag);
    } catch (IOException | ShutdownSignalException e) {
      // The consumer goes with the channel at the latest (a deleted marker took it already).
      log.debug("Could not cancel the marker consumer {}: {}", tag, e.toString());
    }
  }

  /**
   * The backend closed: lets go of every marker held here (closes their channel), as a stopped
   * worker's connection would. On a shared client nothing else closes that channel, and its
   * consumers told every other worker that a winner lives, so none recovered a win this backend
   * could no longer send.
   */
  void close() {
    synchronized (held) {
      closed = true;
      for (Hold hold : held.values()) {
        hold.wins = 0;
        hold.markerTag = null;
      }
      held.values().removeIf(hold -> !hold.looking);
      AmqpClient.closeQuietly(markerChannel);
      markerChannel = null;
    }
  }

  /** Consumers of the group's marker (a living winner holds one); -1 when there is no marker. */
  private int markerConsumers(String group) {
    int[] readyAndConsumers = readyAndConsumers(marker(group));
    return readyAndConsumers[0] < 0 ? -1 : readyAndConsumers[1];
  }

  /**
   * Declares the look's lock queue, exclusive: RabbitMQ refuses it to every other connection and
   * deletes it with this one (a killed worker holds no lock). False when another worker holds it.
   */
  private boolean declareLookLock(String group) {
    try {
      client.callRetrying(
          "lock chord group '" + group + "'",
          ch -> ch.queueDeclare(recovering(group), false, true, true, null));
      return true;
    } catch (AmqpOperationException e) {
      if (e.replyCode() == AmqpOperationException.RESOURCE_LOCKED) {
        return false;
      }
      throw e;
    }
  }

  private void deleteLookLock(String group) {
    try {
      client.call("unlock chord group '" + group + "'", ch -> ch.queueDelete(recovering(group)));
    } catch (RuntimeException e) {
      // Only this connection could use it; it goes with the connection at the latest.
      log.warn("Could not delete the lock of chord group {}: {}", group, e.toString());
    }
  }

  /** Whether a look at the group's kept states is in progress in another worker. */
  private boolean lookElsewhere(String group) {
    try {
      client.callRetrying(
          "inspect the lock of chord group '" + group + "'",
          ch -> ch.queueDeclarePassive(recovering(group)));
      return true;
    } catch (AmqpOperationException e) {
      if (e.replyCode() == AmqpOperationException.NOT_FOUND) {
        return false;
      }
      if (e.replyCode() == AmqpOperationException.RESOURCE_LOCKED) {
        return true;
      }
      throw e;
    }
  }

  private boolean heldHere(String group) {
    synchronized (held) {
      return held.containsKey(group);
    }
  }

  /**
   * Whether a living worker holds the group: a look at its kept states, or a winner that has not
   * released them (a consumer on the marker).
   */
  private boolean lockHeld(String group) {
    return heldHere(group) || markerConsumers(group) > 0 || lookElsewhere(group);
  }

  /**
   * Who holds a group in this process: a look (the lock queue), wins not released yet (the marker
   * consumer), or both.
   */
  private static final class Hold {
    boolean looking;
    int wins;
    @Nullable String markerTag;
    long since = System.nanoTime();

    void won() {
      wins++;
      since = System.nanoTime();
    }
  }

  /**
   * Runs {@code probe} when a recovery finds the group's lock held, before it waits: a test's way
   * to let the holder go exactly then.
   */
  void onLockWait(Runnable probe) {
    lockWaitProbe = probe;
  }

  /**
   * Runs {@code probe} in each look at the kept states after it read them and before it gives them
   * back: a test's way to land a state exactly there.
   */
  void onPeek(Runnable probe) {
    peekProbe = probe;
  }

  /** The callback was sent (or the chord settled): the kept states are not needed any more. */
  void release(String group) {
    forget(group);
    try {
      client.call("delete kept states '" + kept(group) + "'", ch -> ch.queueDelete(kept(group)));
    } catch (AmqpOperationException e) {
      if (e.replyCode() != AmqpOperationException.NOT_FOUND) {
        throw e;
      }
    }
    releaseWin(group); // after the deletion: a member that finds no lock finds no kept states
  }

  /**
   * The states this process took when it won the trigger, else the states read off the queue now.
   *
   * @throws MachineryException when they are gone, incomplete, or another process reads them
   */
  List<TaskState> statesOf(String group, int count) {
    List<TaskState> states = takeWon(group);
    if (states != null) {
      return states;
    }
    states = take(group, count).states();
    if (states == null) {
      throw new MachineryException(
          "group "
              + group
              + " has no complete set of "
              + count
              + " states (already consumed by another worker, expired, or a member has not finished)");
    }
    return states;
  }

  /**
   * Forgets what {@link #completed} said for this caller. States won and not read stay for their
   * winner: keyed by group alone, a re-run that won and released beside the last member in one
   * process overwrote or removed that member's states, which then failed "no complete set" on every
   * bookkeeping attempt and stored FAILURE for a callback the other had sent (seen in the chord
   * kill test). Unread ones (a winner that failed before reading) go with the oldest groups.
   */
  void forget(String group) {
    expected.remove(mine(group));
  }

  private void keepWon(String group, List<TaskState> states) {
    synchronized (won) {
      won.computeIfAbsent(group, g -> new ArrayDeque<>()).add(states);
    }
  }

  private @Nullable List<TaskState> takeWon(String group) {
    synchronized (won) {
      ArrayDeque<List<TaskState>> sets = won.get(group);
      if (sets == null) {
        return null;
      }
      List<TaskState> states = sets.poll();
      if (sets.isEmpty()) {
        won.remove(group);
      }
      return states;
    }
  }

  /**
   * The key of {@code group} in {@link #expected}: the group and the calling thread. A worker asks
   * {@link #completed} and {@link #trigger} for one member on one delivery thread; two members of
   * one group in one process (one finding the group queue complete, a re-run finding it drained)
   * must not swap their answers.
   */
  private static String mine(String group) {
    return group + "\n" + Thread.currentThread().threadId();
  }

  /**
   * Consumes the group queue exclusively and returns {@code count} distinct finished states (every
   * ready message when {@code count} is 0), acknowledged; null when the queue is missing, holds
   * fewer ready messages (another reader has them), or another reader holds the consumer. Too few
   * distinct members within the read timeout: the states are given back (see the class notes) and
   * null is returned.
   */
  private Taken take(String group, int count) {
    Channel channel = client.openChannel();
    List<Received> delivered = new ArrayList<>();
    boolean taken = false;
    try {
      int want;
      try {
        int ready = channel.queueDeclarePassive(group).getMessageCount();
        want = count > 0 ? count : ready;
        if (want == 0 || ready < want) {
          return Taken.NONE; // not complete, or another reader holds them
        }
        channel.basicQos(0); // every message at once: a Go loser may delete the queue right after
      } catch (IOException | ShutdownSignalException e) {
        return refused(AmqpOperationException.of("inspect group queue '" + group + "'", e));
      }
      LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
      try {
        channel.basicConsume(
            group,
            false,
            "",
            false,
            true,
            null,
            new DefaultConsumer(channel) {
              @Override
              public void handleDelivery(
                  String tag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
                inbox.add(
                    new Received(
                        envelope.getDeliveryTag(),
                        body,
                        properties != null
                            && properties.getHeaders() != null
                            && properties.getHeaders().containsKey(KEPT_HEADER)));
              }

              @Override
              public void handleCancel(String consumerTag) {
                // the queue was deleted (a Go loser's purge); what came before is ours
                inbox.add(CANCELLED);
              }
            });
      } catch (IOException | ShutdownSignalException e) {
        return refused(AmqpOperationException.of("consume group queue '" + group + "'", e));
      }
      Map<String, TaskState> byTask = new LinkedHashMap<>();
      Map<String, byte[]> unkept = new LinkedHashMap<>(); // finished states of Go members
      long lastTag = 0;
      long deadline = System.nanoTime() + readTimeout.toNanos();
      while (byTask.size() < want) {
        Object next = inbox.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (!(next instanceof Received message)) {
          break;
        }
        lastTag = message.tag();
        delivered.add(message);
        try {
          TaskState state = WireCodec.decodeTaskState(message.body());
          if (state.isCompleted()) {
            byTask.put(state.taskUuid(), state); // a task that ran twice counts once
            if (!message.kept()) {
              unkept.put(state.taskUuid(), message.body());
            }
          }
        } catch (MalformedMessageException e) {
          log.warn("Group {} holds a message that is not a task state: {}", group, e.getMessage());
        }
      }
      if (byTask.size() < want) {
        log.warn(
            "Group {}: states of {} of {} members within {} (a member ran twice and another has not "
                + "finished); giving the states back",
            group,
            byTask.size(),
            want,
            readTimeout);
        return new Taken(null, true, want);
      }
      taken = true;
      keepAll(group, List.copyOf(unkept.values()));
      // The marker exists, and this worker consumes it, before this consumer leaves the group
      // queue: a member deciding whether to recover sees this consumer, or the marker with the
      // consumer of a living winner (see completed).
      createMarker(group);
      holdForWin(group);
      try {
        channel.basicAck(lastTag, true);
      } catch (IOException | ShutdownSignalException e) {
        log.debug(
            "Acknowledging the states of group {}: {} (the queue is gone; the states are read)",
            group,
            e.toString());
      }
      return new Taken(List.copyOf(byTask.values()), false, want);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while reading the states of group " + group, e);
    } finally {
      AmqpClient.closeQuietly(channel); // the auto-delete queue goes with its last consumer
      if (!taken && !delivered.isEmpty()) {
        for (Received state : delivered) {
          giveBack.publish(group, state.body(), state.kept());
        }
      }
    }
  }

  /**
   * Copies the states of Go members the winner took (those without {@link #KEPT_HEADER}) to the
   * kept queue, confirmed together, before the winner owns them alone (its marker, its
   * acknowledgement; see the class notes). Nothing when every member ran on a Java worker. A copy
   * that fails costs only the recovery after this worker dies, so the winner fires all the same.
   */
  private void keepAll(String group, List<byte[]> states) {
    if (states.isEmpty()) {
      return;
    }
    try {
      keepCopies.publishAll(kept(group), states);
    } catch (RuntimeException e) {
      log.warn(
          "Chord of group {}: could not copy its {} states to {} ({}); if this worker stops before"
              + " it sends the callback, no other worker can recover them",
          group,
          states.size(),
          kept(group),
          e.toString());
    }
  }

  /**
   * {@link Taken#NONE} for "another reader has the states or they are gone"; throws anything else.
   */
  private static Taken refused(AmqpOperationException e) {
    if (e.replyCode() == AmqpOperationException.NOT_FOUND
        || e.replyCode() == AmqpOperationException.ACCESS_REFUSED
        || e.replyCode() == AmqpOperationException.RESOURCE_LOCKED) {
      return Taken.NONE;
    }
    throw e;
  }

  /** A group state as delivered; {@code kept} when it carries {@link #KEPT_HEADER}. */
  private record Received(long tag, byte[] body, boolean kept) {}

  /**
   * What {@link #take} got: the states, or null; {@code timedOut} when it held at least {@code
   * want} messages but fewer distinct members within the read timeout (and gave them back).
   */
  private record Taken(@Nullable List<TaskState> states, boolean timedOut, int want) {
    static final Taken NONE = new Taken(null, false, 0);
  }
}
