package io.machinery.benchmarks.outside;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** CPU time of a process (utime + stime) from {@code /proc/<pid>/stat}, as the Go side reads it. */
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
    Path stat = Path.of("/proc", pid == 0 ? "self" : Long.toString(pid), "stat");
    try {
      String s = Files.readString(stat);
      // the command name, in parentheses, may hold spaces: count fields after its closing
      // parenthesis
      String[] fields = s.substring(s.lastIndexOf(')') + 2).trim().split(" ");
      long ticks =
          Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime (fields 14, 15)
      return ticks * 1_000_000 / TICKS_PER_SECOND;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }
}
