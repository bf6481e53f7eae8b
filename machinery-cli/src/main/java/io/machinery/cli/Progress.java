package io.machinery.cli;

import java.io.PrintStream;

/**
 * A progress bar on standard error for operations over many tasks ({@code requeue}, {@code
 * delete}), drawn only when the command runs on a terminal so that scripts and logs never see it;
 * standard output stays clean for {@code --json}. Redrawn at most once per percent, on one line
 * ({@code \r}), erased when done.
 */
final class Progress implements AutoCloseable {
  private static final int WIDTH = 30;

  private final PrintStream err;
  private final boolean enabled;
  private final String label;
  private final long total;
  private long done;
  private long drawnPercent = -1;

  Progress(PrintStream err, boolean enabled, String label, long total) {
    this.err = err;
    this.enabled = enabled && total > 1;
    this.label = label;
    this.total = total;
  }

  /** One more item looked at. */
  void step() {
    done++;
    if (!enabled) {
      return;
    }
    long percent = Math.min(100, done * 100 / total);
    if (percent != drawnPercent) {
      drawnPercent = percent;
      int filled = (int) (percent * WIDTH / 100);
      err.print(
          "\r"
              + label
              + " ["
              + "#".repeat(filled)
              + " ".repeat(WIDTH - filled)
              + "] "
              + Math.min(done, total)
              + "/"
              + total);
      err.flush();
    }
  }

  @Override
  public void close() {
    if (enabled && drawnPercent >= 0) {
      err.print("\r" + " ".repeat(label.length() + WIDTH + 24) + "\r");
      err.flush();
    }
  }
}
