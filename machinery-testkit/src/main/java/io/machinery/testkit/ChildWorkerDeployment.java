package io.machinery.testkit;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.nio.file.Path;

/**
 * What the kill kits ({@link WorkerKillKit}, {@link ChordKillKit}, ...) and {@link PausedWorkerKit}
 * deploy: the broker and backend of the test's own server, and workers in child JVMs on the same,
 * which a kit kills with SIGKILL or stops with SIGSTOP. One implementation per broker and backend
 * pair serves every kit.
 */
public interface ChildWorkerDeployment {
  /**
   * A config on a queue of this test's own, whose name starts with {@code queuePrefix} (see {@link
   * BrokerContract#uniqueQueue}; a Pub/Sub broker URL also names the queue's subscription).
   */
  Config uniqueConfig(String queuePrefix);

  Broker createBroker(Config config);

  Backend createBackend(Config config);

  /**
   * The child worker's main class: it builds a worker from {@link #childArgs} on {@link
   * WorkerProcesses#recordingServer}, whose tasks log every run to a file, so the runs of a killed
   * process still count, and whose {@link WorkerProcesses#outcomeLog} tells {@link PausedWorkerKit}
   * how each {@value WorkerProcesses#STALL} run ended.
   */
  Class<?> childMain();

  /**
   * The child's arguments for a worker on {@code config}'s queue that logs its runs to {@code
   * executions}.
   */
  String[] childArgs(Config config, Path executions);

  /** Called with the test's config after it ran (to delete queues and keys). */
  default void cleanUp(Config config) throws Exception {}
}
