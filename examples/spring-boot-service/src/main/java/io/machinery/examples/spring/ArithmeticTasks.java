package io.machinery.examples.spring;

import io.machinery.spring.boot.MachineryTask;
import java.util.stream.LongStream;
import org.springframework.stereotype.Component;

/**
 * The service's tasks, registered by name from their annotations; Go workers may register the same
 * names.
 */
// README:spring-tasks:begin
@Component
public class ArithmeticTasks {
  @MachineryTask("add")
  public long add(long... numbers) {
    return LongStream.of(numbers).sum();
  }

  /** The chord callback: the group's results arrive as its arguments. */
  @MachineryTask("multiply")
  public long multiply(long... numbers) {
    return LongStream.of(numbers).reduce(1, (a, b) -> a * b);
  }
}
// README:spring-tasks:end
