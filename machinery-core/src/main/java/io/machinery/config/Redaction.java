package io.machinery.config;

import java.util.regex.Pattern;

/**
 * Keeps credentials out of logs: Go's {@code RedactURL} (scheme and host only).
 *
 * <p>Works on the text, not on {@link java.net.URI}: a password with an unencoded {@code /}, {@code
 * ?}, {@code #} or {@code ,} makes a URI parser see the password as host and port ({@code
 * amqp://admin:12345/x@rabbit} has "host" {@code admin}, "port" {@code 12345}). Here everything up
 * to the last {@code @} of the first URL is credentials, and only a host part made of host
 * characters is shown.
 */
public final class Redaction {
  private Redaction() {}

  private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*");

  /**
   * Another URL in a list of brokers ({@code MULTIPLE_BROKEN_SEPARATOR}): a separator, then a
   * scheme.
   */
  private static final Pattern NEXT_URL = Pattern.compile("[,;| ]+(?=[A-Za-z][A-Za-z0-9+.-]*://)");

  private static final Pattern HOSTS = Pattern.compile("[A-Za-z0-9._\\-:\\[\\],%]+");

  /**
   * {@code amqp://guest:secret@host:5672/vhost} → {@code amqp://host:5672}; text that is not a URL
   * with a recognisable host → {@code scheme://<redacted>} or {@code <redacted>}.
   */
  public static String redactUrl(String url) {
    if (url.isEmpty()) {
      return url;
    }
    String first = NEXT_URL.split(url.trim(), 2)[0];
    int colon = first.indexOf("://");
    if (colon <= 0 || !SCHEME.matcher(first.substring(0, colon)).matches()) {
      return "<redacted>";
    }
    String scheme = first.substring(0, colon);
    String rest = first.substring(colon + 3);
    rest = rest.substring(rest.lastIndexOf('@') + 1);
    int end = rest.length();
    for (char stop : new char[] {'/', '?', '#'}) {
      int at = rest.indexOf(stop);
      if (at >= 0 && at < end) {
        end = at;
      }
    }
    String hosts = rest.substring(0, end);
    if (hosts.isEmpty() || !HOSTS.matcher(hosts).matches()) {
      return scheme + "://<redacted>";
    }
    return scheme + "://" + hosts;
  }
}
