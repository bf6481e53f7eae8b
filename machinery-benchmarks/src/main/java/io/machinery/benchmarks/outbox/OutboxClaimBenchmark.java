package io.machinery.benchmarks.outbox;

import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.benchmarks.sidebyside.Percentiles;
import io.machinery.embedded.NullBackend;
import io.machinery.outbox.jdbc.internal.Backoff;
import io.machinery.outbox.jdbc.internal.ClaimTuning;
import io.machinery.outbox.jdbc.internal.OutboxTable;
import io.machinery.outbox.jdbc.internal.RelayPass;
import io.machinery.wire.WireCodec;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * What one relay pass costs on PostgreSQL, by the shape of the outbox table, for the relay's claim
 * and a baseline claim side by side in one run: real passes ({@code RelayPass}, the code an {@code
 * OutboxRelay} runs: claim, read each sender's rows, decode, publish, delete) on a table filled
 * with the given senders and rows, some senders backing off (their first row's {@code
 * next_attempt_at} an hour away, as after a broker outage) and some due (a back-off that ran out).
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.outbox.OutboxClaimBenchmark \
 *     [--url JDBC_URL] [--scenarios common,outage,...|all] [--claims relay,listing-only,...] \
 *     [--passes 20] [--warmup 5] [--rounds 3] [--max-senders 16] [--batch-size 100]
 * </pre>
 *
 * <p>The database is {@code --url}, else {@code POSTGRES_URL} (from the services' env file), else
 * the services' own; each scenario's table has a name of its own and is dropped after it. The
 * default scenarios take a few minutes ({@code listing-only} lists 100,000 senders a pass, about a
 * second, in two of them); {@code all} adds a table of a million rows.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Every pass sees the table as filled.</b> The pass runs on a connection whose {@code
 *       commit} rolls back, so what it published is not deleted and due senders stay due: every
 *       pass of every claim works on the same rows, and each must publish as many rows as the
 *       others (checked: a claim publishing otherwise is a bug, and the command exits 1). The
 *       broker is an in-memory one (a new {@code Server} per round and claim, its messages dropped
 *       with it) and the backend stores nothing ({@code NullBackend}): the pass's SQL is what is
 *       measured, not Redis.
 *   <li><b>The claims.</b> {@code relay} is {@link ClaimTuning#DEFAULT}, what a relay runs (list up
 *       to 32 senders, else pages of waiting rows, then the sender index once); {@code
 *       listing-only} ({@link ClaimTuning#LISTING_ONLY}) lists every sender on every pass and
 *       claims among them by key: the claim's first path alone, the baseline. {@code pages-only}
 *       pages up to the table's whole {@code seq} span (a grouping cost of 1): where two senders or
 *       more back off it reads every waiting row in pages and never the sender index, the claim
 *       before the index read was added, in pages rather than one walk; {@code first-page} reads
 *       the sender index after the first page (as many rows as it lists senders, 32 for up to 16
 *       senders a pass) whatever the table's size; {@code NAME=a:b:c} any other {@link ClaimTuning}
 *       (its three values in order). Claims alternate within a round, each round starting with the
 *       next one.
 *   <li><b>The tables.</b> A scenario is one or more runs of rows, one after the other in {@code
 *       seq} order; the rows of a run go to its senders in turn (row {@code i} to sender {@code i
 *       mod senders}, so each sender's first row is among the run's first), and which senders back
 *       off or are due is spread over the run. The table is vacuumed and analysed before the
 *       passes, and dropped after.
 *   <li><b>The figures.</b> A pass's wall time seen by this JVM, round trips included, and the part
 *       of it spent running the claim's statements (listing, pages, the sender index, the due
 *       senders; told from the pass's other statements by their SQL); nearest-rank percentiles over
 *       every measured pass of every round. Times on a shared machine vary from round to round, so
 *       each round's median is printed too. The pages of the table and its indexes a pass reads
 *       (PostgreSQL's {@code pg_statio_user_tables}, hit or read, the backend's statistics flushed
 *       before each reading) do not: they are the same in every round, whatever else the machine
 *       runs, and compare the claims where the times cannot.
 * </ul>
 */
public final class OutboxClaimBenchmark {
  private static final String DEFAULT_URL =
      "jdbc:postgresql://127.0.0.1:5432/machinery?user=machinery&password=machinery";

  /** A run of rows of one scenario, given to its senders in turn. */
  private record Run(int rows, int senders, int backingOff, int due) {}

  private record Scenario(String name, String label, List<Run> runs) {
    long rows() {
      return runs.stream().mapToLong(Run::rows).sum();
    }
  }

  private static final List<Scenario> SCENARIOS =
      List.of(
          new Scenario(
              "common",
              "10,000 senders, 100,000 rows; 3,000 backing off / 200 due",
              List.of(new Run(100_000, 10_000, 3_000, 200))),
          new Scenario(
              "one-row-senders",
              "100,000 senders x 1 row; 5,000 backing off / 200 due",
              List.of(new Run(100_000, 100_000, 5_000, 200))),
          new Scenario(
              "few-senders",
              "50 senders x 2,000 rows; 20 backing off / 5 due",
              List.of(new Run(100_000, 50, 20, 5))),
          new Scenario(
              "outage",
              "10,000 senders, 100,000 rows, all backing off",
              List.of(new Run(100_000, 10_000, 10_000, 0))),
          new Scenario(
              "recovery",
              "10,000 senders, 100,000 rows; 9,800 backing off / 200 due",
              List.of(new Run(100_000, 10_000, 9_800, 200))),
          new Scenario(
              "one-row-outage",
              "100,000 senders x 1 row, all backing off",
              List.of(new Run(100_000, 100_000, 100_000, 0))),
          new Scenario(
              "slow-first-2k",
              "2,000 rows of 200 senders backing off first, then 98,000 of 9,800 healthy",
              List.of(new Run(2_000, 200, 200, 0), new Run(98_000, 9_800, 0, 0))),
          new Scenario(
              "slow-first-10k",
              "10,000 rows of 1,000 senders backing off first, then 90,000 of 9,000 healthy",
              List.of(new Run(10_000, 1_000, 1_000, 0), new Run(90_000, 9_000, 0, 0))),
          new Scenario(
              "small-slow-first",
              "1,000 rows of 100 senders backing off first, then 4,000 of 400 healthy",
              List.of(new Run(1_000, 100, 100, 0), new Run(4_000, 400, 0, 0))),
          new Scenario(
              "slow-first-million",
              "5,000 rows of 500 senders backing off first, then 995,000 of 99,500 healthy",
              List.of(new Run(5_000, 500, 500, 0), new Run(995_000, 99_500, 0, 0))));

  /** Every scenario but the million rows (a long fill, and a second a pass listing-only). */
  private static final String DEFAULT_SCENARIOS =
      "common,one-row-senders,few-senders,outage,recovery,one-row-outage,slow-first-2k,"
          + "slow-first-10k,small-slow-first";

  private static final Map<String, ClaimTuning> NAMED_CLAIMS = namedClaims();

  private static Map<String, ClaimTuning> namedClaims() {
    ClaimTuning d = ClaimTuning.DEFAULT;
    Map<String, ClaimTuning> claims = new LinkedHashMap<>();
    claims.put("relay", d);
    claims.put("listing-only", ClaimTuning.LISTING_ONLY);
    claims.put("pages-only", new ClaimTuning(d.minListingBound(), 1, d.pageGrowth()));
    claims.put(
        "first-page", new ClaimTuning(d.minListingBound(), Integer.MAX_VALUE, d.pageGrowth()));
    return claims;
  }

  private OutboxClaimBenchmark() {}

  public static void main(String[] args) throws Exception {
    String url = Objects.requireNonNullElse(System.getenv("POSTGRES_URL"), DEFAULT_URL);
    String scenarioNames = DEFAULT_SCENARIOS;
    String claimNames = "relay,listing-only";
    int passes = 20;
    int warmup = 5;
    int rounds = 3;
    int maxSenders = 16;
    int batchSize = 100;
    for (int i = 0; i < args.length; i += 2) {
      String v = i + 1 < args.length ? args[i + 1] : "";
      switch (args[i]) {
        case "--url" -> url = v;
        case "--scenarios" -> scenarioNames = v;
        case "--claims" -> claimNames = v;
        case "--passes" -> passes = Integer.parseInt(v);
        case "--warmup" -> warmup = Integer.parseInt(v);
        case "--rounds" -> rounds = Integer.parseInt(v);
        case "--max-senders" -> maxSenders = Integer.parseInt(v);
        case "--batch-size" -> batchSize = Integer.parseInt(v);
        default -> {
          System.err.println(
              "usage: OutboxClaimBenchmark [--url JDBC_URL] [--scenarios NAME,...|all]"
                  + " [--claims NAME,...] [--passes N] [--warmup N] [--rounds N]"
                  + " [--max-senders N] [--batch-size N]\n  scenarios: "
                  + String.join(", ", SCENARIOS.stream().map(Scenario::name).toList())
                  + "\n  claims: "
                  + String.join(", ", NAMED_CLAIMS.keySet())
                  + ", or NAME=minListingBound:groupingCost:pageGrowth");
          System.exit(2);
        }
      }
    }
    List<Scenario> scenarios = scenarios(scenarioNames);
    Map<String, ClaimTuning> claims = claims(claimNames);
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    dataSource.setURL(url);
    Settings settings = new Settings(passes, warmup, rounds, maxSenders, batchSize);

    List<String> table = new ArrayList<>();
    boolean consistent = true;
    for (Scenario scenario : scenarios) {
      consistent &= rows(scenario, run(dataSource, scenario, claims, settings), table);
    }
    System.out.printf(
        Locale.ROOT,
        "%n%d rounds of %d passes (after %d unmeasured) per claim and table; maxSenders %d,"
            + " batchSize %d; PostgreSQL %s%n%n",
        rounds,
        passes,
        warmup,
        maxSenders,
        batchSize,
        serverVersion(dataSource));
    System.out.println(
        "| table (senders x rows; backing off / due) | claim | ms a pass p50 / p90 / max |"
            + " pass p50 per round | ms of claim statements a pass p50 / p90 |"
            + " pages a pass, per round | rows published a pass |");
    System.out.println("|---|---|---:|---|---:|---|---:|");
    table.forEach(System.out::println);
    if (!consistent) {
      System.out.println(
          "\nThe claims of a table published different rows a pass (marked !): a claim is wrong.");
      System.exit(1);
    }
  }

  private record Settings(int passes, int warmup, int rounds, int maxSenders, int batchSize) {}

  /**
   * A round of one claim's passes on one table: each measured pass's time, its claim statements'
   * time, and the rows it published.
   */
  private record Round(
      List<Long> passNanos, List<Long> claimNanos, List<Integer> published, long pagesAPass) {}

  /** Every round of each claim on one scenario's table, by claim. */
  private static Map<String, List<Round>> run(
      PGSimpleDataSource dataSource,
      Scenario scenario,
      Map<String, ClaimTuning> claims,
      Settings settings)
      throws SQLException {
    OutboxTable table =
        OutboxTable.named("outbox_claim_bench_" + UUID.randomUUID().toString().substring(0, 8));
    Map<String, List<Round>> rounds = new LinkedHashMap<>();
    claims.keySet().forEach(c -> rounds.put(c, new ArrayList<>()));
    try {
      long started = System.nanoTime();
      fill(dataSource, table, scenario);
      System.err.printf(
          Locale.ROOT,
          "%s: %,d rows filled in %.1f s%n",
          scenario.name(),
          scenario.rows(),
          (System.nanoTime() - started) / 1e9);
      List<String> order = new ArrayList<>(claims.keySet());
      for (int round = 1; round <= settings.rounds(); round++) {
        for (String claim : order) {
          Round r = passes(dataSource, table, claims.get(claim), settings);
          rounds.get(claim).add(r);
          System.err.printf(
              Locale.ROOT,
              "%s round %d %s: pass p50 %.2f ms, claim p50 %.2f ms%n",
              scenario.name(),
              round,
              claim,
              Percentiles.millis(r.passNanos(), 50),
              Percentiles.millis(r.claimNanos(), 50));
        }
        order.add(order.remove(0)); // the next round starts with the next claim
      }
    } finally {
      try (Connection c = dataSource.getConnection();
          Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS " + table.name());
      }
    }
    return rounds;
  }

  /** One round of one claim: its unmeasured passes, then its measured ones, each rolled back. */
  private static Round passes(
      PGSimpleDataSource dataSource, OutboxTable table, ClaimTuning claim, Settings settings)
      throws SQLException {
    List<Long> passNanos = new ArrayList<>();
    List<Long> claimNanos = new ArrayList<>();
    List<Integer> published = new ArrayList<>();
    long pagesBefore = 0;
    Duration wait = Duration.ofMinutes(1); // no pass fails: the rows decode, the broker is memory
    try (Server server = Server.builder().backend(NullBackend.create()).build();
        Connection real = dataSource.getConnection()) {
      PassConnection connection = new PassConnection(real);
      real.setAutoCommit(false);
      RelayPass pass =
          new RelayPass(
              server,
              table,
              settings.batchSize(),
              settings.maxSenders(),
              new Backoff(wait, wait),
              claim);
      for (int i = 0; i < settings.warmup() + settings.passes(); i++) {
        if (i == settings.warmup()) {
          pagesBefore = pagesRead(real, table);
        }
        connection.claimNanos = 0;
        long started = System.nanoTime();
        RelayPass.Result result = pass.run(connection.connection, () -> false);
        long took = System.nanoTime() - started;
        if (connection.claimNanos == 0) {
          throw new IllegalStateException("no claim statement seen: has its SQL changed?");
        }
        if (result.failure() != null) {
          throw new IllegalStateException("a pass failed", result.failure());
        }
        if (i >= settings.warmup()) {
          passNanos.add(took);
          claimNanos.add(connection.claimNanos);
          published.add(result.published());
        }
      }
      long pages = pagesRead(real, table) - pagesBefore;
      return new Round(passNanos, claimNanos, published, pages / settings.passes());
    }
  }

  /**
   * The pages of the table and its indexes this connection's backend has read (shared buffers hit
   * or read from disk) since the table was created, its own statistics flushed first: unlike a
   * time, the same whatever else the machine runs. The pass's transaction is over (rolled back).
   */
  private static long pagesRead(Connection real, OutboxTable table) throws SQLException {
    real.setAutoCommit(true);
    try (Statement s = real.createStatement()) {
      s.execute("SELECT pg_stat_force_next_flush()"); // reported as this statement ends
      try (ResultSet rs =
          s.executeQuery(
              "SELECT coalesce(heap_blks_read, 0) + coalesce(heap_blks_hit, 0)"
                  + " + coalesce(idx_blks_read, 0) + coalesce(idx_blks_hit, 0)"
                  + " FROM pg_statio_user_tables WHERE relid = to_regclass('"
                  + table.name()
                  + "')")) {
        return rs.next() ? rs.getLong(1) : 0;
      }
    } finally {
      real.setAutoCommit(false);
    }
  }

  /** The table's rows in its markdown table; false when its claims published different rows. */
  private static boolean rows(
      Scenario scenario, Map<String, List<Round>> rounds, List<String> out) {
    boolean consistent =
        rounds.values().stream()
                .flatMap(List::stream)
                .flatMap(r -> r.published().stream())
                .distinct()
                .count()
            == 1;
    for (Map.Entry<String, List<Round>> claim : rounds.entrySet()) {
      List<Long> passes = claim.getValue().stream().flatMap(r -> r.passNanos().stream()).toList();
      List<Long> claims = claim.getValue().stream().flatMap(r -> r.claimNanos().stream()).toList();
      out.add(
          String.format(
              Locale.ROOT,
              "| %s | %s | %.2f / %.2f / %.2f | %s | %.2f / %.2f | %s | %s%s |",
              scenario.label(),
              claim.getKey(),
              Percentiles.millis(passes, 50),
              Percentiles.millis(passes, 90),
              Percentiles.millis(passes, 100),
              String.join(
                  ", ",
                  claim.getValue().stream()
                      .map(
                          r ->
                              String.format(
                                  Locale.ROOT, "%.2f", Percentiles.millis(r.passNanos(), 50)))
                      .toList()),
              Percentiles.millis(claims, 50),
              Percentiles.millis(claims, 90),
              String.join(
                  ", ",
                  claim.getValue().stream()
                      .map(r -> String.format(Locale.ROOT, "%,d", r.pagesAPass()))
                      .toList()),
              String.join(
                  "/",
                  claim.getValue().stream()
                      .flatMap(r -> r.published().stream())
                      .distinct()
                      .map(String::valueOf)
                      .toList()),
              consistent ? "" : " !"));
    }
    return consistent;
  }

  /**
   * Creates the table and fills it: each run's rows in {@code seq} order, row {@code i} of a run to
   * its sender {@code i mod senders}; a sender is backing off or due by its number spread over the
   * run ({@code n * 7919 mod senders}), its first row then holding one failed attempt.
   */
  private static void fill(PGSimpleDataSource dataSource, OutboxTable table, Scenario scenario)
      throws SQLException {
    Signature task = Signature.create("noop");
    String message = new String(WireCodec.encode(task), StandardCharsets.UTF_8);
    try (Connection c = dataSource.getConnection()) {
      table.create(c);
      try (Statement s = c.createStatement()) {
        for (int r = 0; r < scenario.runs().size(); r++) {
          Run run = scenario.runs().get(r);
          String n = "(i % " + run.senders() + ")";
          String spread = "(" + n + "::bigint * 7919 % " + run.senders() + ")";
          try (PreparedStatement insert =
              c.prepareStatement(
                  "INSERT INTO "
                      + table.name()
                      + " (sender_id, kind, task_uuid, task_name, message) SELECT 'run"
                      + r
                      + "-' || "
                      + n
                      + " || CASE WHEN "
                      + spread
                      + " < "
                      + run.backingOff()
                      + " THEN '-b' WHEN "
                      + spread
                      + " < "
                      + (run.backingOff() + run.due())
                      + " THEN '-d' ELSE '' END, 'task', ?, 'noop', ? FROM generate_series(0, "
                      + (run.rows() - 1)
                      + ") i ORDER BY i")) {
            insert.setString(1, task.uuid());
            insert.setString(2, message);
            insert.executeUpdate();
          }
        }
        s.executeUpdate(
            "UPDATE "
                + table.name()
                + " SET attempts = 1, next_attempt_at = CURRENT_TIMESTAMP + CASE WHEN sender_id"
                + " LIKE '%-b' THEN INTERVAL '1 hour' ELSE INTERVAL '-1 minute' END WHERE seq IN"
                + " (SELECT min(seq) FROM "
                + table.name()
                + " WHERE sender_id LIKE '%-b' OR sender_id LIKE '%-d' GROUP BY sender_id)");
        s.execute("VACUUM ANALYZE " + table.name()); // auto-commit: VACUUM runs outside one
      }
    }
  }

  /**
   * A pass's connection: its {@code commit} rolls back, so every pass leaves the table as it found
   * it, and the time spent running the claim's statements is added up ({@link #claimNanos}).
   */
  private static final class PassConnection {
    final Connection connection;
    long claimNanos;

    PassConnection(Connection real) {
      this.connection =
          (Connection)
              Proxy.newProxyInstance(
                  OutboxClaimBenchmark.class.getClassLoader(),
                  new Class<?>[] {Connection.class},
                  (proxy, method, args) -> {
                    if (method.getName().equals("commit") && method.getParameterCount() == 0) {
                      real.rollback();
                      return null;
                    }
                    Object result = invoke(method, real, args);
                    if (method.getName().equals("prepareStatement") && isClaim((String) args[0])) {
                      return timed((PreparedStatement) result);
                    }
                    return result;
                  });
    }

    /**
     * Whether {@code sql} is one of the claim's statements: listing the senders ({@code WITH
     * RECURSIVE}) or locking them ({@code SKIP LOCKED}); reading a claimed sender's rows locks them
     * without skipping.
     */
    private static boolean isClaim(String sql) {
      return sql.startsWith("WITH RECURSIVE") || sql.contains("SKIP LOCKED");
    }

    private PreparedStatement timed(PreparedStatement real) {
      return (PreparedStatement)
          Proxy.newProxyInstance(
              OutboxClaimBenchmark.class.getClassLoader(),
              new Class<?>[] {PreparedStatement.class},
              (proxy, method, args) -> {
                if (!method.getName().startsWith("execute")) {
                  return invoke(method, real, args);
                }
                long started = System.nanoTime();
                try {
                  return invoke(method, real, args); // pgjdbc reads every row of the result here
                } finally {
                  claimNanos += System.nanoTime() - started;
                }
              });
    }

    private static Object invoke(Method method, Object target, Object[] args) throws Throwable {
      try {
        return method.invoke(target, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    }
  }

  private static List<Scenario> scenarios(String names) {
    if (names.equals("all")) {
      return SCENARIOS;
    }
    List<Scenario> chosen = new ArrayList<>();
    for (String name : names.split(",")) {
      chosen.add(
          SCENARIOS.stream()
              .filter(s -> s.name().equals(name.strip()))
              .findFirst()
              .orElseThrow(() -> new IllegalArgumentException("no scenario " + name)));
    }
    return chosen;
  }

  private static Map<String, ClaimTuning> claims(String names) {
    Map<String, ClaimTuning> chosen = new LinkedHashMap<>();
    for (String name : names.split(",")) {
      String n = name.strip();
      int eq = n.indexOf('=');
      if (eq > 0) {
        int[] v =
            Arrays.stream(n.substring(eq + 1).split(":")).mapToInt(Integer::parseInt).toArray();
        if (v.length != 3) {
          throw new IllegalArgumentException("a claim NAME=a:b:c has three values: " + n);
        }
        chosen.put(n.substring(0, eq), new ClaimTuning(v[0], v[1], v[2]));
      } else if (NAMED_CLAIMS.containsKey(n)) {
        chosen.put(n, NAMED_CLAIMS.get(n));
      } else {
        throw new IllegalArgumentException("no claim " + n + " (" + NAMED_CLAIMS.keySet() + ")");
      }
    }
    return chosen;
  }

  private static String serverVersion(PGSimpleDataSource dataSource) throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      return c.getMetaData().getDatabaseProductVersion();
    }
  }
}
