package io.machinery.client.amqp;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One AMQP broker address, read the way Go's {@code amqp091-go} ({@code ParseURI}) reads it, so a
 * Go Machinery configuration means the same thing here.
 *
 * <p>The difference that matters: for Go an empty path <em>and</em> a lone {@code /} mean the vhost
 * {@code /}, so Go's default {@code amqp://guest:guest@localhost:5672/} is the default vhost. The
 * Java client's own {@code ConnectionFactory.setUri} reads that trailing slash as the vhost {@code
 * ""}, which RabbitMQ refuses ("vhost not found"). Everything else follows Go too: scheme {@code
 * amqp} (port 5672) or {@code amqps} (5671, TLS), user and password {@code guest} when absent, host
 * {@code localhost} when empty, the vhost is the percent-decoded path after its first {@code /}
 * ({@code %2F} is {@code /}), and the query keys {@code heartbeat} (seconds), {@code
 * connection_timeout} (milliseconds), {@code channel_max} and {@code frame_max}.
 *
 * <p>Errors never echo the URL or a part of it that could hold the password; a user info with an
 * unencoded {@code /}, {@code ?} or {@code #} (which would turn part of the password into a host,
 * port or vhost, as it does for Go's {@code url.Parse}) is refused as "password must be
 * percent-encoded".
 *
 * <p>Immutable. {@link #toString()} leaves out the credentials.
 */
public final class AmqpUrl {
  /** Go's {@code amqp091-go} heartbeat (the Java client asks for 60 s). */
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(10);

  /** Go's {@code amqp091-go} dial timeout. */
  public static final Duration DEFAULT_CONNECTION_TIMEOUT = Duration.ofSeconds(30);

  private final boolean tls;
  private final String host;
  private final int port;
  private final String username;
  private final String password;
  private final String vhost;
  private final Duration heartbeat;
  private final Duration connectionTimeout;
  private final int channelMax;
  private final int frameMax;

  private AmqpUrl(
      boolean tls,
      String host,
      int port,
      String username,
      String password,
      String vhost,
      Duration heartbeat,
      Duration connectionTimeout,
      int channelMax,
      int frameMax) {
    this.tls = tls;
    this.host = host;
    this.port = port;
    this.username = username;
    this.password = password;
    this.vhost = vhost;
    this.heartbeat = heartbeat;
    this.connectionTimeout = connectionTimeout;
    this.channelMax = channelMax;
    this.frameMax = frameMax;
  }

  /**
   * Parses one URL.
   *
   * @throws IllegalArgumentException when it is not an {@code amqp://} or {@code amqps://} URL
   */
  public static AmqpUrl parse(String url) {
    Objects.requireNonNull(url, "url");
    String text = url.trim();
    int schemeEnd = text.indexOf("://");
    String scheme = schemeEnd < 0 ? "" : text.substring(0, schemeEnd).toLowerCase(Locale.ROOT);
    boolean tls;
    switch (scheme) {
      case "amqp" -> tls = false;
      case "amqps" -> tls = true;
      default ->
          throw new IllegalArgumentException(
              "an AMQP URL starts with amqp:// or amqps://, got "
                  + (schemeEnd < 0 ? "no scheme" : "the scheme '" + redactScheme(scheme) + "'"));
    }
    String rest = text.substring(schemeEnd + 3);
    int authorityEnd = firstOf(rest, "/?#");
    if (authorityEnd >= 0 && rest.indexOf('@', authorityEnd) >= 0) {
      // user:pa/ss@host would otherwise parse as host "user", port "pa" and vhost "ss@host": an
      // error message or
      // toString() would then print part of the password.
      throw new IllegalArgumentException(
          "password must be percent-encoded: the user info of an AMQP URL may "
              + "not contain '/', '?' or '#' (write %2F, %3F, %23; an '@' in the vhost is %40)");
    }
    int fragment = rest.indexOf('#');
    if (fragment >= 0) {
      rest = rest.substring(0, fragment);
    }
    String query = null;
    int question = rest.indexOf('?');
    if (question >= 0) {
      query = rest.substring(question + 1);
      rest = rest.substring(0, question);
    }
    int slash = rest.indexOf('/');
    String rawAuthority = slash < 0 ? rest : rest.substring(0, slash);
    String path = slash < 0 ? "" : rest.substring(slash);
    String username = "guest";
    String password = "guest";
    String hostPort = rawAuthority;
    int at = rawAuthority.lastIndexOf('@');
    if (at >= 0) {
      String userInfo = rawAuthority.substring(0, at);
      hostPort = rawAuthority.substring(at + 1);
      int colon = userInfo.indexOf(':');
      if (colon >= 0) {
        username = decode(userInfo.substring(0, colon));
        password = decode(userInfo.substring(colon + 1));
      } else {
        username = decode(userInfo);
        password = "";
      }
    }
    String host = "localhost";
    int port = tls ? 5671 : 5672;
    if (!hostPort.isEmpty()) {
      String portText = null;
      if (hostPort.startsWith("[")) {
        int close = hostPort.indexOf(']');
        if (close < 0) {
          throw new IllegalArgumentException("unclosed IPv6 address in an AMQP URL");
        }
        host = hostPort.substring(1, close);
        if (close + 1 < hostPort.length() && hostPort.charAt(close + 1) == ':') {
          portText = hostPort.substring(close + 2);
        }
      } else {
        int colon = hostPort.lastIndexOf(':');
        if (colon >= 0) {
          portText = hostPort.substring(colon + 1);
          hostPort = hostPort.substring(0, colon);
        }
        if (!hostPort.isEmpty()) {
          host = hostPort;
        }
      }
      if (portText != null && !portText.isEmpty()) {
        try {
          port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
          // never echo it: without '@' a "user:password" is read as "host:port"
          throw new IllegalArgumentException(
              "the port of the AMQP URL for host '"
                  + host
                  + "' is not a number (a password must be percent-encoded)",
              null);
        }
        if (port <= 0 || port > 65535) {
          throw new IllegalArgumentException(
              "port out of range in the AMQP URL for host '" + host + "'");
        }
      }
    }
    String vhost = "/";
    if (path.length() > 1) {
      vhost = decode(path.substring(1));
    }
    Duration heartbeat = DEFAULT_HEARTBEAT;
    Duration connectionTimeout = DEFAULT_CONNECTION_TIMEOUT;
    int channelMax = 0;
    int frameMax = 0;
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        String key = decode(eq < 0 ? pair : pair.substring(0, eq));
        String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
        try {
          switch (key) {
            case "heartbeat" -> heartbeat = Duration.ofSeconds(Long.parseLong(value));
            case "connection_timeout" ->
                connectionTimeout = Duration.ofMillis(Long.parseLong(value));
            case "channel_max" -> channelMax = Integer.parseInt(value);
            case "frame_max" -> frameMax = Integer.parseInt(value);
            default -> {} // Go ignores keys it does not know (auth_mechanism, TLS file names, ...)
          }
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "bad value '" + value + "' for " + key + " in the AMQP URL for host '" + host + "'",
              e);
        }
      }
    }
    return new AmqpUrl(
        tls,
        host,
        port,
        username,
        password,
        vhost,
        heartbeat,
        connectionTimeout,
        channelMax,
        frameMax);
  }

  /**
   * Parses a list of URLs for failover: {@code urls} split by {@code separator} (Go's {@code
   * MultipleBrokerSeparator}); an empty separator means a single URL. Blank entries are skipped.
   *
   * @throws IllegalArgumentException when there is no URL or one is not an AMQP URL
   */
  public static List<AmqpUrl> parseAll(String urls, String separator) {
    Objects.requireNonNull(urls, "urls");
    Objects.requireNonNull(separator, "separator");
    List<String> parts =
        separator.isEmpty()
            ? List.of(urls)
            : List.of(urls.split(java.util.regex.Pattern.quote(separator), -1));
    List<AmqpUrl> out = new ArrayList<>(parts.size());
    for (String part : parts) {
      if (!part.isBlank()) {
        out.add(parse(part));
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no AMQP URL given (broker/result_backend is empty)");
    }
    return List.copyOf(out);
  }

  private static String decode(String raw) {
    // URLDecoder turns '+' into a space, which URL paths and user info do not do.
    return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  private static int firstOf(String text, String chars) {
    for (int i = 0; i < text.length(); i++) {
      if (chars.indexOf(text.charAt(i)) >= 0) {
        return i;
      }
    }
    return -1;
  }

  /** A scheme is short and never a secret, unless the "scheme" is really a mistyped URL. */
  private static String redactScheme(String scheme) {
    return scheme.length() <= 10 && scheme.chars().allMatch(Character::isLetterOrDigit)
        ? scheme
        : "(not shown)";
  }

  /**
   * A new, unconnected client-library factory for this URL with the default options (see {@link
   * AmqpConnectionOptions#connectionFactory}); for tools and tests that need a raw connection.
   */
  public com.rabbitmq.client.ConnectionFactory connectionFactory() {
    return AmqpConnectionOptions.DEFAULT.connectionFactory(this);
  }

  public boolean tls() {
    return tls;
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  public String username() {
    return username;
  }

  public String password() {
    return password;
  }

  /** The virtual host; {@code /} for an empty path or a lone slash, as in Go. */
  public String vhost() {
    return vhost;
  }

  public Duration heartbeat() {
    return heartbeat;
  }

  public Duration connectionTimeout() {
    return connectionTimeout;
  }

  /** Requested channel maximum; 0 leaves the client's default. */
  public int channelMax() {
    return channelMax;
  }

  /** Requested frame maximum; 0 leaves the client's default. */
  public int frameMax() {
    return frameMax;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AmqpUrl u
        && tls == u.tls
        && port == u.port
        && host.equals(u.host)
        && username.equals(u.username)
        && password.equals(u.password)
        && vhost.equals(u.vhost)
        && heartbeat.equals(u.heartbeat)
        && connectionTimeout.equals(u.connectionTimeout)
        && channelMax == u.channelMax
        && frameMax == u.frameMax;
  }

  @Override
  public int hashCode() {
    return Objects.hash(tls, host, port, username, vhost);
  }

  /** {@code amqp://host:port/vhost}, without credentials. */
  @Override
  public String toString() {
    String h = host.contains(":") ? "[" + host + "]" : host;
    return (tls ? "amqps://" : "amqp://") + h + ":" + port + "/" + (vhost.equals("/") ? "" : vhost);
  }
}
