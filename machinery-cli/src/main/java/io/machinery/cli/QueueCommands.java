package io.machinery.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.machinery.Inspection;
import io.machinery.MigratingBroker;
import io.machinery.internal.GoDurations;
import io.machinery.spi.Broker;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.spi.WorkerStatus;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The commands about queues and workers: queues, lanes, weight, purge, pause, resume, workers,
 * periodic.
 */
final class QueueCommands {
  private QueueCommands() {}

  @Command(
      name = "queues",
      description = "List the queues with their pending, delayed and dead-lettered counts")
  static final class Queues extends CliCommand {
    @Option(names = "--queue", paramLabel = "QUEUE", description = "only this queue")
    String queue = "";

    @Override
    int run(Session session) {
      session.checkQueue(queue);
      Inspection inspection = session.inspection();
      Set<String> paused = inspection.hasControlPlane() ? inspection.pausedQueues() : Set.of();
      if (session.server().broker() instanceof MigratingBroker moving) {
        return runMoving(session, moving, paused);
      }
      List<QueueStats> queues;
      try {
        queues = queue.isEmpty() ? inspection.queues() : List.of(inspection.queue(queue));
      } catch (UnsupportedOperationException e) {
        throw keepsNoCounts(session.server().broker(), e);
      }
      PrintStream out = session.io().out();
      if (session.json()) {
        ArrayNode array = Render.JSON.createArrayNode();
        queues.forEach(q -> array.add(Render.queue(q, paused)));
        Render.json(out, array);
      } else {
        List<List<String>> rows = new ArrayList<>();
        for (QueueStats q : queues) {
          rows.add(cells(q, paused));
        }
        Render.table(out, List.of("QUEUE", "PENDING", "DELAYED", "DEAD", "OLDEST", "PAUSED"), rows);
      }
      return MachineryCli.EXIT_OK;
    }

    /**
     * What {@code queues} says on a broker whose inspector lists and repairs but counts nothing
     * ({@link Inspector#countsQueues()} false: Google Cloud Pub/Sub): that it has no counts to
     * show, the broker's reason, and the commands that work there. Exit {@link
     * MachineryCli#EXIT_UNSUPPORTED}. Any other refusal is passed on as it is.
     */
    private static RuntimeException keepsNoCounts(Broker broker, UnsupportedOperationException e) {
      if (broker.inspector().map(Inspector::countsQueues).orElse(true)) {
        return e;
      }
      return new CliException(
          MachineryCli.EXIT_UNSUPPORTED,
          "queues: this broker keeps no counts of its queues, so there are none to list ("
              + e.getMessage()
              + "); `machinery tasks list --queue Q` lists a queue's waiting tasks and"
              + " `--state dead` its dead letters",
          e);
    }

    /** A queue's row: QUEUE, PENDING, DELAYED, DEAD, OLDEST, PAUSED. */
    private static List<String> cells(QueueStats q, Set<String> paused) {
      return Render.row(
          q.queue(),
          Long.toString(q.pending()),
          Long.toString(q.delayed()),
          Long.toString(q.deadLettered()),
          Render.age(q.oldestPendingAge()),
          paused.contains(q.queue()) ? "yes" : "no");
    }

    /**
     * During a move between brokers ({@code MACHINERY_MIGRATE_FROM_BROKER}): each broker's queues
     * on rows of their own (BROKER {@code old} or {@code new}), so the old broker can be seen empty
     * before it is dropped.
     */
    private int runMoving(Session session, MigratingBroker moving, Set<String> paused) {
      Map<String, Broker> sides = new java.util.LinkedHashMap<>();
      sides.put("old", moving.from());
      sides.put("new", moving.to());
      PrintStream out = session.io().out();
      ArrayNode array = Render.JSON.createArrayNode();
      List<List<String>> rows = new ArrayList<>();
      sides.forEach(
          (side, broker) -> {
            Inspector inspector =
                broker
                    .inspector()
                    .orElseThrow(
                        () ->
                            new CliException(
                                MachineryCli.EXIT_UNSUPPORTED,
                                "the "
                                    + side
                                    + " broker of the move has no inspector: it cannot list its"
                                    + " queues"));
            List<QueueStats> queues;
            try {
              queues = queue.isEmpty() ? inspector.queues() : List.of(inspector.queue(queue));
            } catch (UnsupportedOperationException e) {
              throw keepsNoCounts(broker, e);
            }
            for (QueueStats q : queues) {
              array.add(Render.queue(q, paused).put("broker", side));
              List<String> row = new ArrayList<>(List.of(side));
              row.addAll(cells(q, paused));
              rows.add(row);
            }
          });
      if (session.json()) {
        Render.json(out, array);
      } else {
        Render.table(
            out,
            List.of("BROKER", "QUEUE", "PENDING", "DELAYED", "DEAD", "OLDEST", "PAUSED"),
            rows);
      }
      return MachineryCli.EXIT_OK;
    }
  }

  @Command(
      name = "lanes",
      description =
          "List the fairness keys with tasks waiting in a queue, in turn order, with their counts")
  static final class Lanes extends CliCommand {
    @Parameters(
        paramLabel = "QUEUE",
        arity = "0..1",
        description = "the queue (default: the config's default queue)")
    String queue = "";

