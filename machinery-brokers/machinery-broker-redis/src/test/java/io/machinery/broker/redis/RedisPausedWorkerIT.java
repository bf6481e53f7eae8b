package io.machinery.broker.redis;

import io.machinery.testkit.PausedWorkerKit;

/**
 * {@link PausedWorkerKit} on the Redis broker and backend: the paused worker's lease ({@link
 * WorkerKilledIT#LEASE}) lapses, the other worker's reaper returns the message to the queue and
 * that worker runs it; the paused one, resumed, finds the message gone from its processing list
 * ({@link RedisDelivery#stillHeld()}) and records nothing.
 */
class RedisPausedWorkerIT extends PausedWorkerKit {
  RedisPausedWorkerIT() {
    super(new RedisChordKillIT.ChildWorkers());
  }
}
