package io.machinery.spring.boot;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Registers a public method of a Spring bean as a task, under {@link #value()}: Go's {@code
 * server.RegisterTask(name, fn)}. The method is wrapped with {@link
 * io.machinery.TaskFunction#fromMethod(Object, java.lang.reflect.Method)}, so its parameter types
 * read the message's arguments, a first {@link io.machinery.TaskContext} parameter receives the
 * context, and a thrown exception is the task's error. It is called on the bean as the context
 * holds it, so proxies ({@code @Transactional}, ...) apply.
 *
 * <pre>{@code
 * @Component
 * class MathTasks {
 *   @MachineryTask("add")
 *   public long add(long... numbers) { return LongStream.of(numbers).sum(); }
 *
 *   @MachineryTask(value = "resize", queue = "images")   // a worker for "images" is started as well
 *   public String resize(String path) { ... }
 * }
 * }</pre>
 *
 * <p>Task names are global to the server: two methods with one name fail the application's start.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface MachineryTask {
  /** The task name senders put in {@code Signature.name} (Go's registered name). */
  String value();

  /**
   * A queue that a worker of this application must consume for this task, beside the default queue.
   * Senders route to it with the signature's routing key ({@code
   * Signature.builder(name).routingKey(queue)}), as in Go. Empty: the default queue ({@code
   * machinery.default_queue}).
   */
  String queue() default "";

  /**
   * Above 0, the method is a batched task ({@link io.machinery.TaskFunction#batched}): it takes a
   * {@code List<A>} (each task's one argument) and returns a {@code List} with one result per task,
   * in their order, called with up to this many tasks at once.
   *
   * <pre>{@code
   * @MachineryTask(value = "index_document", batchSize = 100, batchDelayMillis = 200)
   * public List<String> index(List<String> ids) { return searchIndex.bulkIndex(ids); }
   * }</pre>
   */
  int batchSize() default 0;

  /**
   * For a batched task, how long the first task of a batch waits for others, in milliseconds
   * ({@link io.machinery.BatchPolicy#maxDelay()}).
   */
  long batchDelayMillis() default 100;
}
