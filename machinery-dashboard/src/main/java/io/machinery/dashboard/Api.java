package io.machinery.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import io.machinery.Inspection;
import io.machinery.MigratingBroker;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.internal.GoDurations;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.spi.WorkerStatus;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The JSON API under {@code /api/}: reads are GETs over {@link Inspection}, actions POSTs checked
 * by the {@link Guard}. Every read is a bounded page: searching a tab scans at most {@link
 * #SEARCH_LIMIT} entries and says so, and the overview lists at most {@link
 * Dashboard.Builder#maxOverviewQueues} queues (the default queue, the paused ones, then the
 * fullest) and says how many it leaves out. Every queue name a request gives is checked by {@link
 * WireCodec#checkQueueName} (see {@link #queue}), and every task UUID by the rules a worker applies
 * to a message's (see {@link #taskUuid}). A request that breaks a rule is answered 400 with the
 * dashboard's own words ({@link Guard#badRequest}); only the messages of core's checks written for
 * such tools pass through ({@link #requestCheck}). What the deployment lacks is answered 501 saying
 * what was asked and what it needs ({@link #unlessLacking}). Reads run through {@link BoundedReads}
 * (a deadline, and a bound on reads running at once); actions on the request's thread. A broker
 * whose inspector keeps no counts ({@link Inspector#countsQueues()} false: Pub/Sub) is never asked
 * for them: the overview lists the queues known otherwise with null sizes ({@code "countsQueues":
 * false}, {@link #knownQueues}), a queue page's {@code stats} say {@code "counted": false}, and the
 * chart's samples carry null sizes.
 *
 * <pre>
 * GET  /api/overview                                   queues (capped, with queuesLeftOut and totals), workers,
 *                                                      capabilities, chart samples
 * GET  /api/queue?name=Q&amp;tab=pending|delayed|inflight|dead&amp;offset=0&amp;limit=50&amp;q=search
 * GET  /api/task?uuid=U&amp;queue=Q                         one task (cut) with its history, /api/task/raw the whole (a download)
 * GET  /api/deadletter/raw?queue=Q&amp;id=I                 one dead letter's bytes (a download)
 * GET  /api/workers, /api/periodic, /api/limits, /api/breakers
 * POST /api/action/{purge|pause|resume|requeue|delete}  {"queue":"Q","ids":["..."]}  (ids: dead letters; absent = all)
 * POST /api/action/cancel                              {"queue":"Q","uuid":"U"}  (Server.cancel: revoke, then FAILURE;
 *                                                      only a task found waiting or running in Q, else 409)
 * POST /api/action/open-breaker                        {"key":"K","openFor":"10m","reason":"..."}  (Go duration)
 * POST /api/action/close-breaker                       {"key":"K"}
 * </pre>
 *
 * <p>Whether tasks can be cancelled (the control plane keeps revocations) is asked of the control
 * plane once, with one {@code revoked()} read, and remembered: the page greys the button out with
 * the reason, and the action is refused with it.
 */
final class Api {
  static final int MAX_LIMIT = 500;
  static final int DEFAULT_LIMIT = 50;
  static final int SEARCH_LIMIT = 5_000;

  /**
   * The longest search a tab takes: longer than a task UUID (256) or a sensible task name, and
   * short enough that matching it against {@link #SEARCH_LIMIT} entries costs little.
   */
  static final int MAX_SEARCH_CHARS = 512;

  /** What the reads and actions on workers, pauses and in-flight tasks need, and where it is. */
  private static final String NEEDS_CONTROL_PLANE =
      "this needs a control plane, which the Redis broker or backend, the AMQP backend and the"
          + " memory broker keep (or give one to Server.builder().controlPlane())";

  /** What listings, purges and dead-letter actions need; the detail says what this broker lacks. */
  private static final String NEEDS_INSPECTOR =
      "this needs a broker that can inspect its queues, as Redis, AMQP and memory can";

  /**
   * What a listing or repair needs when the broker has an inspector that cannot do this one
   * (Pub/Sub lists no delayed tasks); the detail is the broker's own reason.
   */
  private static final String INSPECTOR_CANNOT =
      "this broker's inspector cannot do it, though it inspects its queues otherwise (Redis, AMQP"
          + " and memory can)";

  /** Why a broker whose inspector keeps no counts shows none, for the page to say once. */
  static final String NO_COUNTS =
      "This broker keeps no counts of its queues (Google Cloud Pub/Sub's API has none; Cloud"
          + " Monitoring has them), so their sizes are not counted by this broker. Its queues are listed as"
          + " far as the dashboard knows them: the default queue, paused queues and the queues of"
          + " live workers. A queue's page lists its waiting tasks and dead letters.";

  /** What the fairness keys tab needs. */
  private static final String NEEDS_LANES =
      "this needs a broker with fairness lanes (Redis or memory)";

  /** What breaker openings need. */
  private static final String NEEDS_BREAKER_PLANE =
      "this needs a control plane that keeps breaker openings (the Redis, AMQP and memory ones do)";

  /** The reason of a breaker opening given none. */
  static final String DEFAULT_REASON = "opened from the dashboard";

  private static final Set<String> ACTIONS =
      Set.of(
          "purge",
          "pause",
          "resume",
          "requeue",
          "delete",
          "cancel",
          "open-breaker",
          "close-breaker");

  private final Server server;
  private final Inspection inspection;
  private final Sampler sampler;
  private final Guard guard;
  private final boolean readOnly;
  private final int maxOverviewQueues;
  private final BoundedReads reads;

  /**
   * Held by every listing of a queue's messages and every action that looks for one: on RabbitMQ a
   * listing hides the messages it reads until it returns them (AmqpInspector's notes), so a Cancel
   * that looked for its task while the page's own refresh was listing the queue missed it and was
   * refused. Listings are bounded pages; one at a time per dashboard costs an operator nothing. It
   * is waited for at most the read deadline ({@link #oneListingAtATime}).
   */
  private final java.util.concurrent.locks.ReentrantLock listing =
      new java.util.concurrent.locks.ReentrantLock();

  private volatile @Nullable String cannotCancel; // null: not asked yet; "": it can

  /**
   * Whether {@code server}'s broker counts its queues: it has an inspector and that inspector's
   * {@link Inspector#countsQueues()} is true. Without one nothing is counted either.
   */
  static boolean countsQueues(Server server) {
    return server.broker().inspector().map(Inspector::countsQueues).orElse(false);
  }

  /** What a listing or repair the broker refused needs: an inspector, or one that does it. */
  private String needsInspector() {
    return inspection.canInspectQueues() ? INSPECTOR_CANNOT : NEEDS_INSPECTOR;
  }

  Api(
      Server server,
      Inspection inspection,
      Sampler sampler,
      Guard guard,
      boolean readOnly,
      int maxOverviewQueues,
      BoundedReads reads) {
    this.server = server;
    this.inspection = inspection;
    this.sampler = sampler;
    this.guard = guard;
    this.readOnly = readOnly;
    this.maxOverviewQueues = maxOverviewQueues;
    this.reads = reads;
  }

  /**
   * The queue a request names (the default queue when it names none), checked: on Redis a queue is
   * a raw key, and a name such as {@code TriggerChordMutex}, {@code delayed_tasks}, a task's UUID
   * or a {@code {queue}:processing:...} key would read, purge or requeue a key that is no queue.
   *
   * @throws Guard.Refused (400) saying which rule the name breaks
   */
  private String queue(String requested) {
    String queue = inspection.queueName(requested);
    return requestCheck(
        () -> {
          WireCodec.checkQueueName(queue, server.config());
          return queue;
        });
  }

  /**
   * A task UUID a request names, checked by {@link WireCodec#checkTaskId} before it reaches the
   * backend or the inspector: on Redis a task's UUID is the raw key of its state, so {@code
   * TriggerChordMutex}, the delayed-task key, a queue or a {@code {queue}:...} key would read a key
   * that is no task state.
   *
   * @throws Guard.Refused (400) saying which rule the UUID breaks
   */
  private String taskUuid(String uuid) {
    return requestCheck(
        () -> {
          WireCodec.checkTaskId(uuid, server.config());
          return uuid;
        });
  }

  /**
   * Runs one of core's checks of what a request gave ({@link WireCodec#checkQueueName}, {@link
   * WireCodec#checkTaskId}, {@link ControlPlane.BreakerOpening#requireBreakerKey}, {@link
   * ControlPlane.BreakerOpening#requireOpenFor}): they are written for tools such as this one, and
   * their messages name the rule and quote at most the input, escaped and cut. Only these pass
   * their message to the operator; an {@link IllegalArgumentException} from anywhere else is a 500.
   *
   * @throws Guard.Refused (400) with the check's message
   */
  private static <T> T requestCheck(Supplier<T> check) {
    try {
      return check.get();
    } catch (IllegalArgumentException e) {
      throw Guard.badRequest(String.valueOf(e.getMessage()));
    }
  }

  /**
   * Runs a part of a request that the deployment may lack (core throws {@link
   * UnsupportedOperationException} for it) and answers that lack in the dashboard's words.
   *
   * @param asked what the operator asked, a sentence's subject ("Listing the workers")
   * @param needs what it needs and where that is, starting "this needs"
   * @throws Guard.Refused (501) saying so, with the exception's message cut and escaped
   */
  private static <T> T unlessLacking(String asked, String needs, Supplier<T> call) {
    try {
      return call.get();
    } catch (UnsupportedOperationException e) {
      throw lacking(asked, needs + ".", e.getMessage());
    }
  }

  /** {@link #unlessLacking} for an action that returns nothing. */
  private static void unlessLackingRun(String asked, String needs, Runnable call) {
    unlessLacking(
        asked,
        needs,
        () -> {
          call.run();
          return null;
        });
  }

  /**
   * A 501: {@code asked} is not possible here, because {@code why} (which says what to use
   * instead), with the underlying message where there is one.
   */
  private static Guard.Refused lacking(String asked, String why, @Nullable String detail) {
    return new Guard.Refused(
        501, asked + " is not possible here: " + why + Exchanges.detail(detail));
  }

  /** Why tasks cannot be cancelled here, or empty when they can. */
  private String cannotCancel() {
    String known = cannotCancel;
    if (known != null) {
      return known;
    }
    Optional<ControlPlane> plane = server.controlPlane();
    String reason;
    if (plane.isEmpty()) {
      reason =
          "this needs a control plane, through which workers learn of a cancelled task (the Redis"
              + " broker or backend, the AMQP backend or memory keep one); this deployment has none";
    } else {
      try {
        plane.get().revoked();
        reason = "";
      } catch (UnsupportedOperationException e) {
        reason =
            "this needs a control plane that keeps revoked tasks (the Redis, AMQP and memory ones"
                + " do)."
                + Exchanges.detail(e.getMessage());
      }
    }
    cannotCancel = reason;
    return reason;
  }

  void handle(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    if (path.startsWith("/api/action/")) {
      action(exchange, path.substring("/api/action/".length()));
      return;
    }
    if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
      throw new Guard.Refused(405, Exchanges.quote(path) + " needs GET");
    }
    guard.checkRead(exchange);
    Map<String, String> q = Exchanges.query(exchange);
    reads.call(() -> read(path, q)).send(exchange);
  }

  /** An answer a read computed, written by the request's thread ({@link BoundedReads}). */
  @FunctionalInterface
  private interface Reply {
    void send(HttpExchange exchange) throws IOException;
  }

  private static Reply json(JsonNode node) {
    return exchange -> Exchanges.json(exchange, node);
  }

  /** Runs a read: it reaches the broker and the backend, and writes nothing. */
  private Reply read(String path, Map<String, String> q) {
    return switch (path) {
      case "/api/overview" -> json(overview());
      case "/api/queue" -> json(queuePage(q));
      case "/api/task" -> json(task(q));
      case "/api/task/raw" -> {
        String name = "task-" + Exchanges.safe(Exchanges.required(q, "uuid")) + ".json";
        byte[] body = pretty(Views.raw(report(q)));
        yield exchange -> Exchanges.download(exchange, name, "application/json", body);
      }
      case "/api/deadletter/raw" -> deadLetterRaw(q);
      case "/api/workers" ->
          json(unlessLacking("Listing the workers", NEEDS_CONTROL_PLANE, this::workers));
      case "/api/periodic" -> json(periodic());
      case "/api/limits" -> json(limits());
      case "/api/breakers" -> json(breakers());
      default ->
          throw new Guard.Refused(
              404,
              "no such API: "
                  + Exchanges.quote(path)
                  + "; the reads are /api/overview, queue, task, task/raw, deadletter/raw,"
                  + " workers, periodic, limits and breakers");
    };
  }

  private static byte[] pretty(JsonNode node) {
    try {
      return Guard.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private ObjectNode overview() {
    ObjectNode n = Guard.JSON.createObjectNode();
    n.put("readOnly", readOnly)
        .put("actions", guard.actionsEnabled())
        .put("canInspectQueues", inspection.canInspectQueues())
        .put("hasControlPlane", inspection.hasControlPlane())
        .put("defaultQueue", inspection.queueName(""))
        .put("keepsTaskHistory", inspection.keepsTaskHistory())
        .put("readsNeedToken", guard.readsNeedToken());
    String noCancel = cannotCancel();
    n.put("canCancel", noCancel.isEmpty());
    if (noCancel.isEmpty()) {
      n.putNull("cancelReason");
    } else {
      n.put("cancelReason", "Cancelling is not possible here: " + noCancel);
    }
    Set<String> paused = inspection.hasControlPlane() ? inspection.pausedQueues() : Set.of();
    List<WorkerStatus> live = inspection.hasControlPlane() ? inspection.workers() : List.of();
    boolean counts = countsQueues(server);
    n.put("countsQueues", counts);
    if (counts || !inspection.canInspectQueues()) {
      n.putNull("countsReason");
    } else {
      n.put("countsReason", NO_COUNTS);
    }
    Optional<MigratingBroker.QueueSizes> moving =
        counts && server.broker() instanceof MigratingBroker m ? m.queueSizes() : Optional.empty();
    if (counts || !inspection.canInspectQueues()) {
      List<QueueStats> all =
          !counts ? List.of() : moving.isPresent() ? moving.get().summed() : inspection.queues();
      n.put("queuesLeftOut", listQueues(n.putArray("queues"), all, paused));
      long pending = 0;
      long delayed = 0;
      long dead = 0;
      for (QueueStats q : all) {
        pending += q.pending();
        delayed += q.delayed();
        dead += q.deadLettered();
      }
      n.putObject("totals")
          .put("queues", all.size())
          .put("pending", pending)
          .put("delayed", delayed)
          .put("deadLettered", dead);
    } else {
      List<String> known = knownQueues(paused, live);
      ArrayNode queues = n.putArray("queues");
      known.stream()
          .limit(maxOverviewQueues)
          .forEach(q -> queues.add(Views.uncountedQueue(q, paused)));
      n.put("queuesLeftOut", Math.max(0, known.size() - maxOverviewQueues));
      n.putObject("totals")
          .put("queues", known.size())
          .putNull("pending")
          .putNull("delayed")
          .putNull("deadLettered");
    }
    n.set("migration", moving.map(sizes -> migration(sizes, paused)).orElse(null));
    int workers = 0;
    int busy = 0;
    int slots = 0;
    for (WorkerStatus w : live) {
      workers++;
      busy += w.busy();
      slots += w.concurrency();
    }
    n.put("workers", workers).put("busy", busy).put("slots", slots);
    ArrayNode samples = n.putArray("samples");
    for (Sampler.Sample s : sampler.samples()) {
      ObjectNode sample =
          samples
              .addObject()
              .put("at", s.at().toString())
              .put("running", s.running())
              .put("finished", s.finished());
      if (s.counted()) {
        sample
            .put("pending", s.pending())
            .put("delayed", s.delayed())
            .put("deadLettered", s.deadLettered())
            .put("newDeadLetters", s.newDeadLetters());
      } else {
        sample
            .putNull("pending")
            .putNull("delayed")
            .putNull("deadLettered")
            .putNull("newDeadLetters");
      }
    }
    return n;
  }

  /**
   * The queues known without counting, for a broker that keeps no counts: the default queue first,
   * then the paused queues and the queues live workers consume, by name. A queue that holds tasks
   * but has no live worker and is not paused is not known: {@link Inspector#queues()}, which would
   * name it, is the read such a broker cannot answer.
   */
  private List<String> knownQueues(Set<String> paused, List<WorkerStatus> live) {
    String defaultQueue = inspection.queueName("");
    java.util.TreeSet<String> others = new java.util.TreeSet<>(paused);
    live.forEach(w -> others.add(w.queue()));
    others.remove(defaultQueue);
    List<String> out = new ArrayList<>();
    out.add(defaultQueue);
    out.addAll(others);
    return out;
  }

  /**
   * Adds at most {@link #maxOverviewQueues} of {@code all} to {@code out}, in the broker's order,
   * chosen so what an operator acts on stays in view: the default queue, the paused ones, then
   * those with the most tasks (pending, delayed and dead-lettered).
   *
   * @return how many were left out
   */
  private int listQueues(ArrayNode out, List<QueueStats> all, Set<String> paused) {
    String defaultQueue = inspection.queueName("");
    Comparator<QueueStats> first =
        Comparator.<QueueStats>comparingInt(q -> q.queue().equals(defaultQueue) ? 0 : 1)
            .thenComparingInt(q -> paused.contains(q.queue()) ? 0 : 1)
            .thenComparingLong(q -> -(q.pending() + q.delayed() + q.deadLettered()))
            .thenComparing(QueueStats::queue);
    Set<String> shown = new HashSet<>();
    all.stream().sorted(first).limit(maxOverviewQueues).forEach(q -> shown.add(q.queue()));
    int left = 0;
    for (QueueStats q : all) {
      if (shown.contains(q.queue())) {
        out.add(Views.queue(q, paused));
      } else {
        left++;
      }
    }
    return left;
  }

  /**
   * During a move between brokers ({@link MigratingBroker}, {@code MACHINERY_MIGRATE_FROM_BROKER}):
   * each broker's queues apart (the overview's queues are their sums, from the same read), and what
   * the old broker still holds, so an operator sees it empty before dropping it from the
   * configuration.
   */
  private ObjectNode migration(MigratingBroker.QueueSizes sizes, Set<String> paused) {
    ObjectNode m = Guard.JSON.createObjectNode();
    long waiting = 0;
    long dead = 0;
    for (QueueStats q : sizes.old()) {
      waiting += q.pending() + q.delayed();
      dead += q.deadLettered();
    }
    m.put("oldLeftOut", listQueues(m.putArray("old"), sizes.old(), paused));
    m.put("newLeftOut", listQueues(m.putArray("new"), sizes.fresh(), paused));
    return m.put("oldWaiting", waiting).put("oldDeadLettered", dead);
  }

  private ObjectNode queuePage(Map<String, String> q) {
    String queue = queue(q.getOrDefault("name", ""));
    String tab = q.getOrDefault("tab", "pending");
    int offset = Exchanges.intParam(q, "offset", 0, 0, Integer.MAX_VALUE);
    int limit = Exchanges.intParam(q, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
    String search = q.getOrDefault("q", "").trim();
    if (search.length() > MAX_SEARCH_CHARS) {
      throw Guard.badRequest(
          "the search has "
              + search.length()
              + " characters; search for a task UUID or a part of a name of at most "
              + MAX_SEARCH_CHARS);
    }
    String lowerSearch = search.toLowerCase(Locale.ROOT);
    ObjectNode n =
        Guard.JSON
            .createObjectNode()
            .put("queue", queue)
            .put("tab", tab)
            .put("offset", offset)
            .put("limit", limit)
            .put("q", search);
    if (inspection.canInspectQueues()) {
      Set<String> paused = inspection.hasControlPlane() ? inspection.pausedQueues() : Set.of();
      n.set(
          "stats",
          countsQueues(server)
              ? Views.queue(inspection.queue(queue), paused)
              : Views.uncountedQueue(queue, paused));
    } else {
      n.putNull("stats");
    }
    String shownQueue = Exchanges.shown(queue);
    Page<?> page =
        switch (tab) {
          case "pending" ->
              unlessLacking(
                  "Listing the pending tasks of queue " + shownQueue,
                  needsInspector(),
                  () ->
                      page(
                          (o, l) -> oneListingAtATime(() -> inspection.pending(queue, o, l)),
                          Views::row,
                          (sig, s) -> matches(sig, s, lowerSearch),
                          offset,
                          limit,
                          search));
          case "delayed" ->
              unlessLacking(
                  "Listing the delayed tasks of queue " + shownQueue,
                  needsInspector(),
                  () ->
                      page(
                          (o, l) -> oneListingAtATime(() -> inspection.delayed(queue, o, l)),
                          Views::row,
                          (sig, s) -> matches(sig, s, lowerSearch),
                          offset,
                          limit,
                          search));
          case "dead" ->
              unlessLacking(
                  "Listing the dead letters of queue " + shownQueue,
                  needsInspector(),
                  () ->
                      page(
                          (o, l) -> oneListingAtATime(() -> inspection.deadLetters(queue, o, l)),
                          Views::deadRow,
                          (e, s) ->
                              e.signature().map(sig -> matches(sig, s, lowerSearch)).orElse(false)
                                  || e.id().equals(s),
                          offset,
                          limit,
                          search));
          case "inflight" -> {
            List<Inspection.InFlightTask> all =
                unlessLacking(
                    "Listing the running tasks of queue " + shownQueue,
                    NEEDS_CONTROL_PLANE,
                    () -> inspection.inFlight(queue));
            yield page(
                (o, l) -> all.subList(Math.min(o, all.size()), Math.min(o + l, all.size())),
                Views::inFlightRow,
                (t, s) ->
                    t.task().uuid().equals(s)
                        || t.task().name().toLowerCase(Locale.ROOT).contains(lowerSearch),
                offset,
                limit,
                search);
          }
          case "lanes" ->
              unlessLacking(
                  "Listing the fairness keys of queue " + shownQueue,
                  NEEDS_LANES,
                  () -> {
                    Map<String, Integer> weights = inspection.fairnessWeights(queue);
                    return page(
                        (o, l) -> {
                          List<Map.Entry<String, Long>> keys =
                              List.copyOf(
                                  inspection
                                      .fairnessKeys(
                                          queue, (int) Math.min(Integer.MAX_VALUE, (long) o + l))
                                      .entrySet());
                          return keys.subList(Math.min(o, keys.size()), keys.size());
                        },
                        e -> Views.laneRow(e, weights.getOrDefault(e.getKey(), 1)),
                        (e, s) -> e.getKey().toLowerCase(Locale.ROOT).contains(lowerSearch),
                        offset,
                        limit,
                        search);
                  });
          default ->
              throw Guard.badRequest(
                  "tab must be pending, delayed, inflight, dead or lanes, was "
                      + Exchanges.quote(tab));
        };
    ArrayNode items = n.putArray("items");
    page.items.forEach(items::add);
    n.put("hasMore", page.hasMore).put("scanned", page.scanned).put("scanComplete", page.complete);
    return n;
  }

  private interface Pager<T> {
    List<T> page(int offset, int limit);
  }

  private record Page<T>(List<ObjectNode> items, boolean hasMore, int scanned, boolean complete) {}

  /**
   * A page of rows; with a search, the matching entries among the first {@link #SEARCH_LIMIT},
   * paged in turn. One more entry than asked is read to tell whether there is a next page.
   */
  private static <T> Page<T> page(
      Pager<T> pager,
      Function<T, ObjectNode> view,
      java.util.function.BiPredicate<T, String> match,
      int offset,
      int limit,
      String search) {
    if (search.isEmpty()) {
      List<T> rows = pager.page(offset, limit + 1);
      List<ObjectNode> items = rows.stream().limit(limit).map(view).toList();
      return new Page<>(items, rows.size() > limit, rows.size(), true);
    }
    List<ObjectNode> found = new ArrayList<>();
    int scanned = 0;
    boolean complete = false;
    while (scanned < SEARCH_LIMIT && found.size() <= offset + limit) {
      List<T> rows = pager.page(scanned, MAX_LIMIT);
      if (rows.isEmpty()) {
        complete = true;
        break;
      }
      for (T row : rows) {
        if (match.test(row, search)) {
          found.add(view.apply(row));
        }
      }
      scanned += MAX_LIMIT;
    }
    List<ObjectNode> items =
        found.subList(Math.min(offset, found.size()), Math.min(offset + limit, found.size()));
    return new Page<>(items, found.size() > offset + limit, scanned, complete);
  }

  /** Whether a task is the one searched for, or its name contains the search (lower-cased once). */
  private static boolean matches(Signature s, String search, String lowerSearch) {
    return s.uuid().equals(search) || s.name().toLowerCase(Locale.ROOT).contains(lowerSearch);
  }

  /** A task with its history (when the control plane keeps task events) and cancellability. */
  private ObjectNode task(Map<String, String> q) {
    Inspection.TaskReport report = report(q);
    ObjectNode n = Views.task(report, queue(q.getOrDefault("queue", "")));
    List<Inspection.DagTask> dag =
        report.message().map(m -> inspection.dag(m, Views.MAX_ITEMS)).orElse(List.of());
    n.set("dag", Views.dag(dag));
    if (inspection.keepsTaskHistory()) {
      ArrayNode history = n.putArray("history");
      inspection.history(report.uuid()).forEach(e -> history.add(Views.event(e)));
    } else {
      n.putNull("history");
    }
    Inspection.Location where = report.location();
    boolean waitingOrRunning =
        where == Inspection.Location.PENDING
            || where == Inspection.Location.DELAYED
            || where == Inspection.Location.RUNNING;
    n.put(
        "cancellable", waitingOrRunning && report.state().map(s -> !s.isCompleted()).orElse(true));
    return n;
  }

  private Inspection.TaskReport report(Map<String, String> q) {
    String uuid = taskUuid(Exchanges.required(q, "uuid"));
    String queue = queue(q.getOrDefault("queue", ""));
    return oneListingAtATime(() -> inspection.task(uuid, queue));
  }

  private Reply deadLetterRaw(Map<String, String> q) {
    String queue = queue(q.getOrDefault("queue", ""));
    String id = Exchanges.required(q, "id");
    for (int offset = 0; offset < SEARCH_LIMIT; offset += MAX_LIMIT) {
      int from = offset;
      List<DeadLetterEntry> page =
          unlessLacking(
              "Downloading a dead letter of queue " + Exchanges.shown(queue),
              needsInspector(),
              () -> oneListingAtATime(() -> inspection.deadLetters(queue, from, MAX_LIMIT)));
      for (DeadLetterEntry e : page) {
        if (e.id().equals(id)) {
          byte[] message = e.message();
          return exchange ->
              Exchanges.download(
                  exchange,
                  "dead-letter-" + Exchanges.safe(id) + ".json",
                  "application/octet-stream",
                  message);
        }
      }
      if (page.isEmpty()) {
        break;
      }
    }
    throw new Guard.Refused(
        404,
        "no dead letter "
            + Exchanges.quote(id)
            + " among the first "
            + SEARCH_LIMIT
            + " of queue "
            + Exchanges.shown(queue));
  }

  private ArrayNode workers() {
    ArrayNode out = Guard.JSON.createArrayNode();
    inspection.workers().stream()
        .sorted(java.util.Comparator.comparing(WorkerStatus::id))
        .forEach(w -> out.add(Views.worker(w)));
    return out;
  }

  /**
   * The task limits set at run time ({@code machinery limit}), or why there are none: {@code
   * {"supported": false, "reason": ...}} on a control plane that keeps none.
   */
  private ObjectNode limits() {
    ObjectNode n = Guard.JSON.createObjectNode();
    java.util.Map<String, io.machinery.spi.ControlPlane.TaskLimitSetting> settings;
    try {
      settings = new java.util.TreeMap<>(inspection.taskLimits());
    } catch (UnsupportedOperationException e) {
      return n.put("supported", false)
          .put(
              "reason",
              "Task limits set at run time cannot be listed here: this needs a control plane that"
                  + " keeps them (the Redis, AMQP and memory ones do; machinery limit sets them)."
                  + Exchanges.detail(e.getMessage()));
    }
    n.put("supported", true).putNull("reason");
    ArrayNode out = n.putArray("limits");
    settings.forEach(
        (task, setting) ->
            out.addObject()
                .put("task", task)
                .put("ratePermits", setting.ratePermits())
                .put("ratePeriodMillis", setting.ratePeriod().toMillis())
                .put("burst", setting.burst())
                .put("maxConcurrent", setting.maxConcurrent())
                .put("describe", setting.describe()));
    return n;
  }

  /**
   * The breakers opened on every worker ({@link Inspection#openBreaker}: an operator's, and those
   * that shared breakers' cluster window opened), sorted by key, or why there are none: {@code
   * {"supported": false, "reason": ...}} on a control plane that keeps none, as {@link #limits()}
   * says it.
   */
  private ObjectNode breakers() {
    ObjectNode n = Guard.JSON.createObjectNode();
    Map<String, ControlPlane.BreakerOpening> open;
    try {
      open = new TreeMap<>(inspection.openBreakers());
    } catch (UnsupportedOperationException e) {
      return n.put("supported", false)
          .put(
              "reason",
              "Breaker openings cannot be listed here: "
                  + NEEDS_BREAKER_PLANE
                  + "."
                  + Exchanges.detail(e.getMessage()));
    }
    n.put("supported", true).putNull("reason");
    ArrayNode out = n.putArray("breakers");
    Instant now = server.clock().instant();
    open.values().forEach(o -> out.add(Views.breaker(o, now)));
    return n;
  }

  private ArrayNode periodic() {
    ArrayNode out = Guard.JSON.createArrayNode();
    inspection.periodic().forEach(e -> out.add(Views.periodic(e)));
    return out;
  }

  private void action(HttpExchange exchange, String action) throws IOException {
    if (!ACTIONS.contains(action)) {
      throw new Guard.Refused(
          404,
          "no such action: "
              + Exchanges.quote(action)
              + "; the actions are "
              + String.join(", ", new java.util.TreeSet<>(ACTIONS)));
    }
    guard.checkAction(exchange, action);
    JsonNode body = Exchanges.body(exchange);
    if (action.endsWith("-breaker")) {
      Exchanges.json(exchange, breakerAction(exchange, action, body));
      return;
    }
    // checked before the authenticator is asked: it sees only queue names
    String queue = queue(text(body, "queue"));
    guard.authorize(exchange, action, queue);
    ObjectNode result = Guard.JSON.createObjectNode().put("action", action).put("queue", queue);
    String shownQueue = Exchanges.shown(queue);
    switch (action) {
      case "purge" ->
          result.put(
              "count",
              unlessLacking(
                  "Purging queue " + shownQueue, needsInspector(), () -> inspection.purge(queue)));
      case "pause" ->
          unlessLackingRun(
              "Pausing queue " + shownQueue, NEEDS_CONTROL_PLANE, () -> inspection.pause(queue));
      case "resume" ->
          unlessLackingRun(
              "Resuming queue " + shownQueue, NEEDS_CONTROL_PLANE, () -> inspection.resume(queue));
      case "requeue" -> {
        Predicate<DeadLetterEntry> which = selection(body);
        result.put(
            "count",
            unlessLacking(
                "Requeuing the dead letters of queue " + shownQueue,
                needsInspector(),
                () -> oneListingAtATime(() -> inspection.requeueDeadLetters(queue, which))));
      }
      case "delete" -> {
        Predicate<DeadLetterEntry> which = selection(body);
        result.put(
            "count",
            unlessLacking(
                "Deleting the dead letters of queue " + shownQueue,
                needsInspector(),
                () -> oneListingAtATime(() -> inspection.deleteDeadLetters(queue, which))));
      }
      case "cancel" -> {
        String uuid = text(body, "uuid");
        if (uuid.isBlank()) {
          throw Guard.badRequest("name the task to cancel in \"uuid\"");
        }
        taskUuid(uuid);
        String reason = cannotCancel();
        if (!reason.isEmpty()) {
          throw lacking("Cancelling task " + Exchanges.shown(uuid), reason, null);
        }
        requireWaitingOrRunningIn(queue, uuid);
        result.put("uuid", uuid).put("count", server.cancel(List.of(uuid)));
      }
      default -> throw new Guard.Refused(404, "no such action: " + action);
    }
    Exchanges.json(exchange, result);
  }

  /**
   * Runs {@code read} holding {@link #listing}, waiting for it at most the read deadline ({@link
   * BoundedReads#deadline}): a listing stuck on a broker that is down holds it until the broker's
   * timeout, and the reads and actions behind it answer 503 instead of queueing for minutes.
   */
  private <T> T oneListingAtATime(java.util.function.Supplier<T> read) {
    try {
      if (!listing.tryLock(reads.deadline().toNanos(), TimeUnit.NANOSECONDS)) {
        throw new Guard.Refused(
            503,
            "another listing of a queue has been waiting for the broker for "
                + reads.shownDeadline()
                + " (the dashboard lists one queue at a time): the broker is slow or down; try"
                + " again in a moment");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Guard.Refused(503, "the read was given up while it waited for another listing");
    }
    try {
      return read.get();
    } finally {
      listing.unlock();
    }
  }

  /**
   * Refuses to cancel a task not found waiting or running in {@code queue}, the queue the
   * authenticator was asked about: otherwise a request naming a queue it may act on would cancel a
   * task of any other queue. The page offers Cancel only for a task it found so.
   */
  private void requireWaitingOrRunningIn(String queue, String uuid) {
    Inspection.Location where = oneListingAtATime(() -> inspection.task(uuid, queue)).location();
    boolean here =
        switch (where) {
          case PENDING, DELAYED -> true;
          case RUNNING ->
              inspection.inFlight(queue).stream().anyMatch(t -> t.task().uuid().equals(uuid));
          default -> false;
        };
    if (!here) {
      throw new Guard.Refused(
          409,
          "task "
              + Exchanges.shown(uuid)
              + " is not waiting or running in queue "
              + Exchanges.shown(queue)
              + " ("
              + where.name()
              + "): the dashboard cancels a task only in the queue it finds it in");
    }
  }

  /**
   * Opens or closes a breaker key on every worker. The authenticator is asked with the key in place
   * of a queue. The opening is signed {@code dashboard:<the client's address>}, all the dashboard
   * knows of who asked (the CLI signs {@code cli:user@host}).
   */
  private ObjectNode breakerAction(HttpExchange exchange, String action, JsonNode body) {
    String key = text(body, "key");
    guard.authorize(exchange, action, "breaker", key);
    if (key.isBlank()) {
      throw Guard.badRequest("name the breaker in \"key\"");
    }
    requestCheck(() -> ControlPlane.BreakerOpening.requireBreakerKey(key));
    ObjectNode result = Guard.JSON.createObjectNode().put("action", action).put("key", key);
    String shownKey = Exchanges.shown(key);
    if (action.equals("close-breaker")) {
      unlessLackingRun(
          "Closing breaker " + shownKey, NEEDS_BREAKER_PLANE, () -> inspection.closeBreaker(key));
      return result;
    }
    Duration openFor = openFor(text(body, "openFor"));
    String reason = text(body, "reason").strip();
    ControlPlane.BreakerOpening opening =
        unlessLacking(
            "Opening breaker " + shownKey,
            NEEDS_BREAKER_PLANE,
            () ->
                inspection.openBreaker(
                    key, openFor, reason.isEmpty() ? DEFAULT_REASON : reason, openedBy(exchange)));
    return result.setAll(Views.breaker(opening, server.clock().instant()));
  }

  /** A text field of an action's body; empty when absent or null. */
  private static String text(JsonNode body, String field) {
    JsonNode value = body.path(field);
    if (value.isMissingNode() || value.isNull()) {
      return "";
    }
    if (!value.isTextual()) {
      throw Guard.badRequest(
          "\"" + field + "\" must be a string, was " + Exchanges.quote(value.toString()));
    }
    return value.asText();
  }

  /** How long a breaker opens for, in Go's syntax ({@code 10m}, {@code 1h30m}), checked. */
  private static Duration openFor(String text) {
    if (text.isBlank()) {
      throw Guard.badRequest(
          "say how long the breaker opens for in \"openFor\": a Go duration such as 10m or 1h30m");
    }
    Duration openFor;
    try {
      openFor = GoDurations.parse(text.strip());
    } catch (IllegalArgumentException e) {
      throw Guard.badRequest(
          "openFor must be a Go duration, numbers each with a unit (ns, us, ms, s, m, h) such"
              + " as 10m or 1h30m, was "
              + Exchanges.quote(text));
    }
    return requestCheck(() -> ControlPlane.BreakerOpening.requireOpenFor(openFor));
  }

  private static String openedBy(HttpExchange exchange) {
    InetSocketAddress from = exchange.getRemoteAddress();
    return from == null || from.getAddress() == null
        ? "dashboard"
        : "dashboard:" + from.getAddress().getHostAddress();
  }

  /** The dead letters an action names in {@code ids}; all of them when {@code all} is true. */
  private static Predicate<DeadLetterEntry> selection(JsonNode body) {
    if (body.path("all").asBoolean(false)) {
      return e -> true;
    }
    JsonNode ids = body.get("ids");
    if (ids == null || !ids.isArray() || ids.isEmpty()) {
      throw Guard.badRequest("name the dead letters in \"ids\", or send \"all\": true");
    }
    Set<String> chosen = new HashSet<>();
    ids.forEach(id -> chosen.add(id.asText()));
    return e -> chosen.contains(e.id());
  }
}
