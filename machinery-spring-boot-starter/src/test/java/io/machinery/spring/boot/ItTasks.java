package io.machinery.spring.boot;

import java.util.stream.LongStream;

/** The tasks the integration tests register through {@link MachineryTask}. */
class ItTasks {
  @MachineryTask("add")
  public long add(long... numbers) {
    return LongStream.of(numbers).sum();
  }

  @MachineryTask("multiply")
  public long multiply(long... numbers) {
    return LongStream.of(numbers).reduce(1, (a, b) -> a * b);
  }

  /** Stands for real work that takes a while, so that stopping finds it running. */
  @MachineryTask("work")
  public String work(long millis) throws InterruptedException {
    Thread.sleep(millis);
    return "worked " + millis + " ms";
  }
}