    @Option(names = "--limit", paramLabel = "N", description = "the most keys (default 100)")
    int limit = 100;

    @Override
    int run(Session session) {
      if (limit < 1) {
        throw new CliException(MachineryCli.EXIT_USAGE, "--limit must be 1 or more");
      }
      session.checkQueue(queue);
      Map<String, Long> keys = session.inspection().fairnessKeys(queue, limit);
      Map<String, Integer> weights = session.inspection().fairnessWeights(queue);
      PrintStream out = session.io().out();
      if (session.json()) {
        ArrayNode array = Render.JSON.createArrayNode();
        keys.forEach(
            (key, pending) ->
                array
                    .addObject()
                    .put("key", key)
                    .put("pending", pending)
                    .put("weight", weights.getOrDefault(key, 1)));
        Render.json(out, array);
      } else {
        List<List<String>> rows = new ArrayList<>();
        keys.forEach(
            (key, pending) ->
                rows.add(
                    Render.row(
                        key,
                        Long.toString(pending),
                        Integer.toString(weights.getOrDefault(key, 1)))));
        Render.table(out, List.of("KEY", "PENDING", "WEIGHT"), rows);
      }
      return MachineryCli.EXIT_OK;
    }
  }

  @Command(
      name = "weight",
      description =
          "Give a fairness key of a queue a weight (it takes that many tasks in a row when its turn"
              + " comes; 1 removes it), or list the weights set")
  static final class Weight extends CliCommand {
    @Parameters(index = "0", paramLabel = "QUEUE", description = "the queue")
    String queue = "";

    @Parameters(index = "1", arity = "0..1", paramLabel = "KEY", description = "the fairness key")
    String key = "";

    @Parameters(
        index = "2",
        arity = "0..1",
        paramLabel = "N",
        description = "its weight, 1 to 1000")
    @org.jspecify.annotations.Nullable
    Integer weight;

    @Override
    int run(Session session) {
      session.checkQueue(queue);
      Inspection inspection = session.inspection();
      PrintStream out = session.io().out();
      if (key.isEmpty() != (weight == null)) {
        throw new CliException(MachineryCli.EXIT_USAGE, "give both KEY and N, or neither");
      }
      Integer given = weight;
      if (given != null) {
        inspection.setFairnessWeight(queue, key, given);
        if (session.json()) {
          Render.json(
              out,
              Render.JSON
                  .createObjectNode()
                  .put("queue", queue)
                  .put("key", key)
                  .put("weight", given));
        } else {
          out.println(
              Render.safe(
                  given == 1
                      ? "cleared the weight of " + key + " in " + queue + " (it weighs 1)"
                      : "set the weight of " + key + " in " + queue + " to " + given));
        }
        return MachineryCli.EXIT_OK;
      }
      Map<String, Integer> weights = inspection.fairnessWeights(queue);
      if (session.json()) {
        ArrayNode array = Render.JSON.createArrayNode();
        weights.forEach((k, w) -> array.addObject().put("key", k).put("weight", w));
        Render.json(out, array);
      } else {
        List<List<String>> rows = new ArrayList<>();
        weights.forEach((k, w) -> rows.add(Render.row(k, Integer.toString(w))));
        Render.table(out, List.of("KEY", "WEIGHT"), rows);
      }
      return MachineryCli.EXIT_OK;
    }
  }

  @Command(
      name = "purge",
      description =
          "Remove every task waiting in a queue (not the delayed ones, not those running)")
  static final class Purge extends CliCommand {
    @Parameters(paramLabel = "QUEUE", description = "the queue to empty")
    String queue = "";

    @Override
    int run(Session session) {
      named(session, "purge", queue);
      long removed = session.inspection().purge(queue);
      done(
          session, "purged", queue, removed, "removed " + removed + " waiting tasks from " + queue);
      return MachineryCli.EXIT_OK;
    }
  }

  @Command(
      name = "pause",
      description = "Pause a queue: every worker stops fetching from it within one heartbeat")
  static final class Pause extends CliCommand {
    @Parameters(paramLabel = "QUEUE", description = "the queue to pause")
    String queue = "";

    @Override
    int run(Session session) {
      named(session, "pause", queue);
      session.inspection().pause(queue);
      done(
          session,
          "paused",
          queue,
          1,
          "paused "
              + queue
              + " (workers stop fetching within one heartbeat; running tasks finish)");
      return MachineryCli.EXIT_OK;
    }
  }

  @Command(name = "resume", description = "Resume a paused queue")
  static final class Resume extends CliCommand {
    @Parameters(paramLabel = "QUEUE", description = "the queue to resume")
    String queue = "";

    @Override
    int run(Session session) {
      named(session, "resume", queue);
      session.inspection().resume(queue);
      done(session, "resumed", queue, 1, "resumed " + queue);
      return MachineryCli.EXIT_OK;
    }
  }

