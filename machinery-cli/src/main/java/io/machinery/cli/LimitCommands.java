package io.machinery.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.internal.GoDurations;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The commands about task limits set at run time: {@code limits} lists them, {@code limit} sets or
 * clears one (every worker follows within one heartbeat).
 */
final class LimitCommands {
  private LimitCommands() {}

  @Command(
      name = "limits",
      description =
          "List the task limits set at run time (with `limit`), which every worker follows")
  static final class Limits extends CliCommand {
    @Override
    int run(Session session) {
      Map<String, TaskLimitSetting> limits = new TreeMap<>(session.inspection().taskLimits());
      PrintStream out = session.io().out();
      if (session.json()) {
        ArrayNode array = Render.JSON.createArrayNode();
        limits.forEach((task, setting) -> array.add(json(task, setting)));
        Render.json(out, array);
      } else {
        List<List<String>> rows = new ArrayList<>();
        limits.forEach(
            (task, setting) ->
                rows.add(
                    Render.row(
                        task,
                        setting.ratePermits() > 0
                            ? setting.ratePermits() + "/" + GoDurations.format(setting.ratePeriod())
                            : "-",
                        setting.ratePermits() > 0 ? Integer.toString(burst(setting)) : "-",
                        setting.maxConcurrent() > 0
                            ? Integer.toString(setting.maxConcurrent())
                            : "-")));
        Render.table(out, List.of("TASK", "RATE", "BURST", "MAX CONCURRENT"), rows);
      }
      return MachineryCli.EXIT_OK;
    }
  }

  @Command(
      name = "limit",
      description =
          "Set the limit of a task on every worker (within one heartbeat; over a limit the workers"
              + " were built with, whose key stays), or --clear it")
  static final class Limit extends CliCommand {
    @Parameters(paramLabel = "TASK", description = "the task's name")
    String task = "";

    @Option(
        names = "--rate",
        paramLabel = "N/PERIOD",
        description = "at most N starts per period, e.g. 10/s, 100/1m, 5/500ms")
    String rate = "";

    @Option(
        names = "--burst",
        paramLabel = "N",
        description =
            "starts that may follow one another after an idle spell (default: N of --rate)")
    int burst;

    @Option(names = "--max-concurrent", paramLabel = "N", description = "at most N runs at once")
    int maxConcurrent;

    @Option(
        names = "--clear",
        description = "remove the task's limit set here: workers go back to their own, or none")
    boolean clear;

    @Override
    int run(Session session) {
      if (clear) {
        if (!rate.isEmpty() || burst != 0 || maxConcurrent != 0) {
          throw new IllegalArgumentException(
              "--clear takes no --rate, --burst or --max-concurrent");
        }
        session.inspection().clearTaskLimit(task);
        done(session, "cleared", task, null, "cleared the limit of " + task);
        return MachineryCli.EXIT_OK;
      }
      if (rate.isEmpty() && maxConcurrent == 0) {
        throw new IllegalArgumentException(
            "limit needs --rate N/PERIOD, --max-concurrent N, or both (or --clear)");
      }
      int permits = 0;
      Duration period = Duration.ZERO;
      if (!rate.isEmpty()) {
        int slash = rate.indexOf('/');
        if (slash <= 0 || slash == rate.length() - 1) {
          throw new IllegalArgumentException(
              "--rate '" + rate + "' is not N/PERIOD, such as 10/s or 100/1m");
        }
        try {
          permits = Integer.parseInt(rate.substring(0, slash).trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "--rate '" + rate + "': " + rate.substring(0, slash) + " is not a whole number");
        }
        String per = rate.substring(slash + 1).trim();
        if (per.isEmpty()) {
          throw new IllegalArgumentException(
              "--rate '" + rate + "' is not N/PERIOD, such as 10/s or 100/1m");
        }
        period =
            TaskCommands.duration(
                "--rate's period", Character.isDigit(per.charAt(0)) ? per : "1" + per);
      }
      TaskLimitSetting setting = new TaskLimitSetting(permits, period, burst, maxConcurrent);
      session.inspection().setTaskLimit(task, setting);
      done(
          session,
          "set",
          task,
          setting,
          "limited " + task + " to " + setting.describe() + " (workers follow within a heartbeat)");
      return MachineryCli.EXIT_OK;
    }

    private static void done(
        Session session,
        String action,
        String task,
        @org.jspecify.annotations.Nullable TaskLimitSetting setting,
        String text) {
      if (session.json()) {
        ObjectNode node =
            setting == null
                ? Render.JSON.createObjectNode().put("task", task)
                : json(task, setting);
        Render.json(session.io().out(), node.put("action", action));
      } else {
        session.io().out().println(Render.safe(text));
      }
    }
  }

  static ObjectNode json(String task, TaskLimitSetting setting) {
    return Render.JSON
        .createObjectNode()
        .put("task", task)
        .put("ratePermits", setting.ratePermits())
        .put("ratePeriod", GoDurations.format(setting.ratePeriod()))
        .put("burst", burst(setting))
        .put("maxConcurrent", setting.maxConcurrent());
  }

  /** The burst in force: the setting's, else the rate's permits; 0 without a rate. */
  private static int burst(TaskLimitSetting setting) {
    if (setting.ratePermits() == 0) {
      return 0;
    }
    return setting.burst() > 0 ? setting.burst() : setting.ratePermits();
  }
}
