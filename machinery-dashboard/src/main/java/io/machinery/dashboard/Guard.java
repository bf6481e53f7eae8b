package io.machinery.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import io.machinery.MachineryException;
import io.machinery.wire.LogText;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard's front door: the {@code Host} check, the security headers on every response, the
 * token check of reads where they need it, the checks every action passes (method, content type,
 * origin, read-only, authenticator), and the one place a failure becomes an HTTP error. See {@link
 * Dashboard}'s design notes for why these checks are enough against CSRF.
 *
 * <p>Only a {@link Refused} answers with its message: the dashboard's own refusals and its checks
 * of what a request gave (400, see {@link #badRequest}), whose messages say what to fix and quote
 * at most a bounded, escaped part of what the request sent. Any other failure, an {@link
 * IllegalArgumentException} from a broker or client library among them, answers 500 with a generic
 * message and an error id, and is logged once with that id: its message may name a host or carry a
 * URI with credentials. An {@link UnsupportedOperationException} (the deployment lacks what the
 * request needs) answers 501: {@link Api} says which request and what it needs where it knows, and
 * this says it of the rest; either quotes the exception's message cut and escaped ({@link
 * Exchanges#detail}), as it names what is missing. Every answer is JSON ({@code nosniff}); request
 * text in it, the path and headers too, is quoted through {@link Exchanges#quote}.
 */
final class Guard {
  private static final Logger LOG = LoggerFactory.getLogger(Dashboard.class);
  static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> LOOPBACK_HOSTS = Set.of("localhost", "127.0.0.1", "[::1]");

  /** No inline script or style, nothing from elsewhere, never framed. */
  static final String CSP =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
          + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  /** A request refused with an HTTP status and a message for the operator. */
  static final class Refused extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;

    Refused(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  /**
   * A request that breaks a rule the dashboard checks: answered 400 with {@code message}.
   *
   * @param message what to fix, written for the operator; quotes request text only through {@link
   *     Exchanges#quote}
   */
  static Refused badRequest(String message) {
    return new Refused(400, message);
  }

  @FunctionalInterface
  interface Handler {
    void handle(HttpExchange exchange) throws IOException;
  }

  private final boolean loopbackOnly;
  private final boolean readsNeedToken;
  private final boolean readOnly;
  private final Dashboard.@Nullable Authenticator authenticator;

  /**
   * @param loopbackOnly answer only requests for a loopback {@code Host}
   * @param readsNeedToken reads must pass the authenticator as {@link Dashboard.Authenticator#READ}
   *     (no authenticator: every read is refused)
   */
  Guard(
      boolean loopbackOnly,
      boolean readsNeedToken,
      boolean readOnly,
      Dashboard.@Nullable Authenticator authenticator) {
    this.loopbackOnly = loopbackOnly;
    this.readsNeedToken = readsNeedToken;
    this.readOnly = readOnly;
    this.authenticator = authenticator;
  }

  /** Whether a read must carry the token (pass the authenticator). */
  boolean readsNeedToken() {
    return readsNeedToken;
  }

  /** Refuses a read with 401 where reads need the token and this request does not pass. */
  void checkRead(HttpExchange exchange) {
    if (!readsNeedToken) {
      return;
    }
    var request = exchange.getRequestHeaders();
    if (authenticator == null
        || !authenticator.permits(Dashboard.Authenticator.READ, "", request::getFirst)) {
      throw new Refused(
          401,
          "this dashboard needs its token to read: type it in the page ("
              + Dashboard.TOKEN_HEADER
              + ")");
    }
  }

  /** Whether an action can ever pass: not read-only and someone to ask. */
  boolean actionsEnabled() {
    return !readOnly && authenticator != null;
  }

  void serve(HttpExchange exchange, Handler handler) {
    try (exchange) {
      var headers = exchange.getResponseHeaders();
      headers.set("Content-Security-Policy", CSP);
      headers.set("X-Content-Type-Options", "nosniff");
      headers.set("X-Frame-Options", "DENY");
      headers.set("Referrer-Policy", "no-referrer");
      headers.set("Cross-Origin-Opener-Policy", "same-origin");
      headers.set("Cross-Origin-Resource-Policy", "same-origin");
      try {
        checkHost(exchange);
        handler.handle(exchange);
      } catch (Refused e) {
        sendError(exchange, e.status, String.valueOf(e.getMessage()));
      } catch (UnsupportedOperationException e) {
        // the API says what was asked where it knows (Api#lacking); this is the rest
        sendError(
            exchange,
            501,
            "This request ("
                + exchange.getRequestMethod()
                + " "
                + Exchanges.quote(exchange.getRequestURI().getPath())
                + ") is not possible with this deployment."
                + Exchanges.detail(e.getMessage()));
      } catch (MachineryException e) {
        // core's failures outside the request: a broker, backend or control plane that failed
        String id = logged(exchange, e);
        sendFailure(
            exchange,
            503,
            id,
            "the broker, the result backend or the control plane failed (error "
                + id
                + ", in the server's log): it may be down or unreachable; the page tries again");
      } catch (RuntimeException e) {
        String id = logged(exchange, e);
        sendFailure(
            exchange, 500, id, "the dashboard failed (error " + id + ", in the server's log)");
      }
    } catch (IOException e) {
      LOG.debug("dashboard: client went away: {}", e.toString());
    }
  }

  /** Logs a failure once, with its request (the path only: the query can hold task data). */
  private static String logged(HttpExchange exchange, RuntimeException e) {
    String id = errorId();
    LOG.error(
        "dashboard: {} {} failed (error {})",
        exchange.getRequestMethod(),
        LogText.of(exchange.getRequestURI().getPath(), Exchanges.MAX_QUOTED_CHARS),
        id,
        e);
    return id;
  }

  /** A failure's answer: a generic message and the id of its log line, never its message. */
  private static void sendFailure(HttpExchange exchange, int status, String id, String message)
      throws IOException {
    ObjectNode body = JSON.createObjectNode().put("error", message).put("errorId", id);
    send(exchange, status, "application/json; charset=utf-8", JSON.writeValueAsBytes(body));
  }

  /** A short random id that ties a 500 or 503 to its log line. */
  private static String errorId() {
    return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()).substring(0, 12);
  }

  private void checkHost(HttpExchange exchange) {
    if (!loopbackOnly) {
      return;
    }
    String host = exchange.getRequestHeaders().getFirst("Host");
    String name = host == null ? "" : stripPort(host.toLowerCase(Locale.ROOT));
    if (!LOOPBACK_HOSTS.contains(name)) {
      throw new Refused(
          421,
          "this dashboard listens on loopback and answers only for localhost, not for Host "
              + Exchanges.quote(String.valueOf(host))
              + ": open it as http://localhost:<port>/");
    }
  }

  private static String stripPort(String host) {
    if (host.startsWith("[")) {
      int end = host.indexOf(']');
      return end < 0 ? host : host.substring(0, end + 1);
    }
    int colon = host.lastIndexOf(':');
    return colon < 0 ? host : host.substring(0, colon);
  }

  /** Checks the form of an action request before its body is read, or throws {@link Refused}. */
  void checkAction(HttpExchange exchange, String action) {
    if (!exchange.getRequestMethod().equals("POST")) {
      throw new Refused(405, action + " needs POST");
    }
    var request = exchange.getRequestHeaders();
    String type = request.getFirst("Content-Type");
    if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
      throw new Refused(415, action + " needs a JSON body (Content-Type: application/json)");
    }
    String site = request.getFirst("Sec-Fetch-Site");
    if (site != null && !site.equals("same-origin") && !site.equals("none")) {
      throw new Refused(
          403,
          "cross-site request refused (Sec-Fetch-Site: "
              + Exchanges.quote(site)
              + "): actions are taken from the dashboard's own page");
    }
    String origin = request.getFirst("Origin");
    if (origin != null && !sameOrigin(origin, request.getFirst("Host"))) {
      throw new Refused(
          403,
          "cross-origin request refused (Origin "
              + Exchanges.quote(origin)
              + "): actions are taken from the dashboard's own page");
    }
    if (readOnly) {
      throw new Refused(403, "the dashboard is read-only");
    }
    if (authenticator == null) {
      throw new Refused(403, "actions are disabled: the dashboard has no token or authenticator");
    }
  }

  /** Asks the authenticator about one action on one queue, or throws {@link Refused}. */
  void authorize(HttpExchange exchange, String action, String queue) {
    authorize(exchange, action, "queue", queue);
  }

  /**
   * Asks the authenticator about one action on one thing (a queue, a breaker key: {@code what} says
   * which, for the log), or throws {@link Refused}.
   */
  void authorize(HttpExchange exchange, String action, String what, String name) {
    var request = exchange.getRequestHeaders();
    if (authenticator == null || !authenticator.permits(action, name, request::getFirst)) {
      throw new Refused(401, "missing or wrong token (" + Dashboard.TOKEN_HEADER + ")");
    }
    // a breaker key is logged as sent, before its check: escaped so it cannot forge a line
    LOG.info(
        "dashboard: {} on {} {} from {}",
        action,
        what,
        LogText.of(name),
        exchange.getRemoteAddress());
  }

  private static boolean sameOrigin(String origin, @Nullable String host) {
    try {
      URI uri = URI.create(origin);
      String authority = uri.getRawAuthority();
      return "http".equals(uri.getScheme()) || "https".equals(uri.getScheme())
          ? authority != null && authority.equalsIgnoreCase(host)
          : false;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  static void sendError(HttpExchange exchange, int status, String message) throws IOException {
    ObjectNode body = JSON.createObjectNode().put("error", message);
    send(exchange, status, "application/json; charset=utf-8", JSON.writeValueAsBytes(body));
  }

  static void send(HttpExchange exchange, int status, String contentType, byte[] body)
      throws IOException {
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
    if (!head && body.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
