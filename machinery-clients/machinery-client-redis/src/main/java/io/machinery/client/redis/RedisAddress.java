package io.machinery.client.redis;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A Redis URL in the forms Go Machinery accepts, parsed the way Go parses it:
 *
 * <ul>
 *   <li>{@code redis://[[user:]password@]host[:port][/db]} and {@code rediss://…} (TLS); a userinfo
 *       without a colon is the password (Go's {@code ParseRedisURL}); userinfo is percent-decoded;
 *   <li>{@code redis://[[user:]password@]host1:port1,host2:port2[/db]}: several hosts, cluster
 *       nodes or, with a Sentinel master name, Sentinels (Go's {@code NewGR}: credentials on the
 *       first host, the database on the last, taken literally);
 *   <li>{@code redis+socket://[[user:]password@]/path/to/redis.sock[:/db]} (Go's {@code
 *       ParseRedisSocketURL}).
 * </ul>
 *
 * <p>The port defaults to 6379. Immutable. {@link #toString()} never shows credentials.
 */
public final class RedisAddress {
  /** Said instead of echoing a URL fragment that may be a piece of a password. */
  private static final String UNENCODED =
      "a password containing '/', '?', '#', ',' or '@' must be percent-encoded in a Redis URL";

  public static final int DEFAULT_PORT = 6379;

  /**
   * Whether {@code url} names a Redis deployment ({@code redis://}, {@code rediss://} or {@code
   * redis+socket://}).
   */
  public static boolean isRedisUrl(String url) {
    String u = url.trim();
    return u.startsWith("redis://") || u.startsWith("rediss://") || u.startsWith("redis+socket://");
  }

  /** One {@code host:port}. */
  public record Host(String host, int port) {
    public Host {
      Objects.requireNonNull(host, "host");
      if (host.isEmpty()) {
        throw new IllegalArgumentException("a Redis host must not be empty");
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("a Redis port must be 1..65535, was " + port);
      }
    }

    @Override
    public String toString() {
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
  }

  private final boolean tls;
  private final List<Host> hosts;
  private final @Nullable String socketPath;
  private final String username;
  private final String password;
  private final int database;

  private RedisAddress(
      boolean tls,
      List<Host> hosts,
      @Nullable String socketPath,
      String username,
      String password,
      int database) {
    this.tls = tls;
    this.hosts = List.copyOf(hosts);
    this.socketPath = socketPath;
    this.username = username;
    this.password = password;
    this.database = database;
  }

  /**
   * Parses a Redis URL.
   *
   * @throws IllegalArgumentException when {@code url} is not one of the forms above (the message
   *     never repeats credentials)
   */
  public static RedisAddress parse(String url) {
    Objects.requireNonNull(url, "url");
    String trimmed = url.trim();
    if (trimmed.startsWith("redis+socket://")) {
      return parseSocket(trimmed.substring("redis+socket://".length()));
    }
    boolean tls;
    String rest;
    if (trimmed.startsWith("rediss://")) {
      tls = true;
      rest = trimmed.substring("rediss://".length());
    } else if (trimmed.startsWith("redis://")) {
      tls = false;
      rest = trimmed.substring("redis://".length());
    } else {
      throw new IllegalArgumentException(
          "not a Redis URL (expected redis://, rediss:// or redis+socket://): "
              + io.machinery.config.Redaction.redactUrl(trimmed));
    }
    String[] entries = rest.split(",", -1);
    for (int i = 1; i < entries.length; i++) {
      if (entries[i].indexOf('@') >= 0) {
        throw new IllegalArgumentException(
            UNENCODED); // "redis://:pa,ss@h1,h2": a ',' inside the password
      }
    }
    return entries.length == 1 ? parseSingle(tls, rest) : parseSeveral(tls, entries);
  }

  /**
   * Go's {@code ParseRedisURL}: url.Parse semantics, percent-decoded userinfo, {@code /db} path.
   */
  private static RedisAddress parseSingle(boolean tls, String rest) {
    int end = indexOfAny(rest, "/?#");
    if (end >= 0 && rest.indexOf('@', end) >= 0) {
      throw new IllegalArgumentException(
          UNENCODED); // "redis://u:pa/ss@h": the password would become a path
    }
    String authority = end < 0 ? rest : rest.substring(0, end);
    String path = end < 0 ? "" : rest.substring(end);
    int at = authority.lastIndexOf('@');
    String username = "";
    String password = "";
    if (at >= 0) {
      String userinfo = authority.substring(0, at);
      int colon = userinfo.indexOf(':');
      if (colon >= 0) {
        username = percentDecode(userinfo.substring(0, colon));
        password = percentDecode(userinfo.substring(colon + 1));
      } else {
        password = percentDecode(userinfo);
      }
      authority = authority.substring(at + 1);
    }
    int query = indexOfAny(path, "?#");
    if (query >= 0) {
      path = path.substring(0, query);
    }
    return new RedisAddress(
        tls, List.of(host(authority)), null, username, password, database(path));
  }

  /**
   * Go's {@code NewGR}/{@code ParseBrokers}: credentials before the last '@' of the first entry, db
   * after the last entry's '/'.
   */
  private static RedisAddress parseSeveral(boolean tls, String[] entries) {
    String username = "";
    String password = "";
    List<Host> hosts = new ArrayList<>(entries.length);
    int database = 0;
    for (int i = 0; i < entries.length; i++) {
      String entry = entries[i].trim();
      for (String scheme : new String[] {"redis://", "rediss://"}) {
        if (entry.startsWith(scheme)) {
          entry = entry.substring(scheme.length()); // tolerate a scheme repeated on every host
        }
      }
      if (i == 0) {
        int at = entry.lastIndexOf('@');
        if (at >= 0) {
          String userinfo = entry.substring(0, at);
          int colon = userinfo.indexOf(':');
          if (colon >= 0) {
            username = userinfo.substring(0, colon);
            password = userinfo.substring(colon + 1);
          } else {
            password = userinfo;
          }
          entry = entry.substring(at + 1);
        }
      }
      int slash = entry.indexOf('/');
      if (slash >= 0) {
        if (i == entries.length - 1) {
          database = database(entry.substring(slash));
        }
        entry = entry.substring(0, slash);
      }
      hosts.add(host(entry));
    }
    return new RedisAddress(tls, hosts, null, username, password, database);
  }

  /** Go's {@code ParseRedisSocketURL}: {@code [[user:]password@]/path[:/db]}. */
  private static RedisAddress parseSocket(String rest) {
    String username = "";
    String password = "";
    int at = rest.indexOf('@');
    if (at >= 0) {
      String userinfo = rest.substring(0, at);
      int colon = userinfo.indexOf(':');
      if (colon >= 0) {
        username = userinfo.substring(0, colon);
        password = userinfo.substring(colon + 1);
      } else {
        password = userinfo;
      }
      rest = rest.substring(at + 1);
    }
    int colon = rest.indexOf(':');
    String path = colon < 0 ? rest : rest.substring(0, colon);
    if (path.isEmpty()) {
      throw new IllegalArgumentException(
          "Redis socket connection string should be in format redis+socket://password@/path/to/file.sock:/db");
    }
    int database = 0;
    if (colon >= 0) {
      String tail = rest.substring(colon + 1);
      int slash = tail.indexOf('/');
      if (slash >= 0) {
        database = parseIntOrZero(tail.substring(slash + 1));
      }
    }
    return new RedisAddress(false, List.of(), path, username, password, database);
  }

  private static Host host(String authority) {
    String text = authority.trim();
    if (text.isEmpty()) {
      throw new IllegalArgumentException("a Redis URL needs a host");
    }
    String host;
    int port = DEFAULT_PORT;
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("unterminated IPv6 address in a Redis URL host");
      }
      host = text.substring(1, close);
      String after = text.substring(close + 1);
      if (after.startsWith(":") && after.length() > 1) {
        port = port(after.substring(1));
      }
    } else {
      int colon = text.lastIndexOf(':');
      if (colon >= 0) {
        host = text.substring(0, colon);
        if (colon < text.length() - 1) {
          port = port(text.substring(colon + 1));
        }
      } else {
        host = text;
      }
    }
    return new Host(host, port);
  }

  private static int port(String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      // never echo the text: with an unencoded ':' or '@' in a password it is a piece of that
      // password
      throw new IllegalArgumentException(
          "invalid port in a Redis URL (not a number; " + UNENCODED + ")");
    }
  }

  /** Go ignores a database that is not a number (it uses 0). */
  private static int database(String path) {
    String[] parts = path.split("/", -1);
    return parts.length < 2 ? 0 : parseIntOrZero(parts[1]);
  }

  private static int parseIntOrZero(String text) {
    try {
      return Math.max(0, Integer.parseInt(text));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static int indexOfAny(String text, String chars) {
    for (int i = 0; i < text.length(); i++) {
      if (chars.indexOf(text.charAt(i)) >= 0) {
        return i;
      }
    }
    return -1;
  }

  /** RFC 3986 percent-decoding as Go's url.Parse applies to userinfo ('+' stays '+'). */
  private static String percentDecode(String text) {
    if (text.indexOf('%') < 0) {
      return text;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < bytes.length; i++) {
      byte b = bytes[i];
      if (b == '%' && i + 2 < bytes.length) {
        int hi = Character.digit(bytes[i + 1], 16);
        int lo = Character.digit(bytes[i + 2], 16);
        if (hi >= 0 && lo >= 0) {
          out.write(hi << 4 | lo);
          i += 2;
          continue;
        }
      }
      out.write(b);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /** Whether the URL asked for TLS ({@code rediss://}). */
  public boolean tls() {
    return tls;
  }

  /** The hosts, in URL order; empty for a unix socket. */
  public List<Host> hosts() {
    return hosts;
  }

  /**
   * Whether the URL names several hosts (Go then uses a cluster, or Sentinels when a master name is
   * set).
   */
  public boolean hasSeveralHosts() {
    return hosts.size() > 1;
  }

  /** The unix socket path of a {@code redis+socket://} URL, or null. */
  public @Nullable String socketPath() {
    return socketPath;
  }

  public String username() {
    return username;
  }

  public boolean hasPassword() {
    return !password.isEmpty();
  }

  /** The password; never log it. */
  String password() {
    return password;
  }

  public int database() {
    return database;
  }

  /** The URL without credentials, e.g. {@code redis://127.0.0.1:6379/0}. */
  @Override
  public String toString() {
    if (socketPath != null) {
      return "redis+socket://" + socketPath + (database == 0 ? "" : ":/" + database);
    }
    StringBuilder sb = new StringBuilder(tls ? "rediss://" : "redis://");
    for (int i = 0; i < hosts.size(); i++) {
      sb.append(i == 0 ? "" : ",").append(hosts.get(i));
    }
    return sb.append('/').append(database).toString();
  }
}
