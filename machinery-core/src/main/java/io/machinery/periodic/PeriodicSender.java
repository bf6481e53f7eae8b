package io.machinery.periodic;

import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.Group;
import io.machinery.Saga;
import io.machinery.Signature;
import java.util.List;

/**
 * The five sends a periodic run needs, and nothing else: the seam that lets {@link
 * PeriodicScheduler} send without knowing {@link io.machinery.Server} (which implements this
 * privately and is the way applications reach the scheduler). Each method has the contract of the
 * {@code Server} method of the same name: it stores PENDING state and publishes, and throws what
 * that method throws.
 */
public interface PeriodicSender {
  /**
   * Sends one task.
   *
   * @param task the task, with its fresh UUID
   * @return the signature as published (routing key and headers filled in)
   */
  Signature sendTask(Signature task);

  /**
   * Sends a group.
   *
   * @param group the group, with fresh UUIDs
   * @param sendConcurrency at most this many publishes at once; 0 means no limit
   * @return the members as published
   */
  List<Signature> sendGroup(Group group, int sendConcurrency);

  /**
   * Sends a chain's first task; workers send the rest.
   *
   * @param chain the chain, with fresh UUIDs
   */
  void sendChain(Chain chain);

  /**
   * Sends a chord's group; the worker that completes it sends the callback.
   *
   * @param chord the chord, with fresh UUIDs
   * @param sendConcurrency at most this many publishes at once; 0 means no limit
   */
  void sendChord(Chord chord, int sendConcurrency);

  /**
   * Sends a DAG's first tasks; workers send the rest.
   *
   * @param dag the DAG, with fresh UUIDs
   */
  void sendDag(Dag dag);

  /**
   * Sends a saga's first step, which carries the rest and their compensations. By default as a
   * chain of that one task: on the wire a saga is Go's chain.
   *
   * @param saga the saga, with fresh UUIDs
   */
  default void sendSaga(Saga saga) {
    sendChain(Chain.of(saga.steps().get(0)));
  }
}
