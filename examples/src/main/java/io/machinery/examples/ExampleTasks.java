package io.machinery.examples;

import io.machinery.Server;
import io.machinery.TaskFunction;
import io.machinery.TaskResults;
import java.util.stream.LongStream;

/** The tasks of Go Machinery's example program, registered under the same names. */
public final class ExampleTasks {
  private ExampleTasks() {}

  public static void registerAll(Server server) {
    server.registerTask(
        "add", TaskFunction.varargs(long[].class, args -> LongStream.of(args).sum()));
    server.registerTask(
        "multiply",
        TaskFunction.varargs(long[].class, args -> LongStream.of(args).reduce(1, (a, b) -> a * b)));
    server.registerTask(
        "sum_ints", TaskFunction.of(long[].class, numbers -> LongStream.of(numbers).sum()));
    server.registerTask("concat", TaskFunction.of(String[].class, parts -> String.join("", parts)));
    server.registerTask("split", TaskFunction.of(String.class, text -> text.split(" ")));
    server.registerTask(
        "panic_task",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("oops");
            }));
    server.registerTask(
        "long_running_task",
        TaskFunction.of(
            () -> {
              Thread.sleep(1000);
              return null;
            }));
    server.registerTask(
        "return_multiple_values",
        TaskFunction.of(String.class, String.class, (a, b) -> TaskResults.of(a, b)));
  }
}
