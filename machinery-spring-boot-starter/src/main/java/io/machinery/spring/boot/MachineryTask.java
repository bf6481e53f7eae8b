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
}
