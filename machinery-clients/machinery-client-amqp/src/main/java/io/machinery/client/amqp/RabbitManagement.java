package io.machinery.client.amqp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.machinery.MachineryException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The few reads of RabbitMQ's HTTP management API that AMQP 0-9-1 cannot do: listing queues (by a
 * name pattern, with their arguments) and the bindings of an exchange. The AMQP broker's inspector
 * and the AMQP backend's control plane read through it.
 *
 * <p>Design notes. The management plugin's message counts are statistics sampled every {@code
 * collect_statistics_interval} (5 s by default), so they lag; callers take exact counts from
 * queue.declare-passive where they can and use these only for queues they could not otherwise find.
 * Queue names and arguments come from RabbitMQ's metadata store and do not lag. Requests use
 * HTTP/1.1: the JDK client's h2c upgrade is sometimes reset by the plugin. Listings are paged on
 * the server (500 a page), so a vhost with many queues is read in bounded pieces. The HTTP client
 * (and its selector thread) is made on first use and closed with {@link #close()}. Errors never
 * show the password.
 *
 * <p>Thread-safe.
 */
public final class RabbitManagement implements AutoCloseable {
  /** Queues per page of a listing (the plugin's maximum). */
  public static final int PAGE_SIZE = 500;

  /**
   * Per request: a worker's first heartbeat waits for it, so an unanswering API must not hold a
   * launch long.
   */
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private static final ObjectMapper JSON = new ObjectMapper();

  private final URI base;
  private final String vhost;
  private final String authorization;
  private @Nullable HttpClient http;
  private boolean closed;

  private RabbitManagement(URI base, String username, String password, String vhost) {
    String text = base.toString();
    this.base = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
    this.vhost = vhost;
    this.authorization =
        "Basic "
            + Base64.getEncoder()
                .encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The management API of {@code amqp}'s server: {@code managementUrl} when given (its user info,
   * if any, replaces the AMQP credentials), else {@code http://<amqp host>:15672} ({@code
   * https://...:15671} for {@code amqps}), with the AMQP URL's credentials and vhost. Nothing is
   * connected until first use.
   *
   * @throws IllegalArgumentException when {@code managementUrl} is not an http(s) URL with a host
   */
  public static RabbitManagement forUrl(AmqpUrl amqp, @Nullable String managementUrl) {
    String username = amqp.username();
    String password = amqp.password();
    URI uri;
    if (managementUrl == null) {
      String host = amqp.host().contains(":") ? "[" + amqp.host() + "]" : amqp.host();
      uri =
          URI.create(
              (amqp.tls() ? "https://" : "http://") + host + ":" + (amqp.tls() ? 15671 : 15672));
    } else {
      uri = URI.create(managementUrl);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
        throw new IllegalArgumentException(
            "the RabbitMQ management URL must be http://host:port or https://host:port");
      }
      if (uri.getRawUserInfo() != null) {
        String[] parts = uri.getUserInfo().split(":", 2);
        username = parts[0];
        password = parts.length > 1 ? parts[1] : "";
      }
      uri =
          URI.create(
              scheme
                  + "://"
                  + uri.getRawAuthority().substring(uri.getRawAuthority().indexOf('@') + 1)
                  + (uri.getRawPath() == null ? "" : uri.getRawPath()));
    }
    return new RabbitManagement(uri, username, password, amqp.vhost());
  }

  /**
   * Percent-encodes one path segment (a vhost, queue or exchange name; {@code /} becomes {@code
   * %2F}).
   */
  public static String segment(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /**
   * A regular expression (PCRE, as the plugin's Erlang {@code re} reads it) that matches {@code
   * text} literally: every character that is not a letter or digit is escaped.
   */
  public static String literal(String text) {
    StringBuilder out = new StringBuilder(text.length() * 2);
    text.codePoints()
        .forEach(
            c -> {
              if (!(c < 128 && Character.isLetterOrDigit(c))) {
                out.append('\\');
              }
              out.appendCodePoint(c);
            });
    return out.toString();
  }

  /**
   * The queues of the vhost whose names match {@code nameRegex}, with the given {@code columns}
   * only (e.g. {@code name,messages_ready,arguments}), read a page at a time. The plugin matches
   * names case-insensitively: callers check each name again.
   *
   * @throws MachineryException when the API cannot be reached or refuses
   */
  public List<JsonNode> queues(String nameRegex, String columns) {
    List<JsonNode> out = new ArrayList<>();
    for (int page = 1; ; page++) {
      JsonNode body =
          get(
              "queues/"
                  + segment(vhost)
                  + "?page="
                  + page
                  + "&page_size="
                  + PAGE_SIZE
                  + "&name="
                  + segment(nameRegex)
                  + "&use_regex=true&columns="
                  + segment(columns));
      body.path("items").forEach(out::add);
      if (page >= body.path("page_count").asInt(0)) {
        return out;
      }
    }
  }

  /**
   * The bindings whose source is {@code exchange} (an empty list when the exchange does not exist).
   *
   * @throws MachineryException when the API cannot be reached or refuses
   */
  public List<JsonNode> bindingsFrom(String exchange) {
    String path = "exchanges/" + segment(vhost) + "/" + segment(exchange) + "/bindings/source";
    JsonNode body = getOrNull(path);
    List<JsonNode> out = new ArrayList<>();
    if (body != null) {
      body.forEach(out::add);
    }
    return out;
  }

  private JsonNode get(String path) {
    JsonNode body = getOrNull(path);
    if (body == null) {
      throw new MachineryException(
          "RabbitMQ management API "
              + base
              + "/api/"
              + path
              + ": not found (vhost '"
              + vhost
              + "' missing?)");
    }
    return body;
  }

  /** GET on {@code /api/<path>}; null on 404. */
  private @Nullable JsonNode getOrNull(String path) {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base + "/api/" + path))
            .timeout(TIMEOUT)
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .GET()
            .build();
    HttpResponse<String> response;
    try {
      response = client().send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new MachineryException(
          "RabbitMQ management API at "
              + base
              + " cannot be reached (enable the "
              + "rabbitmq_management plugin, or set managementUrl(...) on the AmqpBroker or AmqpBackend builder): "
              + e,
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while reading RabbitMQ's management API", e);
    }
    int status = response.statusCode();
    if (status == 404) {
      return null;
    }
    if (status == 401) {
      throw new MachineryException(
          "RabbitMQ management API at "
              + base
              + " refused the credentials (HTTP 401); "
              + "the user needs the 'monitoring' or 'management' tag");
    }
    if (status != 200) {
      String text = response.body();
      throw new MachineryException(
          "RabbitMQ management API GET /api/"
              + path
              + ": HTTP "
              + status
              + " "
              + (text.length() > 300 ? text.substring(0, 300) + "…" : text));
    }
    try {
      return JSON.readTree(response.body());
    } catch (IOException e) {
      throw new MachineryException(
          "RabbitMQ management API GET /api/" + path + " answered with unreadable JSON", e);
    }
  }

  private synchronized HttpClient client() {
    if (closed) {
      throw new MachineryException("the AMQP broker is closed");
    }
    if (http == null) {
      http =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .connectTimeout(Duration.ofSeconds(5))
              .build();
    }
    return http;
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (http != null) {
      http.close();
      http = null;
    }
  }

  @Override
  public String toString() {
    return base.toString();
  }
}