  /**
   * A QUEUE the operator must name, refused before connecting when blank (an unset shell variable
   * in quotes would act on the default queue, which the operator did not name) or when it names no
   * queue ({@link Session#checkQueue}).
   */
  static void named(Session session, String command, String queue) {
    if (queue.isBlank()) {
      throw new CliException(
          MachineryCli.EXIT_USAGE, command + " needs a QUEUE name; '" + queue + "' is blank");
    }
    session.checkQueue(queue);
  }

  static void done(Session session, String action, String queue, long count, String text) {
    if (session.json()) {
      Render.json(
          session.io().out(),
          Render.JSON
              .createObjectNode()
              .put("action", action)
              .put("queue", queue)
              .put("count", count));
    } else {
      session.io().out().println(Render.safe(text));
    }
  }

  @Command(
      name = "workers",
      description =
          "List the live workers: queue, broker (both during a move), busy slots, heartbeat,"
              + " breakers not closed, task limits in force ((set): from the control plane),"
              + " running tasks")
  static final class Workers extends CliCommand {
    @Option(names = "--queue", paramLabel = "QUEUE", description = "only workers of this queue")
    String queue = "";

    @Override
    int run(Session session) {
      session.checkQueue(queue);
      List<WorkerStatus> workers =
          session.inspection().workers().stream()
              .filter(w -> queue.isEmpty() || w.queue().equals(queue))
              .toList();
      PrintStream out = session.io().out();
      if (session.json()) {
        ArrayNode array = Render.JSON.createArrayNode();
        workers.forEach(w -> array.add(Render.worker(w)));
        Render.json(out, array);
      } else {
        List<List<String>> rows = new ArrayList<>();
        for (WorkerStatus w : workers) {
          rows.add(
              Render.row(
                  w.id(),
                  w.queue(),
                  w.broker().isEmpty() ? "-" : w.broker(),
                  w.resultBackend().isEmpty() ? "-" : w.resultBackend(),
                  w.busy() + "/" + w.concurrency(),
                  w.paused() ? "paused" : w.starting() ? "starting" : "consuming",
                  Render.instant(w.heartbeatAt()),
                  w.breakers().isEmpty()
                      ? "-"
                      : w.breakers().entrySet().stream()
                          .map(b -> b.getKey() + "=" + b.getValue())
                          .collect(Collectors.joining(",")),
                  limits(w.limits()),
                  w.running().stream()
                      .map(WorkerStatus.RunningTask::uuid)
                      .collect(Collectors.joining(","))));
        }
        Render.table(
            out,
            List.of(
                "WORKER",
                "QUEUE",
                "BROKER",
                "RESULTS",
                "BUSY",
                "STATE",
                "HEARTBEAT",
                "BREAKERS",
                "LIMITS",
                "RUNNING"),
            rows);
      }
      return MachineryCli.EXIT_OK;
    }

    /**
     * A worker's limits in force for its row, in the words of {@code limits}' columns: {@code
     * charge 2/1s max 1 (set), resize max 4 per key}; the burst only when it is not the rate's
     * permits (the default), {@code per key} when a key function counts the runs, {@code (set)}
     * when the numbers come from the control plane; {@code -} for none.
     */
    static String limits(Map<String, WorkerStatus.LimitInForce> limits) {
      if (limits.isEmpty()) {
        return "-";
      }
      List<String> out = new ArrayList<>();
      limits.forEach(
          (task, limit) -> {
            StringBuilder s = new StringBuilder(task);
            if (limit.ratePermits() > 0) {
              s.append(' ')
                  .append(limit.ratePermits())
                  .append('/')
                  .append(GoDurations.format(limit.ratePeriod()));
              if (limit.burst() != limit.ratePermits()) {
                s.append(" burst ").append(limit.burst());
              }
            }
            if (limit.maxConcurrent() > 0) {
              s.append(" max ").append(limit.maxConcurrent());
            }
            if (limit.perKey()) {
              s.append(" per key");
            }
            if (limit.fromControlPlane()) {
              s.append(" (set)");
            }
            out.add(s.toString());
          });
      return String.join(", ", out);
    }
  }

  @Command(
      name = "periodic",
      description = "List the periodic entries live workers announce, with their next fire times")
  static final class Periodic extends CliCommand {
    @Override
    int run(Session session) {
      Inspection inspection = session.inspection();
      if (!inspection.hasControlPlane()) {
        throw new UnsupportedOperationException(
            "no control plane: this broker and backend keep no list of workers,"
                + " so their periodic entries cannot be read");
      }
      List<WorkerStatus.ScheduledEntry> entries = inspection.periodic();
      PrintStream out = session.io().out();
      if (session.json()) {
        ArrayNode array = Render.JSON.createArrayNode();
        entries.forEach(e -> array.add(Render.periodic(e)));
        Render.json(out, array);
      } else {
        List<List<String>> rows = new ArrayList<>();
        for (WorkerStatus.ScheduledEntry e : entries) {
          rows.add(
              Render.row(
                  e.name(), e.spec(), Render.instant(e.nextFire()), Render.instant(e.lastFire())));
        }
        Render.table(out, List.of("NAME", "SPEC", "NEXT", "LAST"), rows);
      }
      return MachineryCli.EXIT_OK;
    }
  }
}
