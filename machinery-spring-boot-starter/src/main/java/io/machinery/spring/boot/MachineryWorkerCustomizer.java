package io.machinery.spring.boot;

import io.machinery.Worker;

/**
 * Sets what the {@code machinery.worker.*} properties do not ({@link Worker.Builder}'s task
 * timeout, delivery limits, task limits, handlers, back-offs), for each worker the starter
 * launches. Every bean of this type is applied, in {@code @Order}, after the properties, so a
 * customizer can also override them:
 *
 * <pre>{@code
 * @Bean
 * MachineryWorkerCustomizer workerLimits() {
 *   return (queue, worker) -> {
 *     worker.taskTimeout(Duration.ofMinutes(5)).maxDeliveries(10);
 *     if (queue.equals("emails")) {
 *       worker.limit("send_email", TaskLimit.maxConcurrent(4));
 *     }
 *   };
 * }
 * }</pre>
 */
@FunctionalInterface
public interface MachineryWorkerCustomizer {
  /**
   * Adjusts one worker before it is built.
   *
   * @param queue the queue the worker consumes: the configured default queue, or the queue named by
   *     a {@link MachineryTask#queue()}
   * @param worker the worker's builder, with the properties' settings already applied
   */
  void customize(String queue, Worker.Builder worker);
}
