package io.machinery.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.AsyncResult;
import io.machinery.Inspection;
import io.machinery.ResultTimeoutException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFailedException;
import io.machinery.TaskState;
import io.machinery.internal.GoDurations;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The commands about tasks: tasks list, tasks show, send, cancel, requeue, delete.
 *
 * <p>Size: the {@code tasks} command group, one small picocli subcommand per verb (list, show,
 * send, cancel, requeue, delete), which share the rendering and the argument parsing here.
 */
final class TaskCommands {
  private TaskCommands() {}

  @Command(
      name = "tasks",
      description = "List or show tasks",
      subcommands = {ListTasks.class, ShowTask.class})
  static final class Tasks {
    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "Show this help message and exit.")
    boolean help;
  }

  enum Kind {
    pending,
    delayed,
    dead,
    running
  }

  @Command(
      name = "list",
      description = "List a page of pending, delayed, dead-lettered or running tasks, oldest first")
  static final class ListTasks extends CliCommand {
    @Option(
        names = "--state",
        paramLabel = "STATE",
        description = "pending (default), delayed, dead or running")
    Kind state = Kind.pending;

    @Option(
        names = "--queue",
        paramLabel = "QUEUE",
        description =
            "the queue (default: the config's default queue;" + " for running: all queues)")
    String queue = "";

    @Option(names = "--offset", paramLabel = "N", description = "skip the N oldest (default 0)")
    int offset;

    @Option(names = "--limit", paramLabel = "N", description = "at most N (default 50)")
    int limit = 50;

    @Override
    int run(Session session) {
      if (offset < 0 || limit < 1) {
        throw new IllegalArgumentException("--offset must be 0 or more and --limit 1 or more");
      }
      session.checkQueue(queue);
      Inspection inspection = session.inspection();
      PrintStream out = session.io().out();
      ArrayNode json = Render.JSON.createArrayNode();
      List<List<String>> rows = new ArrayList<>();
      switch (state) {
        case pending, delayed -> {
          List<Signature> page =
              state == Kind.pending
                  ? inspection.pending(queue, offset, limit)
                  : inspection.delayed(queue, offset, limit);
          for (Signature s : page) {
            json.add(Render.signature(s));
            rows.add(
                Render.row(
                    s.uuid(),
                    s.name(),
                    Render.args(s.args()),
                    s.eta() == null ? "-" : Render.instant(s.eta().toInstant())));
          }
          print(session, json, List.of("UUID", "NAME", "ARGS", "ETA"), rows);
        }
        case dead -> {
          for (DeadLetterEntry e : inspection.deadLetters(queue, offset, limit)) {
            json.add(Render.deadLetter(e));
            rows.add(
                Render.row(
                    e.id(),
                    e.signature().map(Signature::uuid).orElse("-"),
                    e.signature().map(Signature::name).orElse("(undecodable)"),
                    Render.instant(e.at()),
                    e.reason()));
          }
          print(session, json, List.of("ID", "UUID", "NAME", "AT", "REASON"), rows);
        }
        case running -> {
          List<Inspection.InFlightTask> running = inspection.inFlight(queue);
          for (Inspection.InFlightTask t :
              running.subList(
                  Math.min(offset, running.size()), Math.min(running.size(), offset + limit))) {
            json.addObject()
                .put("uuid", t.task().uuid())
                .put("name", t.task().name())
                .put("worker", t.workerId())
                .put("queue", t.queue())
                .put("startedAt", t.task().startedAt().toString());
            rows.add(
                Render.row(
                    t.task().uuid(),
                    t.task().name(),
                    t.workerId(),
                    Render.instant(t.task().startedAt())));
          }
          print(session, json, List.of("UUID", "NAME", "WORKER", "STARTED"), rows);
        }
      }
      return MachineryCli.EXIT_OK;
    }

    private static void print(
        Session session, ArrayNode json, List<String> headers, List<List<String>> rows) {
      if (session.json()) {
        Render.json(session.io().out(), json);
      } else {
        Render.table(session.io().out(), headers, rows);
      }
    }
  }

  @Command(
      name = "show",
      description = "Show one task wherever it is: its state, a worker running it, or its queue")
  static final class ShowTask extends CliCommand {
    @Parameters(paramLabel = "UUID", description = "the task's UUID")
    String uuid = "";

    @Option(
        names = "--queue",
        paramLabel = "QUEUE",
        description = "the queue to look in (default: the config's default queue)")
    String queue = "";

    @Override
    int run(Session session) {
      session.checkQueue(queue);
      session.checkTask(uuid);
      Inspection.TaskReport report = session.inspection().task(uuid, queue);
      if (report.location() == Inspection.Location.NOT_FOUND && report.state().isEmpty()) {
        throw new CliException(
            MachineryCli.EXIT_NOT_FOUND,
            "task "
                + uuid
                + " not found: "
                + (session.server().backend().consumesStatesOnRead()
                    ? "this backend's states are not read (reading one" + " consumes it), "
                    : "no stored state, ")
                + "no worker runs it, and it is not in the pending, delayed or dead-lettered tasks of "
                + session.queueName(queue)
                + (report.scanComplete()
                    ? ""
                    : " (looked at the first " + Inspection.DEFAULT_SCAN_LIMIT + " of each)"));
      }
      ObjectNode json =
          Render.JSON
              .createObjectNode()
              .put("uuid", uuid)
              .put("location", report.location().name())
              .put("attempts", report.attempts())
              .put("worker", report.workerId().orElse(null))
              .put("scanComplete", report.scanComplete());
      report
          .state()
          .ifPresentOrElse(s -> json.set("state", Render.state(s)), () -> json.putNull("state"));
      report
          .message()
          .ifPresentOrElse(m -> json.set("task", Render.signature(m)), () -> json.putNull("task"));
      report
          .deadLetter()
          .ifPresentOrElse(
              d -> json.put("deadLetterReason", d.reason()).put("deadLetterId", d.id()),
              () -> json.putNull("deadLetterReason"));
      List<Inspection.DagTask> dag =
          report.message().map(m -> session.inspection().dag(m, DAG_LIMIT)).orElse(List.of());
      if (!dag.isEmpty()) {
        com.fasterxml.jackson.databind.node.ArrayNode nodes = json.putArray("dag");
        for (Inspection.DagTask t : dag) {
          ObjectNode node = nodes.addObject().put("name", t.name()).put("uuid", t.uuid());
          t.dependsOn().forEach(node.putArray("dependsOn")::add);
          node.put("state", t.state().map(Enum::name).orElse(null));
        }
      }
      if (session.json()) {
        Render.json(session.io().out(), json);
        return MachineryCli.EXIT_OK;
      }
      List<List<String>> rows = new ArrayList<>();
      rows.add(Render.row("uuid", uuid));
      rows.add(Render.row("location", report.location().name().toLowerCase(java.util.Locale.ROOT)));
      report
          .message()
          .ifPresent(
              m -> {
                rows.add(Render.row("name", m.name()));
                rows.add(Render.row("args", Render.args(m.args())));
                if (m.eta() != null) {
                  rows.add(Render.row("eta", Render.instant(m.eta().toInstant())));
                }
                Object expires = m.headers().get(Signature.EXPIRES_HEADER);
                if (expires != null) {
                  rows.add(Render.row("expires", String.valueOf(expires)));
                }
              });
      if (report.attempts() > 0) {
        rows.add(Render.row("attempts", Integer.toString(report.attempts())));
      }
      report.workerId().ifPresent(w -> rows.add(Render.row("worker", w)));
      report
          .deadLetter()
          .ifPresent(d -> rows.add(Render.row("dead letter", d.id() + " (" + d.reason() + ")")));
      report
          .state()
          .ifPresent(
              s -> {
                rows.add(Render.row("name", s.taskName()));
                rows.add(Render.row("state", s.state().name()));
                if (s.hasResults()) {
                  rows.add(Render.row("results", Render.results(s)));
                }
                if (!s.error().isEmpty()) {
                  rows.add(Render.row("error", s.error()));
                }
              });
      Render.table(
          session.io().out(), List.of("FIELD", "VALUE"), rows.stream().distinct().toList());
      if (!dag.isEmpty()) {
        List<List<String>> dagRows = new ArrayList<>();
        for (Inspection.DagTask t : dag) {
          dagRows.add(
              Render.row(
                  t.name(),
                  String.join(",", t.dependsOn()),
                  t.state().map(Enum::name).orElse("not sent yet"),
                  t.uuid()));
        }
        session.io().out().println();
        Render.table(
            session.io().out(), List.of("DAG TASK", "DEPENDS ON", "STATE", "UUID"), dagRows);
      }
      return MachineryCli.EXIT_OK;
    }

    /** The most DAG tasks shown (one state read each). */
    private static final int DAG_LIMIT = 100;
  }

  @Command(
      name = "send",
      description = "Send a task with Go-typed arguments (int64:3 string:hi []int64:1,2 ...)")
  static final class Send extends CliCommand {
    @Parameters(index = "0", paramLabel = "NAME", description = "the task's registered name")
    String name = "";

    @Parameters(
        index = "1..*",
        paramLabel = "TYPE:VALUE",
        description = "the arguments, with Go's type names")
    List<String> args = new ArrayList<>();

    @Option(
        names = "--queue",
        paramLabel = "QUEUE",
        description = "route to this queue (default: the config's default queue)")
    String queue = "";

    @Option(
        names = "--eta",
        paramLabel = "WHEN",
        description =
            "run no earlier than WHEN: an ISO-8601 time"
                + " (2026-01-02T03:04:05Z) or a Go duration from now (90s, 5m, 1h30m)")
    @Nullable String eta;

    @Option(
        names = "--expires",
        paramLabel = "WHEN",
        description =
            "start by WHEN or not at all (header machinery_expires; a Java worker fails it as"
                + " expired after that): an ISO-8601 time or a Go duration from now")
    @Nullable String expires;

    @Option(names = "--retries", paramLabel = "N", description = "Go's RetryCount (default 0)")
    int retries;

    @Option(
        names = "--fairness-key",
        paramLabel = "KEY",
        description =
            "the task's fairness key (header machinery_fairness_key): workers with fair shares"
                + " take waiting keys in turn")
    @Nullable String fairnessKey;

    @Option(
        names = "--unique",
        paramLabel = "DURATION",
        description =
            "send only if no task with the same uniqueness key is pending or running, else print"
                + " that task (with --wait: wait for it); the key is the task's name and a SHA-256"
                + " of its arguments (or --unique-key) and lasts at most DURATION (Go duration)")
    @Nullable String unique;

    @Option(
        names = "--unique-key",
        paramLabel = "KEY",
        description = "the uniqueness key of --unique, in place of the name and arguments")
    @Nullable String uniqueKey;

    @Option(names = "--wait", description = "wait for the task's result and print it")
    boolean waitForResult;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        description = "how long --wait waits (Go duration, default 60s)")
    String timeout = "60s";

    @Override
    int run(Session session) {
      session.checkQueue(queue);
      Signature.Builder builder =
          Signature.builder(name).args(GoArgs.parse(args)).retryCount(retries);
      if (!queue.isEmpty()) {
        builder.routingKey(queue);
      }
      if (eta != null) {
        builder.eta(parseWhen("--eta", eta));
      }
      if (expires != null) {
        builder.expiresAt(parseWhen("--expires", expires).toInstant());
      }
      if (fairnessKey != null) {
        try {
          builder.fairnessKey(fairnessKey);
        } catch (IllegalArgumentException e) {
          throw new CliException(MachineryCli.EXIT_USAGE, "--fairness-key: " + e.getMessage(), e);
        }
      }
      if (uniqueKey != null && unique == null) {
        throw new CliException(MachineryCli.EXIT_USAGE, "--unique-key needs --unique DURATION");
      }
      Duration wait = duration("--timeout", timeout);
      if (wait.isNegative() || wait.isZero()) {
        throw new CliException(
            MachineryCli.EXIT_USAGE, "--timeout '" + timeout + "' is not a positive duration");
      }
      Server server = session.server();
      Signature signature = builder.build();
      AsyncResult result = send(server, signature);
      PrintStream out = session.io().out();
      if (!result.taskUuid().equals(signature.uuid())) { // its uniqueness key is held
        ObjectNode json = Render.signature(signature.toBuilder().uuid(result.taskUuid()).build());
        json.put("duplicate", true);
        if (!waitForResult) {
          if (session.json()) {
            Render.json(out, json);
          } else {
            out.println(
                Render.safe(
                    name
                        + " already sent as "
                        + result.taskUuid()
                        + " (pending or running); not sent"));
          }
          return MachineryCli.EXIT_OK;
        }
        return waitAndReport(session, json, result, wait);
      }
      Signature sent = result.signature();
      ObjectNode json = Render.signature(sent);
      if (!waitForResult) {
        if (session.json()) {
          Render.json(out, json);
        } else {
          out.println(
              Render.safe(
                  "sent "
                      + sent.name()
                      + " "
                      + sent.uuid()
                      + " to "
                      + session.queueName(queue)
                      + (sent.eta() == null
                          ? ""
                          : " (eta " + Render.instant(sent.eta().toInstant()) + ")")));
        }
        return MachineryCli.EXIT_OK;
      }
      return waitAndReport(session, json, result, wait);
    }

    /** {@code sendTask}, or {@code sendTaskUnique} with --unique. */
    private AsyncResult send(Server server, Signature signature) {
      if (unique == null) {
        return server.sendTask(signature);
      }
      Duration ttl = duration("--unique", unique);
      return uniqueKey == null
          ? server.sendTaskUnique(signature, ttl)
          : server.sendTaskUnique(signature, uniqueKey, ttl);
    }

    private int waitAndReport(Session session, ObjectNode json, AsyncResult result, Duration wait) {
      String uuid = result.taskUuid();
      try {
        result.get(wait);
      } catch (TaskFailedException e) {
        report(session, json, result);
        throw new CliException(
            MachineryCli.EXIT_TASK_FAILED, "task " + uuid + " failed: " + e.getMessage(), e);
      } catch (ResultTimeoutException e) {
        throw new CliException(
            MachineryCli.EXIT_TASK_FAILED,
            "task "
                + uuid
                + " has no result after "
                + timeout
                + " (it is still queued or running; see `machinery tasks show "
                + uuid
                + "`)",
            e);
      }
      report(session, json, result);
      return MachineryCli.EXIT_OK;
    }

    private void report(Session session, ObjectNode json, AsyncResult result) {
      TaskState state = result.taskState().orElse(null);
      if (state != null) {
        json.set("state", Render.state(state));
      }
      if (session.json()) {
        Render.json(session.io().out(), json);
      } else if (state != null) {
        session
            .io()
            .out()
            .println(
                Render.safe(
                    name
                        + " "
                        + result.taskUuid()
                        + " "
                        + state.state()
                        + (state.hasResults() ? " " + Render.results(state) : "")
                        + (state.error().isEmpty() ? "" : ": " + state.error())));
      }
    }

    private static OffsetDateTime parseWhen(String option, String text) {
      try {
        return OffsetDateTime.parse(text);
      } catch (DateTimeParseException notATime) {
        return Instant.now().plus(duration(option, text)).atOffset(java.time.ZoneOffset.UTC);
      }
    }
  }

  static Duration duration(String option, String text) {
    try {
      return GoDurations.parse(text);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          option
              + " '"
              + text
              + "' is neither an ISO-8601 time nor a Go duration"
              + " such as 90s, 5m or 1h30m");
    }
  }

  @Command(
      name = "cancel",
      description =
          "Cancel tasks by UUID on every worker: a waiting or delayed one never starts, a running"
              + " one is interrupted; each not yet finished is stored as FAILURE cancelled")
  static final class Cancel extends CliCommand {
    @Parameters(paramLabel = "UUID", arity = "1..*", description = "the tasks' UUIDs")
    List<String> uuids = new ArrayList<>();

    @Override
    int run(Session session) {
      Set<String> distinct = new LinkedHashSet<>(uuids);
      distinct.forEach(session::checkTask);
      int stored = session.server().cancel(distinct); // those without a finished state
      if (session.json()) {
        ObjectNode json =
            Render.JSON
                .createObjectNode()
                .put("action", "cancelled")
                .put("count", distinct.size())
                .put("storedFailure", stored);
        distinct.forEach(json.putArray("uuids")::add);
        Render.json(session.io().out(), json);
      } else {
        int finished = distinct.size() - stored;
        session
            .io()
            .out()
            .println(
                "cancelled "
                    + distinct.size()
                    + " task"
                    + (distinct.size() == 1 ? "" : "s")
                    + ": "
                    + stored
                    + " stored as FAILURE cancelled"
                    + (finished == 0 ? "" : ", " + finished + " had finished already"));
      }
      return MachineryCli.EXIT_OK;
    }
  }

  /**
   * One of: dead-letter ids, --all, --task NAME. An id that matches no dead letter, or a NAME that
   * matches none, exits {@link MachineryCli#EXIT_NOT_FOUND} after printing the count (as {@code
   * grep -c} prints 0 and exits 1 on no match): a misspelt name must not pass a script. {@code
   * --all} names no dead letter in particular, so none to act on is done, exit 0.
   */
  static final class Selection {
    @Parameters(
        paramLabel = "ID",
        arity = "1..*",
        description = "dead-letter ids (from `tasks list --state dead`)")
    List<String> ids = new ArrayList<>();

    @Option(names = "--all", description = "every dead letter of the queue")
    boolean all;

    @Option(
        names = "--task",
        paramLabel = "NAME",
        description = "the dead letters of this task name (none: exit 2)")
    @Nullable String task;
  }

  abstract static class DeadLetterCommand extends CliCommand {
    @ArgGroup(exclusive = true, multiplicity = "1")
    Selection which = new Selection();

    @Option(
        names = "--queue",
        paramLabel = "QUEUE",
        description = "the queue (default: the config's default queue)")
    String queue = "";

    abstract String verb();

    abstract int apply(Inspection inspection, Predicate<DeadLetterEntry> selected);

    @Override
    int run(Session session) {
      session.checkQueue(queue);
      Inspection inspection = session.inspection();
      Set<String> ids = new LinkedHashSet<>(which.ids);
      String task = which.task;
      Predicate<DeadLetterEntry> matches =
          which.all
              ? e -> true
              : task != null
                  ? e -> e.signature().map(s -> s.name().equals(task)).orElse(false)
                  : e -> ids.contains(e.id());
      // The bar's total, where the broker counts its queues (Pub/Sub counts nothing: no bar there)
      boolean counts =
          session.server().broker().inspector().map(Inspector::countsQueues).orElse(false);
      long total = session.io().terminal() && counts ? inspection.queue(queue).deadLettered() : 0;
      int count;
      try (Progress progress =
          new Progress(session.io().err(), session.io().terminal(), verb(), total)) {
        count =
            apply(
                inspection,
                e -> {
                  progress.step();
                  return matches.test(e);
                });
      }
      String queueName = session.queueName(queue);
      QueueCommands.done(
          session,
          verb(),
          queueName,
          count,
          verb() + " " + count + " dead letter" + (count == 1 ? "" : "s") + " of " + queueName);
      if (!ids.isEmpty() && count < ids.size()) {
        throw new CliException(
            MachineryCli.EXIT_NOT_FOUND,
            (ids.size() - count)
                + " of the "
                + ids.size()
                + " ids are not among the dead letters of "
                + queueName);
      }
      if (task != null && count == 0) {
        // a misspelt NAME must not pass a script as "nothing to do", as a missing id does not
        throw new CliException(
            MachineryCli.EXIT_NOT_FOUND,
            "no dead letter of task " + task + " among the dead letters of " + queueName);
      }
      return MachineryCli.EXIT_OK;
    }
  }

  @Command(
      name = "requeue",
      description = "Move dead letters back to their queue: by id, --task NAME, or --all")
  static final class Requeue extends DeadLetterCommand {
    @Override
    String verb() {
      return "requeued";
    }

    @Override
    int apply(Inspection inspection, Predicate<DeadLetterEntry> selected) {
      return inspection.requeueDeadLetters(queue, selected);
    }
  }

  @Command(name = "delete", description = "Delete dead letters: by id, --task NAME, or --all")
  static final class Delete extends DeadLetterCommand {
    @Override
    String verb() {
      return "deleted";
    }

    @Override
    int apply(Inspection inspection, Predicate<DeadLetterEntry> selected) {
      return inspection.deleteDeadLetters(queue, selected);
    }
  }
}
