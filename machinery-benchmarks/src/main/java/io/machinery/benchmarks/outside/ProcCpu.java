package io.machinery.benchmarks.outside;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time of a process (utime + stime) from {@code /proc/<pid>/stat}, as the Go side reads it, and
 * of this JVM's JIT compiler threads from {@code /proc/self/task/<tid>/stat}.
 */
final class ProcCpu {
  /** USER_HZ: the unit of utime and stime; 100 on Linux. */
  private static final long TICKS_PER_SECOND = 100;

  private ProcCpu() {}

  /**
   * Microseconds of CPU used so far by {@code pid} (0 = this process), or 0 when it cannot be read.
   */
  static long micros(long pid) {
    if (pid < 0) {
      return 0;
    }
    try {
      return statMicros(
          Files.readString(Path.of("/proc", pid == 0 ? "self" : Long.toString(pid), "stat")));
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * Microseconds of CPU used so far by this JVM's C1 and C2 compiler threads (HotSpot names them
   * "C1 CompilerThread0" and so on, which the kernel cuts to 15 characters), or 0 when they cannot
   * be read. A compiler thread that HotSpot stopped takes its time with it; on 2 CPUs HotSpot runs
   * one of each and keeps them.
   */
  static long compilerMicros() {
    long total = 0;
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
      for (Path task : tasks) {
        try {
          String s = Files.readString(task.resolve("stat"));
          String comm = s.substring(s.indexOf('(') + 1, s.lastIndexOf(')'));
          if (comm.startsWith("C1 CompilerThre") || comm.startsWith("C2 CompilerThre")) {
            total += statMicros(s);
          }
        } catch (IOException | RuntimeException e) {
          // the thread ended while we looked
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return total;
  }

  private static long statMicros(String stat) {
    // the command name, in parentheses, may hold spaces: count fields after its closing parenthesis
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    long ticks =
        Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime (fields 14, 15)
    return ticks * 1_000_000 / TICKS_PER_SECOND;
  }
}
