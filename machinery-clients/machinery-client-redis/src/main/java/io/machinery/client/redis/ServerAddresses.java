package io.machinery.client.redis;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Tells whether two {@code host:port} texts name the same server, however they are written.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Why.</b> A Sentinel names servers by IP address, a URL or a connection may name them by
 *       host name, and an IPv6 address has several spellings ({@code ::1}, {@code 0:0:0:0:0:0:0:1},
 *       {@code [::1]}). Compared as text, the same server looks like two: a needless reconnect, a
 *       Sentinel subscribed to twice ({@link SentinelSwitchListener}).
 *   <li><b>How.</b> Two addresses are the same server when their ports are equal and their hosts
 *       share an IP address. A literal IP address is parsed, never looked up ({@link
 *       InetAddress#getByName} of a literal does no lookup). A host name is resolved (every address
 *       it has) at most once per instance, on {@code resolver}, and the answer kept; a name that
 *       does not resolve stands for itself, compared as text ignoring case.
 *   <li><b>Threads.</b> Thread-safe. Nothing here blocks the calling thread: a look-up runs on
 *       {@code resolver} (for {@link SentinelSwitchListener}, the client's event executors, never a
 *       Lettuce I/O thread), and the answer comes as a future, already complete when both hosts are
 *       literals or known already.
 * </ul>
 */
final class ServerAddresses {
  private static final Pattern IPV4 =
      Pattern.compile(
          "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");

  private final Executor resolver;

  /** Each host name's addresses (its own text when it did not resolve), by lower-case name. */
  private final Map<String, CompletableFuture<Set<String>>> names = new ConcurrentHashMap<>();

  ServerAddresses(Executor resolver) {
    this.resolver = resolver;
  }

  /**
   * Whether {@code a} and {@code b} ({@code host:port}, the host an IP address, {@code [IPv6]} or a
   * name) name the same server; texts without a port are compared as they are.
   */
  CompletableFuture<Boolean> same(String a, String b) {
    if (a.equals(b)) {
      return CompletableFuture.completedFuture(true);
    }
    int colonA = a.lastIndexOf(':');
    int colonB = b.lastIndexOf(':');
    if (colonA < 0 || colonB < 0 || !a.substring(colonA).equals(b.substring(colonB))) {
      return CompletableFuture.completedFuture(false);
    }
    CompletableFuture<Set<String>> hostA = addressesOf(a.substring(0, colonA));
    CompletableFuture<Set<String>> hostB = addressesOf(b.substring(0, colonB));
    return hostA.thenCombine(hostB, (x, y) -> x.stream().anyMatch(y::contains));
  }

  /**
   * The IP addresses of {@code host} in one spelling each ({@link InetAddress#getHostAddress}), or
   * its lower-case text when it is a name that does not resolve.
   */
  CompletableFuture<Set<String>> addressesOf(String host) {
    String bare = withoutBrackets(host);
    if (isLiteral(bare)) {
      return CompletableFuture.completedFuture(Set.of(literalAddress(bare)));
    }
    return names.computeIfAbsent(bare.toLowerCase(Locale.ROOT), this::resolve);
  }

  private CompletableFuture<Set<String>> resolve(String name) {
    try {
      return CompletableFuture.supplyAsync(() -> lookUp(name), resolver);
    } catch (RejectedExecutionException e) {
      // the executor is shutting down (the session is closing): the text stands for itself
      return CompletableFuture.completedFuture(Set.of(name));
    }
  }

  private static Set<String> lookUp(String name) {
    try {
      return Arrays.stream(InetAddress.getAllByName(name))
          .map(InetAddress::getHostAddress)
          .collect(Collectors.toUnmodifiableSet());
    } catch (UnknownHostException | SecurityException e) {
      return Set.of(name);
    }
  }

  /**
   * {@code hostAndPort} in one spelling per server without a look-up: an IP address as {@link
   * InetAddress#getHostAddress} writes it ({@code [::1]:6379} and {@code 0:0:0:0:0:0:0:1:6379} give
   * the same), a host name in lower case; a text without a port as it is. Two texts of one server
   * that differ here are a host name and an IP address of it: {@link #same} tells those apart.
   */
  static String canonical(String hostAndPort) {
    int colon = hostAndPort.lastIndexOf(':');
    if (colon < 0) {
      return hostAndPort;
    }
    return literalAddress(withoutBrackets(hostAndPort.substring(0, colon)))
        + hostAndPort.substring(colon);
  }

  private static String withoutBrackets(String host) {
    return host.length() > 1 && host.startsWith("[") && host.endsWith("]")
        ? host.substring(1, host.length() - 1)
        : host;
  }

  /** {@code host} (without brackets) as one spelling: its IP address, or its lower-case name. */
  private static String literalAddress(String host) {
    if (isLiteral(host)) {
      try {
        // in brackets, a text with a colon that is no IPv6 address fails without a look-up
        return InetAddress.getByName(host.indexOf(':') >= 0 ? "[" + host + "]" : host)
            .getHostAddress();
      } catch (UnknownHostException e) {
        // malformed: stands for itself
      }
    }
    return host.toLowerCase(Locale.ROOT);
  }

  /**
   * Whether {@code host} is written as an IP address (so that parsing it does no look-up). The IPv4
   * pattern is needed: {@link InetAddress#getByName} looks up what it cannot parse ({@code
   * 999.0.0.1}, say) on the calling thread, and Java 21 has no public parse-only call ({@code
   * InetAddress.ofLiteral} came in 22). Anything with a colon is taken for IPv6, parsed in
   * brackets: a malformed one fails without a look-up, and stands for itself.
   */
  static boolean isLiteral(String host) {
    return IPV4.matcher(host).matches() || host.indexOf(':') >= 0;
  }
}
