package io.machinery.config;

import java.net.URI;

/** Keeps credentials out of logs: Go's {@code RedactURL} (scheme and host only). */
public final class Redaction {
  private Redaction() {}

  /** {@code amqp://guest:secret@host:5672/vhost} → {@code amqp://host:5672}. */
  public static String redactUrl(String url) {
    if (url.isEmpty()) {
      return url;
    }
    try {
      URI uri = URI.create(url.split(",")[0].trim());
      String host = uri.getHost();
      if (uri.getScheme() == null || host == null) {
        return uri.getScheme() == null ? "<redacted>" : uri.getScheme() + "://<redacted>";
      }
      return uri.getScheme() + "://" + host + (uri.getPort() >= 0 ? ":" + uri.getPort() : "");
    } catch (IllegalArgumentException e) {
      return "<redacted>";
    }
  }
}
