package io.machinery.dashboard;

import com.sun.net.httpserver.HttpServer;
import io.machinery.Inspection;
import io.machinery.Server;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * An embeddable web dashboard for one {@link Server}: queues with their sizes and a chart of the
 * last minutes, pages of pending, delayed, in-flight and dead-lettered tasks, one task's message
 * and state with its history (when workers record task events), live workers and periodic entries,
 * the task limits and breaker openings set at run time, and the repairs (requeue or delete dead
 * letters, purge, pause, resume, cancel a task, open or close a breaker on every worker). It is
 * built only on core's {@link Inspection}, so every broker and backend that implements the
 * inspection SPI gets it.
 *
 * <pre>{@code
 * try (Dashboard dashboard = Dashboard.builder(server).port(8080).token(System.getenv("DASHBOARD_TOKEN")).build()) {
 *   dashboard.start();
 *   ...
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>HTTP server.</b> The JDK's {@code com.sun.net.httpserver} (module {@code
 *       jdk.httpserver}, in every JDK since 6 and supported API): the dashboard serves a few small
 *       files and a dozen JSON calls polled every two seconds by one or two operators, so it needs
 *       no routing or servlet framework, and an embedded library must not drag Jetty or Netty
 *       versions into the user's service. Requests run on virtual threads.
 *   <li><b>Safe by default.</b> It binds to 127.0.0.1 unless {@link Builder#bindAddress} says
 *       otherwise; when bound to a loopback address it answers only requests whose {@code Host} is
 *       a loopback name (a DNS rebinding page cannot read task arguments), and reads need nothing.
 *       Bound to any other address, reads need the {@link Builder#token token} (or pass the {@link
 *       Builder#authenticator}) as actions do, because task arguments can hold personal data: a
 *       dashboard bound so with neither is refused at {@link Builder#build()}, unless {@link
 *       Builder#openReads} says reads are open on purpose (behind a proxy that authenticates).
 *       Actions need the token (or the authenticator); with neither, or with {@link
 *       Builder#readOnly}, every action is refused. The page and its script are served to anyone:
 *       they hold no data, and the page asks for the token when a read is refused.
 *   <li><b>Queue names.</b> Every queue name a request gives passes {@link
 *       io.machinery.wire.WireCodec#checkQueueName} before it reaches the inspector or an
 *       authenticator (400 otherwise): on Redis a queue is a raw key, and a name such as {@code
 *       TriggerChordMutex} would read or purge a key that is no queue. Likewise every task UUID
 *       passes the checks a worker applies to a message's UUID (with relaxed ids: at most 256
 *       characters, no whitespace or control characters, no reserved key): it is the raw key of the
 *       task's state.
 *   <li><b>Errors.</b> Every answer is JSON (never sniffed as anything else), and request text it
 *       quotes, a path or a header as much as a field, is at most 64 characters with control and
 *       format characters escaped, so neither a browser nor a terminal that prints it acts on it. A
 *       request that breaks one of these rules answers 400 with a message the dashboard wrote; a
 *       query over 8 KiB, 414. What the deployment lacks (no control plane, a broker that cannot
 *       list its queues) answers 501 saying what was asked, what it needs and where that is, with
 *       the underlying message cut to 300 bytes. A failure of the broker, the backend or the
 *       control plane answers 503, any other failure 500, each with an error id and a generic
 *       message, logged once with that id: an exception's message, even an {@code
 *       IllegalArgumentException}'s from a client library, can name hosts or carry a URI's
 *       credentials.
 *   <li><b>A broker that is down.</b> A read waits for the broker and the backend at most {@link
 *       Builder#readTimeout} (10 s by default), then answers 503, instead of the client library's
 *       timeout (15 s a command on Redis); at most {@link Builder#maxConcurrentReads} reads (16 by
 *       default) run at once, those given up included, and a further one answers 503 at once, so
 *       the polls of open pages cannot pile up threads and queued commands during an outage (see
 *       {@code BoundedReads}). Actions wait for the broker's own timeout: one given up might still
 *       take effect.
 *   <li><b>CSRF.</b> The token travels in the {@code X-Machinery-Token} header of each action (and
 *       of each read where reads need it), set by the page's script from what the operator typed
 *       (kept in the tab's {@code sessionStorage}). There is no cookie or other ambient credential
 *       for a forged request to ride on, and a cross-site page cannot set that header without a
 *       CORS preflight this server never grants. Actions also must be POSTs with a JSON body, and a
 *       present {@code Origin} or {@code Sec-Fetch-Site} header must say same origin.
 *   <li><b>Untrusted data.</b> Task names, arguments, results and errors come from whoever can
 *       publish: the page builds the DOM with {@code textContent} only, the Content-Security-Policy
 *       allows scripts from this origin only (no inline script), and long strings are cut in the
 *       JSON with a link to download the whole message as an attachment.
 *   <li><b>Chart.</b> A {@link Sampler} reads the queues' sizes and the workers' running tasks
 *       every {@link Builder#sampleInterval} into a ring buffer of {@link Builder#history} samples;
 *       tasks finished are the running tasks seen that are gone at the next sample (a lower bound
 *       for tasks shorter than the interval), failures the growth of the dead letters. No {@code
 *       TaskListener} is needed, so it works for remote workers too.
 *   <li><b>A broker that keeps no counts.</b> Google Cloud Pub/Sub's inspector lists, purges and
 *       repairs but counts nothing ({@link io.machinery.spi.Inspector#countsQueues()} is false).
 *       The dashboard degrades per feature rather than failing the page: the overview lists the
 *       queues it knows of (the default queue, the paused ones and those live workers consume, from
 *       the control plane when there is one) with null sizes, which the page shows as "not counted
 *       by this broker"; a queue page lists what the broker can list; the chart keeps the running
 *       and finished tasks; and the sampler does not ask for counts. Which queues hold dead letters
 *       is not looked for: on Pub/Sub the dead letters of every queue share the broker's one
 *       dead-letter topic and subscription ({@code machinery_dead_letters} by default), and the
 *       queue each came from is an attribute of the message, so only pulling the whole subscription
 *       would tell; the broker's configuration names no queue, and the inspector SPI does not name
 *       that subscription either. A queue's page lists its dead letters (that listing pulls).
 * </ul>
 *
 * Thread-safe. Whoever builds a dashboard closes it; closing stops the HTTP server, the sampler and
 * their threads, and leaves the server open.
 */
public final class Dashboard implements AutoCloseable {
  /** The default port. */
  public static final int DEFAULT_PORT = 8090;

  /** The default address to bind: loopback only. */
  public static final String DEFAULT_BIND_ADDRESS = "127.0.0.1";

  /** The default time between two samples of the chart. */
  public static final Duration DEFAULT_SAMPLE_INTERVAL = Duration.ofSeconds(5);

  /** The default number of samples kept (ten minutes at the default interval). */
  public static final int DEFAULT_HISTORY = 120;

  /** The default number of queues the overview lists; it says how many it leaves out. */
  public static final int DEFAULT_MAX_OVERVIEW_QUEUES = 200;

  /**
   * The default time a read waits for the broker and the result backend before it answers 503. The
   * page polls every 2 s; an operator learns more from "did not answer within 10 s" than from a
   * page that stays blank for the client library's timeout, and a slow listing (a search over a few
   * thousand AMQP messages) fits.
   */
  public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(10);

  /**
   * The default number of reads that run at once, those given up at {@link Builder#readTimeout} but
   * not yet ended included: the polls of a few open pages.
   */
  public static final int DEFAULT_MAX_CONCURRENT_READS = 16;

  /** The header that carries the token of an action, or of a read where reads need it. */
  public static final String TOKEN_HEADER = "X-Machinery-Token";

  /**
   * Decides whether a request may run an action, or read where reads need it (a dashboard bound to
   * an address other than loopback, without {@link Builder#openReads}). Called on the request's
   * thread for every action and every such read.
   */
  @FunctionalInterface
  public interface Authenticator {
    /**
     * Tells whether an action may run.
     *
     * @param action the action: {@code purge}, {@code pause}, {@code resume}, {@code requeue},
     *     {@code delete}, {@code cancel}, {@code open-breaker} or {@code close-breaker}; or {@link
     *     #READ} for a read
     * @param queue the queue it acts on, a valid queue name (for {@code cancel}: the queue the task
     *     page was opened for, and the task is cancelled only when found waiting or running in it;
     *     for {@code open-breaker} and {@code close-breaker}: the breaker key, as sent); empty for
     *     {@link #READ}: reading is all or nothing, as a task is found by its UUID in any queue
     * @param header reads a request header by name (case-insensitive); null when absent
     * @return true to allow it
     */
    boolean permits(String action, String queue, Function<String, @Nullable String> header);

    /** The action an authenticator is asked about for a read. */
    String READ = "read";
  }

  private final Server server;
  private final InetSocketAddress address;
  private final boolean readOnly;
  private final boolean openReads;
  private final @Nullable Authenticator authenticator;
  private final Duration sampleInterval;
  private final int history;
  private final int maxOverviewQueues;
  private final Duration readTimeout;
  private final int maxConcurrentReads;
  private final Object lock = new Object();
  private @Nullable HttpServer http;
  private @Nullable ExecutorService executor;
  private @Nullable Sampler sampler;
  private @Nullable BoundedReads reads;

  private Dashboard(Builder b) {
    this.server = b.server;
    this.address = new InetSocketAddress(b.bindAddress, b.port);
    this.readOnly = b.readOnly;
    this.openReads = b.openReads;
    this.authenticator = b.authenticator;
    this.sampleInterval = b.sampleInterval;
    this.history = b.history;
    this.maxOverviewQueues = b.maxOverviewQueues;
    this.readTimeout = b.readTimeout;
    this.maxConcurrentReads = b.maxConcurrentReads;
  }

  /**
   * Starts building a dashboard for a server.
   *
   * @param server the server whose broker, backend and control plane it shows; not closed by the
   *     dashboard
   * @return a builder
   */
  public static Builder builder(Server server) {
    return new Builder(Objects.requireNonNull(server, "server"));
  }

  /**
   * Binds the port and starts serving and sampling.
   *
   * @return this dashboard
   * @throws UncheckedIOException if the port cannot be bound
   * @throws IllegalStateException if it was started already
   */
  public Dashboard start() {
    synchronized (lock) {
      if (http != null) {
        throw new IllegalStateException("the dashboard is started already");
      }
      Inspection inspection = Inspection.of(server);
      Sampler s =
          Sampler.start(
              inspection, Api.countsQueues(server), server.clock(), sampleInterval, history);
      ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();
      HttpServer h;
      try {
        h = HttpServer.create(address, 64);
      } catch (IOException e) {
        s.close();
        exec.close();
        throw new UncheckedIOException(
            "cannot bind the dashboard to " + address + ": " + e.getMessage(), e);
      }
      boolean loopback = address.getAddress().isLoopbackAddress();
      Guard guard = new Guard(loopback, !loopback && !openReads, readOnly, authenticator);
      BoundedReads bounded = new BoundedReads(readTimeout, maxConcurrentReads);
      Api api = new Api(server, inspection, s, guard, readOnly, maxOverviewQueues, bounded);
      h.createContext("/api/", exchange -> guard.serve(exchange, api::handle));
      h.createContext("/", exchange -> guard.serve(exchange, StaticFiles::handle));
      h.setExecutor(exec);
      h.start();
      http = h;
      executor = exec;
      sampler = s;
      reads = bounded;
      return this;
    }
  }

  /**
   * The address the dashboard listens on, with the actual port when 0 was asked.
   *
   * @return the address
   * @throws IllegalStateException if it is not started
   */
  public InetSocketAddress address() {
    synchronized (lock) {
      if (http == null) {
        throw new IllegalStateException("the dashboard is not started");
      }
      return http.getAddress();
    }
  }

  /**
   * The page's address, for a browser on this host.
   *
   * @return {@code http://host:port/}
   */
  public URI uri() {
    InetSocketAddress a = address();
    String host =
        a.getAddress().isAnyLocalAddress() ? "localhost" : a.getAddress().getHostAddress();
    return URI.create(
        "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort() + "/");
  }

  /** Stops serving and sampling; idempotent. The server is left open. */
  @Override
  public void close() {
    synchronized (lock) {
      if (http != null) {
        http.stop(0);
        http = null;
      }
      if (sampler != null) {
        sampler.close();
        sampler = null;
      }
      if (executor != null) {
        executor.shutdownNow();
        executor = null;
      }
      if (reads != null) {
        reads.close();
        reads = null;
      }
    }
  }

  /** Builds a {@link Dashboard}; every setting has a safe default. */
  public static final class Builder {
    /** The longest {@link #readTimeout}: past it a read waits as long as the client library. */
    private static final Duration MAX_READ_TIMEOUT = Duration.ofHours(1);

    private final Server server;
    private int port = DEFAULT_PORT;
    private InetAddress bindAddress;
    private boolean readOnly;
    private boolean openReads;
    private @Nullable Authenticator authenticator;
    private Duration sampleInterval = DEFAULT_SAMPLE_INTERVAL;
    private int history = DEFAULT_HISTORY;
    private int maxOverviewQueues = DEFAULT_MAX_OVERVIEW_QUEUES;
    private Duration readTimeout = DEFAULT_READ_TIMEOUT;
    private int maxConcurrentReads = DEFAULT_MAX_CONCURRENT_READS;

    private Builder(Server server) {
      this.server = server;
      this.bindAddress = InetAddress.getLoopbackAddress();
    }

    /**
     * Sets the port ({@link #DEFAULT_PORT} by default; 0 picks a free one, see {@link
     * Dashboard#address()}).
     *
     * @param value the port, 0 to 65535
     * @return this builder
     */
    public Builder port(int value) {
      if (value < 0 || value > 65535) {
        throw new IllegalArgumentException("port must be 0..65535, was " + value);
      }
      port = value;
      return this;
    }

    /**
     * Sets the address to listen on ({@link #DEFAULT_BIND_ADDRESS} by default). Anything but a
     * loopback address exposes the task data to the network, so there reads need the {@link #token}
     * (or the {@link #authenticator}) too, unless {@link #openReads}; put TLS in front, or the
     * token crosses the network in clear.
     *
     * @param value an IP address or host name, e.g. {@code 0.0.0.0}
     * @return this builder
     * @throws IllegalArgumentException if the name does not resolve
     */
    public Builder bindAddress(String value) {
      try {
        bindAddress = InetAddress.getByName(Objects.requireNonNull(value, "bindAddress"));
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException(
            "cannot resolve the bind address " + value + ": " + e.getMessage(), e);
      }
      return this;
    }

    /**
     * Sets the token an action must carry in the {@value #TOKEN_HEADER} header (compared in
     * constant time), and a read too where the dashboard listens beyond loopback (see {@link
     * #openReads}). Without a token or an {@link #authenticator}, every action is refused.
     *
     * @param value the token; at least 8 characters
     * @return this builder
     */
    public Builder token(String value) {
      Objects.requireNonNull(value, "token");
      if (value.length() < 8) {
        throw new IllegalArgumentException(
            "the dashboard token must have at least 8 characters, had " + value.length());
      }
      byte[] expected = value.getBytes(StandardCharsets.UTF_8);
      authenticator =
          (action, queue, header) -> {
            String given = header.apply(TOKEN_HEADER);
            return given != null
                && MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8));
          };
      return this;
    }

    /**
     * Sets who may run actions, replacing any {@link #token}.
     *
     * @param value the authenticator
     * @return this builder
     */
    public Builder authenticator(Authenticator value) {
      authenticator = Objects.requireNonNull(value, "authenticator");
      return this;
    }

    /**
     * Refuses every action and hides the buttons (false by default).
     *
     * @param value true for read-only
     * @return this builder
     */
    public Builder readOnly(boolean value) {
      readOnly = value;
      return this;
    }

    /**
     * Serves reads to anyone who reaches the dashboard, without the token, where it listens beyond
     * loopback (false by default: there reads need the token, or pass the {@link #authenticator},
     * as actions do). For a dashboard behind a proxy that authenticates every request; task
     * arguments, results and errors can hold personal data. On loopback reads are open anyway.
     *
     * @param value true to serve reads without the token
     * @return this builder
     */
    public Builder openReads(boolean value) {
      openReads = value;
      return this;
    }

    /**
     * Sets how many queues the overview lists ({@link #DEFAULT_MAX_OVERVIEW_QUEUES} by default):
     * the default queue, the paused ones, then those with the most tasks; it says how many it
     * leaves out, and its totals count them all. A queue left out is still shown by its page.
     *
     * @param value 1 to 10,000
     * @return this builder
     */
    public Builder maxOverviewQueues(int value) {
      if (value < 1 || value > 10_000) {
        throw new IllegalArgumentException("maxOverviewQueues must be 1..10000, was " + value);
      }
      maxOverviewQueues = value;
      return this;
    }

    /**
     * Sets how long a read (a page's poll, a listing, a task) waits for the broker and the result
     * backend before it answers 503 saying they are slow or down ({@link #DEFAULT_READ_TIMEOUT} by
     * default). Raise it for a deployment whose listings or searches take longer; lower it to learn
     * of an outage sooner. Actions are not bound by it: they wait for the broker's own timeout.
     *
     * @param value 1 ms to 1 h
     * @return this builder
     * @throws IllegalArgumentException if it is zero, negative, under 1 ms or over 1 h
     */
    public Builder readTimeout(Duration value) {
      Objects.requireNonNull(value, "readTimeout");
      if (value.compareTo(Duration.ofMillis(1)) < 0 || value.compareTo(MAX_READ_TIMEOUT) > 0) {
        throw new IllegalArgumentException(
            "readTimeout must be from 1ms to 1h (how long a read waits for the broker), was "
                + value);
      }
      readTimeout = value;
      return this;
    }

    /**
     * Sets how many reads may run at once ({@link #DEFAULT_MAX_CONCURRENT_READS} by default), those
     * given up at the {@link #readTimeout} but still waiting for the broker included; a further
     * read answers 503 at once. Raise it when many operators keep pages open; each read running
     * holds a virtual thread and, on a broker that is down, a queued command.
     *
     * @param value 1 to 10,000
     * @return this builder
     * @throws IllegalArgumentException if it is zero, negative or over 10,000
     */
    public Builder maxConcurrentReads(int value) {
      if (value < 1 || value > 10_000) {
        throw new IllegalArgumentException(
            "maxConcurrentReads must be 1..10000 (reads running at once), was " + value);
      }
      maxConcurrentReads = value;
      return this;
    }

    /**
     * Sets the time between two samples of the chart ({@link #DEFAULT_SAMPLE_INTERVAL} by default).
     *
     * @param value at least 100 ms
     * @return this builder
     */
    public Builder sampleInterval(Duration value) {
      if (value.compareTo(Duration.ofMillis(100)) < 0) {
        throw new IllegalArgumentException("sampleInterval must be at least 100ms, was " + value);
      }
      sampleInterval = value;
      return this;
    }

    /**
     * Sets how many samples the chart keeps ({@link #DEFAULT_HISTORY} by default).
     *
     * @param value 2 to 10,000
     * @return this builder
     */
    public Builder history(int value) {
      if (value < 2 || value > 10_000) {
        throw new IllegalArgumentException("history must be 2..10000 samples, was " + value);
      }
      history = value;
      return this;
    }

    /**
     * Builds the dashboard; {@link Dashboard#start()} binds the port.
     *
     * @return the dashboard, not started
     * @throws IllegalStateException if it would listen beyond loopback with neither a {@link
     *     #token} nor an {@link #authenticator} to guard its reads, and without {@link #openReads}
     */
    public Dashboard build() {
      if (!bindAddress.isLoopbackAddress() && authenticator == null && !openReads) {
        throw new IllegalStateException(
            "a dashboard bound to "
                + bindAddress.getHostAddress()
                + " serves task data to the network: give it a token (or an authenticator) that"
                + " reads need too, or call openReads(true) if a proxy in front authenticates");
      }
      return new Dashboard(this);
    }
  }
}
